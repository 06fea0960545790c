"""The whole comparison of a PMI table with a motif library, and its files on disk.

``compare_table`` scores the table's k-mers of one length against every motif
(both strands), computes the statistics of the PMI ranking and of the controls
(frequency, naive PMI, a seeded random ranking; all k-mers and
reverse-complement pairs; all motifs and without repeat-derived motifs), the
best motifs of every top k-mer and the consensus motifs of the grouped top
k-mers. ``write_report`` writes ``matches.csv``, ``top_hits.csv``,
``stats.csv``, ``groups.csv``, ``summary.json`` and ``logos/*.png``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError
from ..jsonsafe import json_safe
from . import stats as st
from .library import DEFAULT_RELEASE, MotifSet, motif_set, resolve_motifs
from .scoring import KmerScores, score_kmers
from .similarity import best_matches, group_kmers

PMI_COLUMN = "genemask_score"
CONTROLS = {"frequency": "count", "naive_pmi": "naive_pmi"}
PRIMARY = ("kmers", "spearman", "core_rel")


@dataclass
class MotifComparison:
    kmers: np.ndarray
    rankings: dict[str, np.ndarray]
    matches: pd.DataFrame             # one row per k-mer, ranked by PMI
    top_hits: pd.DataFrame            # best motifs of each top k-mer
    stats: dict
    tidy: pd.DataFrame
    verdict: pd.DataFrame
    groups: pd.DataFrame
    scores: KmerScores = field(repr=False)
    mset: MotifSet = field(repr=False)
    top: int = 100
    source: str = ""


def _rankings(table: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    out = {"pmi": table[PMI_COLUMN].to_numpy(float)}
    for name, col in CONTROLS.items():
        if col in table and table[col].notna().any():
            out[name] = table[col].to_numpy(float)
    out["random"] = np.random.default_rng(seed).permutation(len(table)).astype(float)
    return out


def _top_hits(scores: KmerScores, rows: np.ndarray, per_kmer: int) -> pd.DataFrame:
    out = []
    for rank, r in enumerate(rows, start=1):
        best = np.argsort(-scores.score[r], kind="stable")[:per_kmer]
        for j, m in enumerate(best, start=1):
            out.append({"pmi_rank": rank, "kmer": scores.kmers[r], "hit": j,
                        "motif_id": scores.motif_ids[m], "motif_name": scores.motif_names[m],
                        "score_bits": float(scores.score[r, m]), "offset": int(scores.offset[r, m]),
                        "strand": "+" if scores.strand[r, m] == 1 else "-",
                        "rel": float(scores.rel[r, m]), "core_rel": float(scores.core_rel[r, m]),
                        "p_match": None if scores.pass_p is None else bool(scores.pass_p[r, m])})
    return pd.DataFrame(out)


def _groups(kmers, weights, mset: MotifSet, max_groups: int) -> pd.DataFrame:
    rows = []
    for i, g in enumerate(group_kmers(kmers, weights)[:max_groups], start=1):
        hit = best_matches(g.probs, mset, top=1).iloc[0]
        rows.append({"group": i, "consensus": g.consensus, "n_kmers": len(g.kmers),
                     "kmers": " ".join(g.kmers), "best_motif_id": hit.motif_id,
                     "best_motif_name": hit.motif_name, "sum_pcc": hit.score,
                     "mean_pcc": hit.mean_pcc, "offset": int(hit.offset),
                     "strand": "+" if hit.strand == 1 else "-"})
    return pd.DataFrame(rows)


GENEMASK_K = 6  # the GeneMask token length


def default_n(table: pd.DataFrame) -> int:
    """The k-mer length compared when none is given: 6 (the GeneMask token length) when the
    table has scored 6-mers, else the scored length with the most rows (the smallest on ties)."""
    scored = table.loc[table[PMI_COLUMN].notna(), "n"].astype(int)
    if not len(scored) or (scored == GENEMASK_K).any():
        return GENEMASK_K
    return int(scored.mode().min())


def compare_table(table: pd.DataFrame, motifs=DEFAULT_RELEASE,
                  top: int = 100, n: int | None = None, fpr: float = 0.01, seed: int = 0,
                  hits_per_kmer: int = 3, max_groups: int = 15, source: str = "") -> MotifComparison:
    """Compare a PMI table (``genemask_viz.ngrams`` shape) with a motif library.

    ``motifs``: a JASPAR release name, a JASPAR/MEME file, or a list of
    Biopython motifs. ``n``: the n-gram length to use (default: 6, the GeneMask
    token length, when the table has scored 6-mers, else the scored length with the
    most rows; see :func:`default_n`). ``top``: size of the top set for
    enrichment (the reverse-complement-merged statistics use ``top // 2`` pairs).
    """
    missing = {"ngram", "n", PMI_COLUMN} - set(table.columns)
    if missing:
        raise GeneMaskInputError(f"table lacks columns {sorted(missing)}.", source=source or None,
                                 fix="load it with genemask_viz.ngrams.load_table.")
    n = default_n(table) if n is None else int(n)
    sub = table[(table["n"] == n) & table[PMI_COLUMN].notna()]
    if len(sub) < max(top, 10):
        raise GeneMaskInputError(f"only {len(sub)} scored {n}-grams, fewer than --top {top}.",
                                 source=source or None, fix="lower --top or use a larger table.")
    sub = sub.sort_values(PMI_COLUMN, ascending=False, kind="stable").reset_index(drop=True)
    mset = motif_set(resolve_motifs(motifs))
    kmers = sub["ngram"].astype(str).str.upper().to_numpy()
    scores = score_kmers(kmers, mset, fpr=fpr)
    rankings = _rankings(sub, seed)
    by_motifs = {"all": st.match_table(scores)}
    if mset.repeat_derived.any():
        by_motifs["no_repeat"] = st.match_table(scores, ~mset.repeat_derived)
    stats = {name: st.compare_rankings(kmers, rankings, m, top) for name, m in by_motifs.items()}
    tidy = st.flatten(stats)
    matches = by_motifs["all"].copy()
    matches.insert(0, "pmi_rank", np.arange(1, len(matches) + 1))
    for col in ("count", PMI_COLUMN, "naive_pmi"):
        if col in sub:
            matches[col] = sub[col].to_numpy()
    matches["repeat_derived_best"] = np.isin(matches["best_motif"],
                                             np.asarray(mset.ids)[mset.repeat_derived])
    weights = sub["count"].to_numpy(float)[:top] if "count" in sub else None
    return MotifComparison(kmers, rankings, matches, _top_hits(scores, np.arange(top), hits_per_kmer),
                           stats, tidy, st.verdict(tidy), _groups(kmers[:top], weights, mset, max_groups),
                           scores, mset, top, source)


def summary(result: MotifComparison) -> dict:
    """JSON-ready summary: base rates, the statistics, and what PMI beats."""
    m = result.matches
    defs = st.definitions(m)
    v = result.verdict
    prim = v[(v.kmer_set == PRIMARY[0]) & (v.measure == PRIMARY[1]) & (v.on == PRIMARY[2])
             & (v.motifs == "all")]
    return {
        "source": result.source, "n_kmers": int(len(m)), "n_motifs": len(result.mset),
        "n_repeat_derived_motifs": int(result.mset.repeat_derived.sum()), "top": result.top,
        "p_match_fpr_per_motif": result.scores.fpr,
        "p_match_all_fpr_per_motif": getattr(result.scores, "fpr_all", None),
        "base_rates": {d: float(m[d].mean()) for d in defs},
        "top_rates": {d: float(m[d].head(result.top).mean()) for d in defs},
        "statistics": result.stats,
        "pmi_beats": {r.control: bool(r.beats) for r in prim.itertuples()},
        "pmi_beats_rule": "Spearman rho(PMI, core-window match) significant (p<0.05), positive "
                          "and larger than the control's, all k-mers, all motifs",
        "pmi_beats_share": {c: float(g["beats"].mean()) for c, g in v.groupby("control")},
    }


def write_report(result: MotifComparison, out_dir: str | os.PathLike, logos: int = 10) -> Path:
    """Write the comparison's files (module doc) under ``out_dir``; returns it."""
    from .logos import match_logo, ranking_figure
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    (out / "logos").mkdir(parents=True, exist_ok=True)
    result.matches.to_csv(out / "matches.csv", index=False)
    result.top_hits.to_csv(out / "top_hits.csv", index=False)
    result.tidy.to_csv(out / "stats.csv", index=False)
    result.verdict.to_csv(out / "verdict.csv", index=False)
    result.groups.to_csv(out / "groups.csv", index=False)
    with open(out / "summary.json", "w") as fh:
        json.dump(json_safe(summary(result)), fh, indent=2, default=float, allow_nan=False)
    ids = list(result.mset.ids)
    for row in result.matches.head(logos).itertuples():
        mi = ids.index(row.best_motif)
        fig = match_logo(row.kmer, result.mset.probs[mi], int(row.offset), int(row.strand),
                         query_label=f"PMI rank {row.pmi_rank}: {row.kmer}",
                         motif_label=f"{row.best_motif} {row.best_motif_name}")
        fig.savefig(out / "logos" / f"{row.pmi_rank:03d}_{row.kmer}.png", dpi=80)
        plt.close(fig)
    fig = ranking_figure(result.rankings, result.matches["core_rel"].to_numpy())
    fig.savefig(out / "rankings.png", dpi=80)
    plt.close(fig)
    return out
