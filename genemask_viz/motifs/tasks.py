"""The discriminative motif test on a task's sequences, and whether top PMI k-mers match
the motifs it finds.

The paper's evidence was motif discovery in task sequences (rGADEM). The
standard test instead:

1. Sequences: every labelled file of a few-shot task folder (DNABERT TSVs,
   k-mer text decoded to nucleotides by :func:`genemask_viz.sequences.read_labelled`),
   pooled, duplicates dropped (a sequence seen with both labels is dropped).
   Label 1 = positive (promoter, enhancer), 0 = negative.
2. Scan: every JASPAR motif on both strands by memelite's FIMO at a fixed
   p-value threshold (default 1e-4, FIMO's), with the motif's JASPAR-pseudocount
   probabilities (:class:`MotifSet.probs`). A sequence *has* a motif when it has
   at least one hit.
3. Per motif, the 2x2 table (positives / negatives with / without a hit) and
   Fisher's exact test, one-sided for enrichment in positives
   (``scipy.stats.fisher_exact(alternative="greater")``), Benjamini-Hochberg
   across the motifs of the library (``q``). Enriched: q < 0.05.
   GC sensitivity: positives of both tasks are GC-richer than negatives, and GC-rich
   motifs (SP/KLF) gain hits from that alone. ``p_gc`` / ``q_gc`` repeat the test
   stratified by the sequence's GC fraction (``GC_STRATA`` quantile bins;
   Cochran-Mantel-Haenszel, one-sided, continuity-corrected), so a motif enriched
   only because positives are GC-richer loses its q; ``enriched_gc``: q_gc < 0.05.
4. k-mers: the match table restricted to the enriched motifs (a k-mer's best
   window-normalised score over them, ``best_rel`` / ``core_rel``) is compared
   with each ranking exactly as for the whole library (Spearman, enrichment of
   the top set, bootstrap over reverse-complement pairs), and against chance
   from the motif side: ``null_sets`` random motif sets of the same size give
   the distribution of the top set's mean ``best_rel`` under "these motifs are
   nothing special" (empirical p with the +1 rule).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..errors import GeneMaskInputError
from .library import MotifSet
from .tomtom import bh

DEFAULT_TASKS = ("Prom-core", "Cohn-enh")
DEFAULT_THRESHOLD = 1e-4
ENRICHED_Q = 0.05
GC_STRATA = 5


def load_task_sequences(folder: str | Path) -> pd.DataFrame:
    """``sequence, label`` of every labelled file under ``folder`` (module doc, step 1)."""
    from ..sequences import read_labelled
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".tsv", ".csv"))
    if not files:
        raise GeneMaskInputError("holds no labelled .tsv/.csv files.", source=folder,
                                 fix="give a few-shot task folder such as .../fewshot/Prom-core.")
    frame = pd.concat([read_labelled(p)[["sequence", "label"]] for p in files], ignore_index=True)
    frame["sequence"] = frame["sequence"].str.upper()
    labels = frame.groupby("sequence")["label"].nunique()
    frame = frame[~frame["sequence"].isin(labels.index[labels > 1])]
    frame = frame.drop_duplicates("sequence").reset_index(drop=True)
    if set(frame["label"].unique()) != {0, 1}:
        raise GeneMaskInputError(f"labels are {sorted(frame['label'].unique())}; the test needs "
                                 "positives (1) and negatives (0).", source=folder,
                                 fix="use a binary task (Prom-core, Cohn-enh).")
    return frame


def one_hot(sequences) -> np.ndarray:
    """(N, 4, L) int8 one-hot (A, C, G, T) of equal-length sequences; other letters are zero."""
    seqs = list(sequences)
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1:
        raise GeneMaskInputError(f"sequences have {len(lengths)} different lengths; the scan "
                                 "takes one length per task.", fix="use one task's sequences.")
    raw = np.frombuffer("".join(seqs).encode("ascii"), np.uint8).reshape(len(seqs), -1)
    out = np.zeros((len(seqs), 4, raw.shape[1]), np.int8)
    for i, b in enumerate(b"ACGT"):
        out[:, i, :] = raw == b
    return out


def scan_presence(sequences, mset: MotifSet, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """(N, M) bool: sequence i has a FIMO hit of motif j (either strand) at p < threshold."""
    from memelite import fimo
    x = one_hot(sequences)
    motifs = {str(j): np.ascontiguousarray(p.T) for j, p in enumerate(mset.probs)}
    hits = fimo(motifs, x, threshold=threshold, reverse_complement=True)
    present = np.zeros((len(x), len(mset)), bool)
    for frame in hits:
        if len(frame):
            j = frame["motif_name"].astype(str).str.removesuffix("-rc").astype(int).to_numpy()
            present[frame["sequence_name"].astype(int).to_numpy(), j] = True
    return present


def fisher_enrichment(present: np.ndarray, labels, mset: MotifSet, strata=None) -> pd.DataFrame:
    """Per motif: counts, odds ratio, one-sided Fisher p and BH q (module doc, step 3); with
    ``strata`` (e.g. :func:`gc_strata`) also the stratified ``p_gc``, ``q_gc``, ``enriched_gc``."""
    labels = np.asarray(labels)
    pos, neg = labels == 1, labels == 0
    a = present[pos].sum(axis=0)
    c = present[neg].sum(axis=0)
    b, d = pos.sum() - a, neg.sum() - c
    p = np.array([sps.fisher_exact([[a[j], b[j]], [c[j], d[j]]], alternative="greater").pvalue
                  for j in range(present.shape[1])])
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (a * d) / (b * c)
    out = pd.DataFrame({"motif_id": mset.ids, "motif_name": mset.names, "pos_with": a,
                        "pos_total": int(pos.sum()), "neg_with": c, "neg_total": int(neg.sum()),
                        "pos_rate": a / max(pos.sum(), 1), "neg_rate": c / max(neg.sum(), 1),
                        "odds_ratio": odds, "p": p, "q": bh(p),
                        "repeat_derived": mset.repeat_derived})
    out["enriched"] = (out["q"] < ENRICHED_Q) & (out["odds_ratio"] > 1)
    if strata is not None:
        out["p_gc"] = cmh_greater(present, labels, strata)
        out["q_gc"] = bh(out["p_gc"].to_numpy())
        out["enriched_gc"] = out["q_gc"] < ENRICHED_Q
    out["motif_index"] = np.arange(len(out))
    return out.sort_values(["q", "p", "odds_ratio"], ascending=[True, True, False],
                           kind="stable").reset_index(drop=True)


def cmh_greater(present: np.ndarray, labels, strata) -> np.ndarray:
    """One-sided Cochran-Mantel-Haenszel p-value per motif (column of ``present``): more hits
    in positives than negatives within strata, pooled; continuity-corrected normal approximation."""
    labels, strata = np.asarray(labels), np.asarray(strata)
    num = np.zeros(present.shape[1])
    var = np.zeros(present.shape[1])
    for k in np.unique(strata):
        rows = strata == k
        n = rows.sum()
        if n < 2:
            continue
        pos = (labels[rows] == 1).sum()
        with_ = present[rows].sum(axis=0).astype(float)
        a = present[rows & (labels == 1)].sum(axis=0)
        num += a - pos * with_ / n
        var += pos * (n - pos) * with_ * (n - with_) / (n * n * (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (num - 0.5) / np.sqrt(var)
    return np.where(var > 0, sps.norm.sf(z), 1.0)


def gc_strata(sequences, bins: int = GC_STRATA) -> np.ndarray:
    """Quantile bin (0..bins-1) of each sequence's GC fraction."""
    seqs = pd.Series(list(sequences))
    gc = (seqs.str.count("G") + seqs.str.count("C")) / seqs.str.len()
    return pd.qcut(gc.rank(method="first"), bins, labels=False).to_numpy()


