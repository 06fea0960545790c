"""The whole comparison of a PMI table with a motif library, and its files on disk.

``compare_table`` scores the table's k-mers of one length against every motif
(both strands), computes the statistics of the PMI ranking(s) and of the controls
(frequency, naive PMI, a seeded random ranking; reverse-complement pairs and
all k-mers; all motifs and without repeat-derived motifs), bootstrap intervals
over reverse-complement pairs for every ranking and every difference
(:mod:`.bootstrap`; ``best_rel`` primary, ``core_rel`` the sensitivity check),
Benjamini-Hochberg adjusted p-values over the whole reported family, Tomtom p/E/q-values of
the grouped top k-mers against the library (:mod:`.tomtom`), and, given task
folders, the discriminative motif test on task sequences (:mod:`.tasks`).

Rankings: ``pmi`` is the table's own GeneMask ranking (its declared scoring:
exact, or the release's); for a release table ``pmi_exact`` is the exact PMI_n
GeneMask score recomputed from its counts (:mod:`.rankings`), side by side.

``write_report`` writes ``matches.csv``, ``top_hits.csv``, ``stats.csv``,
``bootstrap.csv``, ``verdict.csv``, ``groups.csv``, ``tomtom_hits.csv``,
``task_motifs.csv`` (with tasks), ``summary.json`` and ``logos/*.png``; given the sequences the
table was counted from, each group is also extended from its sites (:mod:`.extend`): columns
``ext_*`` of ``groups.csv``, ``tomtom_hits_extended.csv`` and ``logos/extended_*.png``.
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
from . import bootstrap as bs
from . import stats as st
from .library import DEFAULT_RELEASE, MotifSet, motif_set, resolve_motifs
from .rankings import exact_scores, ranking_column, ranking_names, table_scoring
from .scoring import KmerScores, score_kmers
from .similarity import group_kmers
from .tomtom import best_hits, counts_to_probs, tomtom_matrix

CONTROLS = {"frequency": "count", "naive_pmi": "naive_pmi"}
SUBJECTS = ("pmi", "pmi_exact")
PRIMARY = ("rc_merged", "best_rel")       # kmer set and match score of the headline
SENSITIVITY = ("rc_merged", "core_rel")
GENEMASK_K = 6  # the GeneMask token length


@dataclass
class MotifComparison:
    kmers: np.ndarray
    rankings: dict[str, np.ndarray]
    matches: pd.DataFrame             # one row per k-mer, ranked by PMI
    top_hits: pd.DataFrame            # best motifs of each top k-mer
    stats: dict
    tidy: pd.DataFrame                # every statistic, with p and BH-adjusted p (p_bh)
    verdict: pd.DataFrame             # subject vs control: bootstrap difference and its interval
    groups: pd.DataFrame              # grouped top k-mers and their best Tomtom hit
    scores: KmerScores = field(repr=False)
    mset: MotifSet = field(repr=False)
    top: int = 100
    source: str = ""
    bootstrap: pd.DataFrame = field(default_factory=pd.DataFrame)
    tomtom_hits: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_objects: list = field(default_factory=list, repr=False)
    ranking_names: dict = field(default_factory=dict)
    tasks: dict = field(default_factory=dict)     # name -> {"motifs": DataFrame, "facts": dict}
    reps: int = bs.DEFAULT_REPS
    extended: list = field(default_factory=list, repr=False)   # extend.ExtendedGroup per group
    extended_hits: pd.DataFrame = field(default_factory=pd.DataFrame)
    extension: dict = field(default_factory=dict)               # settings; empty: not run


def _rankings(table: pd.DataFrame, sub: pd.DataFrame, col: str, n: int, seed: int):
    scoring = table_scoring(table)
    own, exact_name = ranking_names(table)
    out = {"pmi": sub[col].to_numpy(float)}
    names = {"pmi": f"{own} (scoring {scoring}, column {col})"}
    if scoring == "release":
        exact = exact_scores(table, sub["ngram"].str.upper(), n)
        if exact is not None and np.isfinite(exact).all():
            out["pmi_exact"] = exact
            names["pmi_exact"] = exact_name
    for name, c in CONTROLS.items():
        if c in sub and sub[c].notna().any():
            out[name] = sub[c].to_numpy(float)
    names.update(frequency="raw count", naive_pmi="naive PMI (vs single letters)",
                 random="seeded random permutation")
    out["random"] = np.random.default_rng(seed).permutation(len(sub)).astype(float)
    return out, {k: v for k, v in names.items() if k in out}


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


def tomtom_groups(kmers, mset: MotifSet, n: int, hits: int = 3):
    """Group the top k-mers (:func:`group_kmers`, one vote per k-mer) and compare every group's
    matrix with the library by Tomtom. Returns (groups table, hits table, group objects)."""
    groups = group_kmers(kmers, max_shift=max(2, n // 2 - 1))
    res = tomtom_matrix([counts_to_probs(g.counts) for g in groups], mset)
    hit = best_hits(res, mset, top=hits)
    hit.insert(0, "group", hit.pop("query") + 1)
    rows = []
    for i, g in enumerate(groups, start=1):
        b = hit[(hit.group == i) & (hit.hit == 1)].iloc[0]
        rows.append({"group": i, "consensus": g.consensus, "width": len(g.counts),
                     "n_kmers": len(g.kmers), "kmers": " ".join(g.kmers),
                     "best_motif_id": b.motif_id, "best_motif_name": b.motif_name,
                     "p": b.p, "E": b.E, "q": b.q, "offset": b.offset, "overlap": b.overlap,
                     "strand": b.strand, "significant_q05": bool(b.q < 0.05)})
    return pd.DataFrame(rows), hit, groups


def _merged(kmers, rankings, matches):
    """RC-merged ranking values (same row order for every ranking) and match table."""
    merged = {}
    for name, score in rankings.items():
        merged[name], m = st._merge_rc(kmers, score, matches)
    return merged, m


def _bootstrap(kmers, rankings, by_motifs, reps, seed) -> pd.DataFrame:
    pairs = bs.pair_index(st.canonical(kmers))
    frames = []
    for motifs, matches in by_motifs.items():
        merged, mm = _merged(kmers, rankings, matches)
        for kset, ranks, mt, pr in (("rc_merged", merged, mm, None),
                                    ("kmers", rankings, matches, pairs)):
            for on in ("best_rel", "core_rel"):
                f = bs.bootstrap_table(ranks, mt[on].to_numpy(), pr, SUBJECTS, reps, seed)
                frames.append(f.assign(motifs=motifs, kmer_set=kset, on=on))
    cols = ["motifs", "kmer_set", "on", "ranking", "versus", "estimate", "lo", "hi", "p", "reps"]
    return pd.concat(frames, ignore_index=True)[cols]


def default_n(table: pd.DataFrame, column: str | None = None) -> int:
    """The k-mer length compared when none is given: 6 (the GeneMask token length) when the
    table has scored 6-mers, else the scored length with the most rows (the smallest on ties)."""
    column = column or ranking_column(table)
    scored = table.loc[table[column].notna(), "n"].astype(int)
    if not len(scored) or (scored == GENEMASK_K).any():
        return GENEMASK_K
    return int(scored.mode().min())


def ranked_kmers(table: pd.DataFrame, n: int | None = None) -> np.ndarray:
    """The scored n-grams of ``table`` in the order :func:`compare_table` ranks them."""
    col = ranking_column(table)
    n = default_n(table, col) if n is None else int(n)
    sub = table[(table["n"] == n) & table[col].notna()]
    sub = sub.sort_values([col, "ngram"], ascending=[False, True], kind="stable")
    return sub["ngram"].astype(str).str.upper().to_numpy()


def compare_table(table: pd.DataFrame, motifs=DEFAULT_RELEASE,
                  top: int = 100, n: int | None = None, fpr: float = 0.01, seed: int = 0,
                  hits_per_kmer: int = 3, source: str = "", reps: int = bs.DEFAULT_REPS,
                  tasks: dict | None = None, scores: KmerScores | None = None,
                  fimo_threshold: float = 1e-4, group_n: int | None = None, sequences=None,
                  flank: int = 8, min_support: int = 1) -> MotifComparison:
    """Compare a PMI table (``genemask_viz.ngrams`` shape) with a motif library.

    ``motifs``: a JASPAR release name, a JASPAR/MEME file, or a list of
    Biopython motifs. ``n``: the n-gram length to use (default: 6, the GeneMask
    token length, when the table has scored 6-mers, else the scored length with the
    most rows; see :func:`default_n`). ``top``: size of the top set for
    enrichment and Tomtom groups (the reverse-complement-merged statistics use
    ``top // 2`` pairs). ``reps``: bootstrap replicates. ``tasks``: {name: few-shot
    task folder} for the discriminative test. ``scores``: reuse a previous
    :func:`score_kmers` result of the same k-mers in ranking order (the app does).
    ``group_n``: length of the top n-grams grouped for Tomtom (default ``n``).
    ``sequences``: the records the table was counted from; when given, every group is also
    extended from its sites with ``flank`` bases either side (:mod:`.extend`,
    ``min_support`` member words per site) and compared by Tomtom.
    """
    col = ranking_column(table)
    missing = {"ngram", "n", col} - set(table.columns)
    if missing:
        raise GeneMaskInputError(f"table lacks columns {sorted(missing)}.", source=source or None,
                                 fix="load it with genemask_viz.ngrams.load_table.")
    n = default_n(table, col) if n is None else int(n)
    sub = table[(table["n"] == n) & table[col].notna()]
    if len(sub) < max(top, 10):
        raise GeneMaskInputError(f"only {len(sub)} scored {n}-grams, fewer than --top {top}.",
                                 source=source or None, fix="lower --top or use a larger table.")
    sub = sub.sort_values([col, "ngram"], ascending=[False, True], kind="stable").reset_index(drop=True)
    kmers = sub["ngram"].astype(str).str.upper().to_numpy()
    mset = motif_set(resolve_motifs(motifs))
    if scores is None or list(scores.kmers) != list(kmers) or list(scores.motif_ids) != list(mset.ids):
        scores = score_kmers(kmers, mset, fpr=fpr)
    rankings, names = _rankings(table, sub, col, n, seed)
    by_motifs = {"all": st.match_table(scores)}
    if mset.repeat_derived.any():
        by_motifs["no_repeat"] = st.match_table(scores, ~mset.repeat_derived)
    task_out = {}
    for name, folder in (tasks or {}).items():
        from .tasks import task_enrichment
        table_m, facts = task_enrichment(folder, mset, fimo_threshold)
        task_out[name] = {"motifs": table_m, "facts": facts}
        for suffix, flag in (("", "enriched"), (":gc", "enriched_gc")):
            chosen = np.zeros(len(mset), bool)
            chosen[table_m.loc[table_m[flag], "motif_index"].to_numpy(int)] = True
            if chosen.any():
                by_motifs[f"task:{name}{suffix}"] = st.match_table(scores, chosen)
    stats = {name: st.compare_rankings(kmers, rankings, m, top) for name, m in by_motifs.items()}
    boot = _bootstrap(kmers, rankings, by_motifs, reps, seed)
    fam = bs.correct_family({"tidy": st.flatten(stats), "boot": boot})
    tidy, boot = fam["tidy"], fam["boot"]
    for name, t in task_out.items():
        from .tasks import motif_set_null
        for suffix, flag in (("", "enriched"), ("_gc", "enriched_gc")):
            chosen = np.zeros(len(mset), bool)
            chosen[t["motifs"].loc[t["motifs"][flag], "motif_index"].to_numpy(int)] = True
            if chosen.any():
                t["chance" + suffix] = {r: motif_set_null(scores.best_rel, chosen,
                                                          np.argsort(-v, kind="stable")[:top], seed=seed)
                                        for r, v in rankings.items()}
    matches = by_motifs["all"].copy()
    matches.insert(0, "pmi_rank", np.arange(1, len(matches) + 1))
    for c in ("count", col, "naive_pmi"):
        if c in sub:
            matches[c] = sub[c].to_numpy()
    if "pmi_exact" in rankings:
        matches["genemask_score_exact"] = rankings["pmi_exact"]
    matches["repeat_derived_best"] = np.isin(matches["best_motif"],
                                             np.asarray(mset.ids)[mset.repeat_derived])
    group_n = n if group_n is None else int(group_n)
    gk = kmers[:top] if group_n == n else ranked_kmers(table, group_n)[:top]
    if len(gk) < 1:
        raise GeneMaskInputError(f"no scored {group_n}-grams to group for Tomtom.",
                                 source=source or None, fix="choose a scored length.")
    groups, hits, gobj = tomtom_groups(gk, mset, group_n)
    ext_cols, ext_hits, ext, extension = None, pd.DataFrame(), [], {}
    if sequences is not None:
        from .extend import MIN_IC, extended_tomtom
        ext_cols, ext_hits, ext = extended_tomtom(gobj, sequences, mset, flank, MIN_IC, min_support)
        groups = pd.concat([groups, ext_cols], axis=1)
        extension = {"flank": int(flank), "min_ic_bits": MIN_IC, "min_support": int(min_support)}
    groups.attrs["n"] = group_n
    return MotifComparison(kmers, rankings, matches, _top_hits(scores, np.arange(top), hits_per_kmer),
                           stats, tidy, verdict(boot), groups, scores, mset, top, source, boot,
                           hits, gobj, names, task_out, reps, ext, ext_hits, extension)


def verdict(boot: pd.DataFrame) -> pd.DataFrame:
    """Subject vs control from the bootstrap: ``beats`` when the difference's interval lies
    above 0, ``loses`` when below, else level."""
    d = boot[boot["versus"] != ""].rename(columns={"ranking": "subject", "versus": "control",
                                                  "estimate": "difference"})
    return d.assign(beats=d["lo"] > 0, loses=d["hi"] < 0).reset_index(drop=True)


def headline_numbers(result: MotifComparison, kmer_set: str = PRIMARY[0], on: str = PRIMARY[1],
                     motifs: str = "all") -> dict:
    """rho [interval] of every ranking and every subject-vs-control difference, one setting."""
    b = result.bootstrap
    b = b[(b.motifs == motifs) & (b.kmer_set == kmer_set) & (b.on == on)]
    rho = {r.ranking: {"rho": r.estimate, "lo": r.lo, "hi": r.hi}
           for r in b[b.versus == ""].itertuples()}
    diff = {f"{r.ranking} - {r.versus}": {"difference": r.estimate, "lo": r.lo, "hi": r.hi,
                                          "p_boot": r.p, "p_bh": r.p_bh}
            for r in b[b.versus != ""].itertuples()}
    return {"motifs": motifs, "kmer_set": kmer_set, "on": on, "rho": rho, "differences": diff}


def summary(result: MotifComparison) -> dict:
    """JSON-ready summary: base rates, the statistics, bootstrap intervals, Tomtom groups, tasks."""
    m = result.matches
    defs = st.definitions(m)
    v = result.verdict
    prim = v[(v.motifs == "all") & (v.kmer_set == PRIMARY[0]) & (v.on == PRIMARY[1])]
    g = result.groups
    out = {
        "source": result.source, "n_kmers": int(len(m)), "n_motifs": len(result.mset),
        "n_repeat_derived_motifs": int(result.mset.repeat_derived.sum()), "top": result.top,
        "rankings": result.ranking_names,
        "p_match_fpr_per_motif": result.scores.fpr,
        "p_match_all_fpr_per_motif": getattr(result.scores, "fpr_all", None),
        "base_rates": {d: float(m[d].mean()) for d in defs},
        "top_rates": {d: float(m[d].head(result.top).mean()) for d in defs},
        "headline": headline_numbers(result),
        "sensitivity_core_rel": headline_numbers(result, *SENSITIVITY),
        "all_kmers_best_rel": headline_numbers(result, "kmers", "best_rel"),
        "bootstrap": {"reps": result.reps, "level": bs.DEFAULT_LEVEL,
                      "unit": "reverse-complement pair", "interval": "percentile"},
        "correction": "Benjamini-Hochberg over every p-value in stats.csv and bootstrap.csv "
                      "together (column p_bh); Tomtom q and task-motif q are Benjamini-Hochberg "
                      "within a query / a task",
        "statistics": result.stats,
        "pmi_beats": {r.control: bool(r.beats) for r in prim.itertuples() if r.subject == "pmi"},
        "pmi_loses_to": {r.control: bool(r.loses) for r in prim.itertuples() if r.subject == "pmi"},
        "pmi_beats_rule": "bootstrap 95% interval of rho(PMI) - rho(control) above 0; Spearman "
                          "with best_rel, reverse-complement pairs merged, all motifs",
        "tomtom": {"n": int(g.attrs.get("n", 0)) or None, "top": result.top, "n_groups": int(len(g)), "significant_q05": int(g["significant_q05"].sum()),
                   "groups": g.drop(columns=["kmers"]).to_dict("records"),
                   "headline_matrix": "k-mer votes (p, E, q): what the ranking alone holds",
                   "extended": dict(result.extension, matrix="sites of the group's k-mers with "
                                    "flanks, trimmed by information content (ext_* columns)",
                                    significant_q05=int(g["ext_significant_q05"].sum()))
                   if result.extension else None},
    }
    if result.tasks:
        out["tasks"] = {}
        for name, t in result.tasks.items():
            mt = t["motifs"]
            out["tasks"][name] = dict(t["facts"], top_enriched=mt.head(10).drop(
                columns=["motif_index"]).to_dict("records"), chance=t.get("chance", {}),
                chance_gc_stratified=t.get("chance_gc", {}),
                kmers=headline_numbers(result, "rc_merged", "best_rel", f"task:{name}")
                if f"task:{name}" in result.stats else None,
                kmers_gc_stratified=headline_numbers(result, "rc_merged", "best_rel", f"task:{name}:gc")
                if f"task:{name}:gc" in result.stats else None)
    return out


def write_report(result: MotifComparison, out_dir: str | os.PathLike, logos: int = 10) -> Path:
    """Write the comparison's files (module doc) under ``out_dir``; returns it."""
    from .logos import match_logo, ranking_figure
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    (out / "logos").mkdir(parents=True, exist_ok=True)
    result.matches.to_csv(out / "matches.csv", index=False)
    result.top_hits.to_csv(out / "top_hits.csv", index=False)
    result.tidy.to_csv(out / "stats.csv", index=False)
    result.bootstrap.to_csv(out / "bootstrap.csv", index=False)
    result.verdict.to_csv(out / "verdict.csv", index=False)
    result.groups.to_csv(out / "groups.csv", index=False)
    result.tomtom_hits.to_csv(out / "tomtom_hits.csv", index=False)
    if result.extension:
        result.extended_hits.to_csv(out / "tomtom_hits_extended.csv", index=False)
    if result.tasks:
        pd.concat([t["motifs"].assign(task=k) for k, t in result.tasks.items()],
                  ignore_index=True).to_csv(out / "task_motifs.csv", index=False)
    tmp = out / ".summary.json.tmp"
    with open(tmp, "w") as fh:
        json.dump(json_safe(summary(result)), fh, indent=2, default=float, allow_nan=False)
    os.replace(tmp, out / "summary.json")
    ids = list(result.mset.ids)
    for row in result.matches.head(logos).itertuples():
        mi = ids.index(row.best_motif)
        fig = match_logo(row.kmer, result.mset.probs[mi], int(row.offset), int(row.strand),
                         query_label=f"PMI rank {row.pmi_rank}: {row.kmer}",
                         motif_label=f"{row.best_motif} {row.best_motif_name}")
        fig.savefig(out / "logos" / f"{row.pmi_rank:03d}_{row.kmer}.png", dpi=80)
        plt.close(fig)
    for row in list(result.groups.itertuples())[:logos]:
        fig = group_logo(result, row.group)
        fig.savefig(out / "logos" / f"group_{row.group:02d}_{row.consensus}.png", dpi=80)
        plt.close(fig)
        if result.extension and row.ext_sites:
            fig = group_logo(result, row.group, extended=True)
            fig.savefig(out / "logos" / f"extended_{row.group:02d}_{row.ext_consensus}.png", dpi=80)
            plt.close(fig)
    fig = ranking_figure(result.rankings, result.matches["best_rel"].to_numpy(),
                         label="best JASPAR match (best window, fraction of max)")
    fig.savefig(out / "rankings.png", dpi=80)
    plt.close(fig)
    return out


def group_logo(result: MotifComparison, group: int, hit: int = 1, extended: bool = False):
    """Logo of a k-mer group's matrix (``extended``: its extended matrix) beside its
    ``hit``-th Tomtom match (aligned)."""
    from .logos import match_logo
    from .tomtom import logo_offset
    g = result.group_objects[group - 1]
    hits = result.extended_hits if extended else result.tomtom_hits
    h = hits[(hits.group == group) & (hits.hit == hit)].iloc[0]
    probs = result.mset.probs[int(h.motif_index)]
    counts = result.extended[group - 1].counts if extended else g.counts
    off, strand = logo_offset(len(counts), len(probs), int(h.offset), 0 if h.strand == "+" else 1)
    label = (f"group {group} extended: {result.extended[group - 1].n_sites:,} sites" if extended
             else f"group {group}: {g.consensus} ({len(g.kmers)} k-mers)")
    return match_logo(counts_to_probs(counts), probs, off, strand, query_label=label,
                      motif_label=f"{h.motif_id} {h.motif_name}  Tomtom p={h.p:.2g} q={h.q:.2g}")
