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
Intervals are percentile intervals (default 95 %, B = 1000 replicates); the
bootstrap p-value of a difference is two-sided, ``2 min(P*(d <= 0), P*(d >= 0))``,
floored at ``1 / B``.

Correction: every p-value the report prints (Spearman, partial Spearman,
hypergeometric enrichment, and these bootstrap p-values) forms one family, and
:func:`correct_family` adds Holm-adjusted p-values (family-wise error), see
:func:`genemask_viz.motifs.tomtom.holm`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .tomtom import holm

DEFAULT_REPS = 1000
DEFAULT_LEVEL = 0.95


def pair_index(canonical_kmers) -> np.ndarray:
    """Index of each k-mer's reverse-complement pair (0..C-1, in first-seen order)."""
    _, first, inv = np.unique(np.asarray(canonical_kmers), return_index=True, return_inverse=True)
    order = np.argsort(first)                  # relabel pairs in first-seen order
    relabel = np.empty_like(order)
    relabel[order] = np.arange(len(order))
    return relabel[inv.ravel()]


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row of x (B, n) with the same row of y (B, n)."""
    rx = sps.rankdata(x, axis=1)
    ry = sps.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / den


def replicate_rhos(rankings: dict[str, np.ndarray], match: np.ndarray, pairs: np.ndarray | None,
                   reps: int = DEFAULT_REPS, seed: int = 0, chunk: int = 100) -> dict[str, np.ndarray]:
    """rho of each ranking with ``match`` in ``reps`` bootstrap replicates (same draws for all).

    ``pairs``: the pair index of each row (:func:`pair_index`); None resamples rows.
    """
    match = np.asarray(match, float)
    n = len(match)
    rng = np.random.default_rng(seed)
    names = list(rankings)
    values = np.stack([np.asarray(rankings[k], float) for k in names])       # (R, n)
    out = {k: np.empty(reps) for k in names}
    if pairs is None:
        for b0 in range(0, reps, chunk):
            b = min(chunk, reps - b0)
            idx = rng.integers(0, n, (b, n))
            y = match[idx]
            for r, k in enumerate(names):
                out[k][b0:b0 + b] = _spearman_rows(values[r][idx], y)
        return out
    pairs = np.asarray(pairs)
    n_pairs = int(pairs.max()) + 1
    members = [np.flatnonzero(pairs == c) for c in range(n_pairs)] if n_pairs < 64 else None
    if members is None:   # vectorised member lists: order rows by pair
        order = np.argsort(pairs, kind="stable")
        starts = np.searchsorted(pairs[order], np.arange(n_pairs))
        sizes = np.diff(np.append(starts, n))
    for b in range(reps):
        draw = rng.integers(0, n_pairs, n_pairs)
        if members is not None:
            idx = np.concatenate([members[c] for c in draw])
        else:
            size = sizes[draw]
            base = np.repeat(starts[draw], size)
            within = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
            idx = order[base + within]
        y = match[idx][None, :]
        for r, k in enumerate(names):
            out[k][b] = _spearman_rows(values[r][idx][None, :], y)[0]
    return out


def interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    a = (1 - level) / 2
    s = np.asarray(samples, float)
    s = s[np.isfinite(s)]
    return (float(np.quantile(s, a)), float(np.quantile(s, 1 - a))) if s.size else (np.nan, np.nan)


def boot_p(diff: np.ndarray) -> float:
    """Two-sided bootstrap p-value of a difference (module doc)."""
    d = np.asarray(diff, float)
    d = d[np.isfinite(d)]
    if not d.size:
        return float("nan")
    p = 2 * min((d <= 0).mean(), (d >= 0).mean())
    return float(min(1.0, max(p, 1.0 / d.size)))


def bootstrap_table(rankings: dict[str, np.ndarray], match: np.ndarray, pairs: np.ndarray | None,
                    subjects=("pmi",), reps: int = DEFAULT_REPS, seed: int = 0,
                    level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """One row per ranking (its rho and interval) and per subject-vs-other difference.

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
    for s in [s for s in subjects if s in rankings]:
        for k in rankings:
            if k == s:
                continue
            d = boot[s] - boot[k]
            lo, hi = interval(d, level)
            rows.append({"ranking": s, "versus": k, "estimate": point[s] - point[k], "lo": lo,
                         "hi": hi, "p": boot_p(d), "reps": reps})
    return pd.DataFrame(rows)


def correct_family(frames: dict[str, pd.DataFrame], column: str = "p",
                   method: str = "holm") -> dict[str, pd.DataFrame]:
    """Add ``p_holm`` to every frame: one Holm correction over all their p-values together."""
    if method != "holm":
        raise ValueError("only Holm's method is used for the reported family")
    parts = [(name, f[column].to_numpy(float)) for name, f in frames.items() if column in f]
    allp = np.concatenate([p for _, p in parts]) if parts else np.zeros(0)
    adj = holm(allp)
    out, i = {}, 0
    for name, f in frames.items():
        f = f.copy()
        if column in f:
            f["p_holm"] = adj[i:i + len(f)]
            i += len(f)
        out[name] = f
    return out