def motif_set_null(best_rel: np.ndarray, chosen: np.ndarray, top_rows: np.ndarray,
                   null_sets: int = 1000, seed: int = 0) -> dict:
    """Top set's mean best match over the ``chosen`` motifs versus random motif sets of the
    same size (module doc, step 4). ``best_rel``: (K, M) per k-mer and motif."""
    chosen = np.flatnonzero(np.asarray(chosen, bool))
    m = best_rel.shape[1]
    sub = best_rel[top_rows]
    observed = float(sub[:, chosen].max(axis=1).mean()) if chosen.size else float("nan")
    if not chosen.size:
        return {"observed": observed, "null_mean": float("nan"), "p": float("nan"), "sets": 0}
    rng = np.random.default_rng(seed)
    null = np.array([sub[:, rng.choice(m, chosen.size, replace=False)].max(axis=1).mean()
                     for _ in range(null_sets)])
    return {"observed": observed, "null_mean": float(null.mean()),
            "null_lo": float(np.quantile(null, 0.025)), "null_hi": float(np.quantile(null, 0.975)),
            "p": float((1 + (null >= observed).sum()) / (1 + null_sets)), "sets": null_sets}


def _gc(frame: pd.DataFrame, label: int) -> float:
    seqs = frame.loc[frame["label"] == label, "sequence"]
    return float(((seqs.str.count("G") + seqs.str.count("C")) / seqs.str.len()).mean())


def task_enrichment(folder: str | Path, mset: MotifSet,
                    threshold: float = DEFAULT_THRESHOLD) -> tuple[pd.DataFrame, dict]:
    """Load, scan and test one task folder; returns the per-motif table and its facts."""
    frame = load_task_sequences(folder)
    present = scan_presence(frame["sequence"], mset, threshold)
    table = fisher_enrichment(present, frame["label"].to_numpy(), mset,
                              gc_strata(frame["sequence"]))
    facts = {"folder_name": Path(folder).name, "n_positive": int((frame["label"] == 1).sum()),
             "n_negative": int((frame["label"] == 0).sum()),
             "length": int(frame["sequence"].str.len().iloc[0]), "fimo_threshold": threshold,
             "n_enriched": int(table["enriched"].sum()), "enriched_q": ENRICHED_Q,
             "n_enriched_gc_stratified": int(table["enriched_gc"].sum()), "gc_strata": GC_STRATA,
             "gc_positive": _gc(frame, 1), "gc_negative": _gc(frame, 0),
             "test": "Fisher exact, one-sided (enriched in positives), BH across motifs"}
    return table, facts
