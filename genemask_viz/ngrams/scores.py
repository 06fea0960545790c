"""PMI, PMI_n, NPMI and GeneMask scores from n-gram counts (spec section 2).

For an n-gram w = w_1..w_n (n >= 2) with count c(w), natural logs, and
p(w) = c(w) / N_n (N_n = counted positions of length n):

    naive_pmi(w) = log p(w) - sum_i log p(w_i)
    pmi_n(w)     = log p(w) - max_{s in seg(w)} sum_{piece in s} log p(piece)
                   (seg(w): segmentations into >= 2 contiguous pieces;
                    Levine et al. 2021, "PMI-Masking")
    npmi(w)      = pmi_n(w) / (-log p(w))                    (Bouma 2009)
    genemask(w)  = pmi_n(w) * ln c(w) / (ln c(w) + ln min_count)
                   (the GeneMask release's norm_dp_true_pmi; discounts rare n-grams;
                    taken as pmi_n when c = min_count = 1, the 0/0 limit)

The maximum over segmentations is exact, by dynamic programming over split
points, vectorised over all scored n-grams of one length:

    f(0) = 0,  f(j) = max_{0<=i<j} f(i) + log p(w[i:j])      (>= 1 piece)
    best = max_{1<=i<n} f(i) + log p(w[i:n])                  (>= 2 pieces)

A piece never seen has log p = -inf, which makes that segmentation impossible
rather than an error. Only n-grams with c(w) >= min_count are scored (and,
by default, listed); pieces of any count take part in the segmentations.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError
from .counting import NgramCounts, ngram_strings

TABLE_COLUMNS = ["ngram", "n", "count", "p", "naive_pmi", "pmi_n", "npmi", "genemask_score", "rank"]
DEFAULT_MIN_COUNT = 101  # the paper's threshold on a genome


def log_probs(counts: NgramCounts) -> list[np.ndarray]:
    """log p(w) for every n-gram of every length (-inf where c(w) = 0)."""
    out = [np.zeros(0)]
    for n in range(1, counts.max_n + 1):
        c = counts.counts[n].astype(np.float64)
        total = c.sum()
        with np.errstate(divide="ignore"):
            out.append(np.log(c) - math.log(total) if total > 0 else np.full_like(c, -np.inf))
    return out


def _piece_logp(logp: list[np.ndarray], codes: np.ndarray, n: int, i: int, j: int) -> np.ndarray:
    """log p of the piece w[i:j] for every n-gram index in ``codes`` (length-n n-grams)."""
    m = j - i
    sub = (codes >> (2 * (n - j))) & ((1 << (2 * m)) - 1)
    return logp[m][sub]


def pmi_n_dp(logp: list[np.ndarray], n: int, codes: np.ndarray) -> np.ndarray:
    """max over segmentations into >= 2 pieces of the summed piece log-probabilities.

    Returns the ``best`` array of the module docstring, shape ``codes.shape``;
    ``pmi_n = log p(w) - best``.
    """
    f = [np.zeros(codes.shape)]
    for j in range(1, n):
        cands = [f[i] + _piece_logp(logp, codes, n, i, j) for i in range(j)]
        f.append(np.maximum.reduce(cands) if len(cands) > 1 else cands[0])
    cands = [f[i] + _piece_logp(logp, codes, n, i, n) for i in range(1, n)]
    return np.maximum.reduce(cands) if len(cands) > 1 else cands[0]


def check_min_count(min_count) -> int:
    """min_count must be a positive integer (checked before any long work)."""
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise GeneMaskInputError(f"min_count must be a positive integer, got {min_count!r}.",
                                 fix="use 1 to score every n-gram seen, or the paper's 101 on a genome.")
    return int(min_count)


def score_table(counts: NgramCounts, min_count: int = DEFAULT_MIN_COUNT,
                ns: list[int] | None = None, keep_unscored: bool = False) -> pd.DataFrame:
    """The score table: one row per n-gram with ``TABLE_COLUMNS``.

    Parameters
    ----------
    counts : from :func:`count_ngrams`.
    min_count : n-grams with c(w) < min_count get no score (and are dropped
        unless ``keep_unscored``); n-grams never seen are never listed.
    ns : which lengths to list (default 1..max_n). n = 1 rows carry counts only.
    """
    check_min_count(min_count)
    ns = list(range(1, counts.max_n + 1)) if ns is None else list(ns)
    for n in ns:
        if not 1 <= n <= counts.max_n:
            raise GeneMaskInputError(f"n={n} is outside 1..{counts.max_n} (the counted lengths).",
                                     fix="count with a larger max_n.")
    logp = log_probs(counts)
    frames = []
    for n in ns:
        c = counts.counts[n]
        keep = c >= (1 if keep_unscored else min_count)
        keep &= c > 0
        idx = np.flatnonzero(keep).astype(np.int64)
        cnt = c[idx]
        lp = logp[n][idx]
        frame = {"ngram": ngram_strings(n, idx), "n": np.full(idx.size, n, dtype=np.int64),
                 "count": cnt, "p": np.exp(lp)}
        nan = np.full(idx.size, np.nan)
        if n >= 2:
            unigram = sum(_piece_logp(logp, idx, n, i, i + 1) for i in range(n))
            naive = lp - unigram
            pmi_n = lp - pmi_n_dp(logp, n, idx)
            with np.errstate(divide="ignore", invalid="ignore"):
                npmi = np.where(lp < 0, pmi_n / -lp, np.nan)
                lc = np.log(cnt.astype(np.float64))
                denom = lc + math.log(min_count)
                # c = min_count = 1 gives 0/0: the discount's limit there is 1
                gm = np.where(denom > 0, pmi_n * lc / np.where(denom > 0, denom, 1.0), pmi_n)
            scored = cnt >= min_count
            frame.update(naive_pmi=np.where(scored, naive, np.nan),
                         pmi_n=np.where(scored, pmi_n, np.nan),
                         npmi=np.where(scored, npmi, np.nan),
                         genemask_score=np.where(scored, gm, np.nan))
        else:
            frame.update(naive_pmi=nan, pmi_n=nan, npmi=nan, genemask_score=nan)
        frames.append(pd.DataFrame(frame))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TABLE_COLUMNS)
    return add_ranks(table)


def add_ranks(table: pd.DataFrame) -> pd.DataFrame:
    """rank = 1 for the highest genemask_score within each n (ties: alphabetical n-gram)."""
    table = table.sort_values(["n", "genemask_score", "ngram"], ascending=[True, False, True],
                              na_position="last", kind="mergesort").reset_index(drop=True)
    has = table["genemask_score"].notna()
    rank = table[has].groupby("n").cumcount() + 1
    table["rank"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table.loc[has, "rank"] = rank.astype("int64").to_numpy()
    return table[TABLE_COLUMNS]


def compute_table(source, max_n: int = 10, min_count: int = DEFAULT_MIN_COUNT,
                  progress: bool = False, keep_unscored: bool = False) -> pd.DataFrame:
    """Count n-grams in ``source`` (see :func:`count_ngrams`) and score them."""
    from .counting import count_ngrams
    return score_table(count_ngrams(source, max_n=max_n, progress=progress), min_count=min_count,
                       keep_unscored=keep_unscored)
