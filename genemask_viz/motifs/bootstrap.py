"""Bootstrap intervals for Spearman correlations and their differences, resampling
reverse-complement pairs, and the multiple-testing correction of the reported family.

Why pairs: both strands are scored, so a k-mer and its reverse complement have
the same motif match, and their counts are nearly equal; treating the 4,096
6-mers as independent overstates the evidence. The unit of resampling is the
reverse-complement pair (a palindrome is a pair of one):

- ``rc_merged`` (reported first): one row per pair (ranking score = the mean of
  the pair's; match score = the pair's, strand-symmetric); rows are resampled.
- ``kmers``: all k-mers; pairs are resampled and both members of a drawn pair
  enter the replicate.

For each replicate the Spearman rho of every ranking with the match score is
computed on the same draw, so the difference of two rankings' rho is paired.
Intervals are percentile intervals (default 95 %, B = 1000 replicates). The
p-value of a difference d uses the bootstrap standard error,
``p = 2 * Phi(-|d| / sd*(d))`` (two-sided, normal approximation): unlike a
percentile count it is not floored at 1 / B, which would stop any bootstrap
p-value from surviving the correction of a family of hundreds.

Correction: every p-value the report prints (Spearman, partial Spearman,
hypergeometric enrichment, and these bootstrap p-values; all motif sets, k-mer
sets and match scores, several hundred) forms one family, and
:func:`correct_family` adds Benjamini-Hochberg adjusted p-values (``p_bh``,
false discovery rate), the usual choice for a family this large in genomics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .tomtom import bh

DEFAULT_REPS = 1000
DEFAULT_LEVEL = 0.95


def pair_index(canonical_kmers) -> np.ndarray:
    """Index of each k-mer's reverse-complement pair (0..C-1, in first-seen order)."""
    _, first, inv = np.unique(np.asarray(canonical_kmers), return_index=True, return_inverse=True)
    order = np.argsort(first)                  # relabel pairs in first-seen order
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    return relabel[inv.ravel()]


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks of x in each replicate where row i occurs w[b, i] times: (B, n).

    Equal to ``rankdata`` of the expanded sample (ties get their mean rank), computed from one
    sort of x: rank_i = (weight of values < x_i) + (weight of values == x_i + 1) / 2."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ws = w[:, order].astype(float)
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group_w = np.add.reduceat(ws, starts, axis=1)                    # (B, G)
    before = np.cumsum(group_w, axis=1) - group_w
    sizes = np.diff(np.append(starts, len(xs)))
    ranks_sorted = np.repeat(before + (group_w + 1) / 2, sizes, axis=1)
    out = np.empty_like(ranks_sorted)
    out[:, order] = ranks_sorted
    return out


def _weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                       ry: np.ndarray | None = None) -> np.ndarray:
    """Spearman rho of x and y in each replicate given row multiplicities w (B, n);
    ``ry``: y's weighted ranks when already computed."""
    rx = _weighted_ranks(x, w)
    ry = _weighted_ranks(y, w) if ry is None else ry
    tot = w.sum(axis=1, keepdims=True)
    mx = (w * rx).sum(axis=1, keepdims=True) / tot
    my = (w * ry).sum(axis=1, keepdims=True) / tot
    dx, dy = rx - mx, ry - my
    cov = (w * dx * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt((w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1))


def replicate_rhos(rankings: dict[str, np.ndarray], match: np.ndarray, pairs: np.ndarray | None,
                   reps: int = DEFAULT_REPS, seed: int = 0, chunk: int = 100) -> dict[str, np.ndarray]:
    """rho of each ranking with ``match`` in ``reps`` bootstrap replicates (same draws for all).

    ``pairs``: the pair index of each row (:func:`pair_index`); None resamples rows. Draws come
    in chunks: ``rng.integers(0, units, (min(chunk, left), units))``; a replicate's row
    multiplicities (how often its pair was drawn) weight one sort per ranking, so no
    replicate is materialised.
    """
    match = np.asarray(match, float)
    n = len(match)
    pairs = np.arange(n) if pairs is None else np.asarray(pairs)
    units = int(pairs.max()) + 1
    rng = np.random.default_rng(seed)
    out = {k: np.empty(reps) for k in rankings}
    for b0 in range(0, reps, chunk):
        b = min(chunk, reps - b0)
        draw = rng.integers(0, units, (b, units))
        mult = np.zeros((b, units))
        np.add.at(mult, (np.repeat(np.arange(b), units), draw.ravel()), 1.0)
        w = mult[:, pairs]                                            # (b, n)
        ry = _weighted_ranks(match, w)
        for k, v in rankings.items():
            out[k][b0:b0 + b] = _weighted_spearman(np.asarray(v, float), match, w, ry)
    return out


def interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    a = (1 - level) / 2
    s = np.asarray(samples, float)
    s = s[np.isfinite(s)]
    return (float(np.quantile(s, a)), float(np.quantile(s, 1 - a))) if s.size else (np.nan, np.nan)


def boot_p(diff: np.ndarray, estimate: float) -> float:
    """Two-sided p-value of ``estimate`` from its bootstrap replicates' standard error."""
    d = np.asarray(diff, float)
    d = d[np.isfinite(d)]
    se = float(d.std(ddof=1)) if d.size > 1 else float("nan")
    if not np.isfinite(se) or not np.isfinite(estimate):
        return float("nan")
    if se == 0:
        return 1.0 if estimate == 0 else 0.0
    return float(2 * sps.norm.sf(abs(estimate) / se))


def bootstrap_table(rankings: dict[str, np.ndarray], match: np.ndarray, pairs: np.ndarray | None,
                    subjects=("pmi",), reps: int = DEFAULT_REPS, seed: int = 0,
                    level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """One row per ranking (its rho and interval) and per subject-vs-other difference (two
    subjects are compared once, the first minus the second).

    Columns: ``ranking``, ``versus`` (empty for a single ranking), ``estimate`` (on the
    data), ``lo``, ``hi``, ``p`` (bootstrap p, differences only), ``reps``.
    """
    match = np.asarray(match, float)
    point = {k: float(sps.spearmanr(np.asarray(v, float), match).statistic)
             for k, v in rankings.items()}
    boot = replicate_rhos(rankings, match, pairs, reps, seed)
    rows = []
    for k in rankings:
        lo, hi = interval(boot[k], level)
        rows.append({"ranking": k, "versus": "", "estimate": point[k], "lo": lo, "hi": hi,
                     "p": np.nan, "reps": reps})
    subjects = [s for s in subjects if s in rankings]
    for i, s in enumerate(subjects):
        for k in rankings:
            if k == s or k in subjects[:i]:          # each pair of subjects once
                continue
            d = boot[s] - boot[k]
            lo, hi = interval(d, level)
            est = point[s] - point[k]
            rows.append({"ranking": s, "versus": k, "estimate": est, "lo": lo,
                         "hi": hi, "p": boot_p(d, est), "reps": reps})
    return pd.DataFrame(rows)


def correct_family(frames: dict[str, pd.DataFrame], column: str = "p") -> dict[str, pd.DataFrame]:
    """Add ``p_bh`` to every frame: one Benjamini-Hochberg correction over all their p-values."""
    parts = [(name, f[column].to_numpy(float)) for name, f in frames.items() if column in f]
    allp = np.concatenate([p for _, p in parts]) if parts else np.zeros(0)
    adj = bh(allp)
    out, i = {}, 0
    for name, f in frames.items():
        f = f.copy()
        if column in f:
            f["p_bh"] = adj[i:i + len(f)]
            i += len(f)
        out[name] = f
    return out
