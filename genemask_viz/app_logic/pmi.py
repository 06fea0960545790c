"""The PMI page's logic: counting with progress, filtering a table, a k-mer's motif hits.

Plain-language summaries of the motif statistics live here too, so the page can
say what the correlation shows and what it does not.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError

SCORE_COLUMNS = {"release_score": "GeneMask release score (its norm_dp_true_pmi; not PMI_n)",
                 "genemask_score": "GeneMask score (PMI_n discounted for rare n-grams)",
                 "release_dp_pmi": "release dp.true.pmi (pieces of length <= 2, one normaliser)",
                 "npmi": "NPMI (normalised PMI, -1..1)", "pmi_n": "PMI_n (min over segmentations)",
                 "naive_pmi": "naive PMI (vs single letters)", "count": "count"}


def score_columns(table: pd.DataFrame) -> list[str]:
    """The score columns a table has, its own ranking column first."""
    from ..ngrams.scores import ranking_column
    own = ranking_column(table)
    cols = [c for c in SCORE_COLUMNS if c in table and table[c].notna().any()]
    return sorted(cols, key=lambda c: c != own)


def upload_key(name: str, data: bytes, *settings) -> str:
    """A cache key for an uploaded file: its name, a SHA-1 of its bytes and any settings, so
    two different files with the same name and size never share a table or a comparison."""
    import hashlib
    from pathlib import Path
    parts = [Path(str(name)).name, "sha1:" + hashlib.sha1(data).hexdigest()]
    return " ".join(parts + [str(x) for x in settings])


def count_with_progress(records, max_n: int = 10, min_count: int = 101,
                        progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """The score table of ``records`` (``Record`` objects or ``(name, sequence)``), reporting
    ``progress(fraction, text)`` after each record (counting) and before scoring."""
    from ..ngrams.counting import NgramCounter
    from ..ngrams.scores import score_table
    items = [(r.name, r.sequence) if hasattr(r, "sequence") else tuple(r) for r in records]
    if not items:
        raise GeneMaskInputError("no sequences to count.", fix="upload a FASTA file with sequences.")
    total = sum(len(s) for _, s in items) or 1
    counter, done = NgramCounter(int(max_n)), 0
    for name, seq in items:
        counter.add_sequence(seq)
        done += len(seq)
        if progress:
            progress(0.9 * done / total, f"counted {name} ({done:,} of {total:,} nt)")
    counts = counter.finish()
    if counts.n_bases == 0:
        raise GeneMaskInputError("the sequences hold no A/C/G/T bases.", fix="upload DNA sequences.")
    if progress:
        progress(0.92, "scoring n-grams (PMI, NPMI, GeneMask score)")
    table = score_table(counts, min_count=int(min_count))
    if progress:
        progress(1.0, f"done: {len(table):,} n-grams")
    return table


def scored_lengths(table: pd.DataFrame, column: str | None = None) -> list[int]:
    """n-gram lengths that have at least one scored row (by the table's ranking column)."""
    if column is None:
        from ..ngrams.scores import ranking_column
        column = ranking_column(table)
    sub = table[table[column].notna()]
    return sorted(int(n) for n in sub["n"].unique())


def filter_table(table: pd.DataFrame, n: int | None = None, min_count: int = 0,
                 min_score: float | None = None, top: int = 100,
                 column: str = "genemask_score") -> pd.DataFrame:
    """The ``top`` scored rows of length ``n`` with ``count >= min_count`` and
    ``column >= min_score``, best first."""
    if column not in table:
        raise GeneMaskInputError(f"the table has no column {column!r}.",
                                 fix=f"choose one of {', '.join(c for c in SCORE_COLUMNS if c in table)}.")
    sub = table[table[column].notna()]
    if n is not None:
        sub = sub[sub["n"] == int(n)]
    if min_count and sub["count"].notna().any():
        sub = sub[sub["count"].fillna(0) >= int(min_count)]
    if min_score is not None:
        sub = sub[sub[column] >= float(min_score)]
    return sub.sort_values(column, ascending=False, kind="stable").head(int(top)).reset_index(drop=True)


def kmer_hits(result, kmer: str, top: int = 3) -> pd.DataFrame:
    """Best ``top`` motifs of one k-mer of a :class:`~genemask_viz.motifs.MotifComparison`."""
    kmers = list(result.scores.kmers)
    if kmer not in kmers:
        raise GeneMaskInputError(f"{kmer!r} is not among the compared k-mers.",
                                 fix="pick a k-mer from the table.")
    r = kmers.index(kmer)
    s = result.scores
    best = np.argsort(-s.score[r], kind="stable")[:top]
    return pd.DataFrame({"motif_id": [s.motif_ids[m] for m in best],
                         "motif_name": [s.motif_names[m] for m in best],
                         "score_bits": s.score[r, best].astype(float),
                         "fraction_of_max": s.rel[r, best].astype(float),
                         "offset": s.offset[r, best].astype(int),
                         "strand": np.where(s.strand[r, best] == 1, "+", "-"),
                         "strand_sign": s.strand[r, best].astype(int),
                         "motif_index": best})


def want_comparison(done: list, setting: tuple, pressed: bool, limit: int = 8) -> bool:
    """Whether the page shows the motif comparison for ``setting`` (table, n, top set size).

    ``done`` (kept in the session) lists the settings compared before, most recent last, at
    most ``limit``; pressing the button adds the current one. Changing "Top set size" and
    back shows the stored result again instead of throwing it away.
    """
    if pressed and setting not in done:
        done.append(setting)
    if setting not in done:
        return False
    done.remove(setting)
    done.append(setting)
    del done[:-limit]
    return True


def _fmt_ci(v: dict, key: str = "rho") -> str:
    return f"{v[key]:.3f} [{v['lo']:.3f}, {v['hi']:.3f}]"


def headline(result) -> dict:
    """The key numbers of a comparison (Spearman rho with the best-window match, reverse-
    complement pairs merged, bootstrap intervals over pairs), and one sentence that reads them."""
    from ..motifs.report import headline_numbers
    h = headline_numbers(result)
    pmi = h["rho"]["pmi"]
    diffs = {k.split(" - ")[1]: v for k, v in h["differences"].items() if k.startswith("pmi - ")}
    beaten = [c for c, v in diffs.items() if v["lo"] > 0]
    lost = [c for c, v in diffs.items() if v["hi"] < 0]
    t = result.tidy
    enr = t[(t.motifs == "all") & (t.kmer_set == "rc_merged") & (t.measure == "enrichment_fold")
            & (t.on == "core") & (t.ranking == "pmi")]
    fold = float(enr["value"].iloc[0]) if len(enr) else float("nan")
    fold_p = float(enr["p_bh"].iloc[0]) if len(enr) else float("nan")
    out = {"rho": pmi["rho"], "rho_lo": pmi["lo"], "rho_hi": pmi["hi"], "fold": fold,
           "fold_p_bh": fold_p, "differences": diffs, "beats": beaten, "loses_to": lost}
    n_pairs = int(result.stats["all"]["pmi"]["rc_merged"]["n_kmers"])
    out["sentence"] = (
        f"Across {n_pairs:,} reverse-complement pairs, the PMI ranking correlates with the best "
        f"motif match at Spearman rho = {pmi['rho']:.2f} (95% bootstrap interval {pmi['lo']:.2f} "
        f"to {pmi['hi']:.2f}). Its top {max(1, result.top // 2)} pairs match a motif core "
        f"{fold:.2f} times as often as all pairs (BH-adjusted p = {fold_p:.1g}). PMI is "
        f"better than {', '.join(beaten) or 'no control'}"
        + (f" and worse than {', '.join(lost)}" if lost else "")
        + f"; level with the rest (intervals of the differences contain 0).")
    return out


def differences_table(result, kmer_set: str = "rc_merged", motifs: str = "all") -> pd.DataFrame:
    """Every PMI-vs-control difference of rho with its interval, both match scores."""
    b = result.bootstrap
    b = b[(b.motifs == motifs) & (b.kmer_set == kmer_set) & (b.versus != "")]
    return pd.DataFrame({"ranking": b["ranking"], "versus": b["versus"], "match": b["on"],
                         "rho difference": b["estimate"].round(3), "95% interval":
                         [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(b["lo"], b["hi"])],
                         "p (bootstrap SE)": b["p"], "p (BH)": b["p_bh"]}).reset_index(drop=True)


def groups_table(result) -> pd.DataFrame:
    """The grouped top k-mers and their best Tomtom hit, for display."""
    g = result.groups
    return g[["group", "consensus", "n_kmers", "best_motif_id", "best_motif_name", "p", "E", "q"]]


def task_kmer_summary(result, motifs: pd.DataFrame, reps: int = 200, seed: int = 0) -> dict:
    """Do top PMI k-mers match a task's enriched motifs more than chance and than frequency?

    ``motifs``: :func:`genemask_viz.motifs.tasks.fisher_enrichment` output. Spearman rho of every
    ranking with the best-window match over the enriched motifs (RC pairs, bootstrap), and the
    top set's mean match against random motif sets of the same size."""
    from ..motifs import bootstrap as bs
    from ..motifs import stats as mst
    from ..motifs.report import _merged
    from ..motifs.tasks import motif_set_null
    chosen = np.zeros(len(result.mset), bool)
    chosen[motifs.loc[motifs["enriched"], "motif_index"].to_numpy(int)] = True
    if not chosen.any():
        return {"n_enriched": 0}
    matches = mst.match_table(result.scores, chosen)
    merged, mm = _merged(result.kmers, result.rankings, matches)
    boot = bs.bootstrap_table(merged, mm["best_rel"].to_numpy(), None, ("pmi", "pmi_exact"),
                              reps, seed)
    top = max(1, result.top)
    chance = {r: motif_set_null(result.scores.best_rel, chosen, np.argsort(-v, kind="stable")[:top],
                                null_sets=reps, seed=seed) for r, v in result.rankings.items()}
    return {"n_enriched": int(chosen.sum()), "bootstrap": boot, "chance": pd.DataFrame(chance).T}
