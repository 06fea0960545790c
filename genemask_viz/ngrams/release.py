"""The GeneMask release's ranking recipe, reproduced from counts (spec section 2).

The release's hg38 ranking is *not* PMI_n. Fitted on its own file (with the
integer 6-mer counts recovered from it), its columns follow this recipe, for
an n-gram w = w_1..w_n with count c(w), natural logs:

    T              = N_1 + N_2   (one normaliser for every length; about twice
                                  the number of counted positions)
    q(x)           = c(x) / T     for every piece x, whatever its length
    naive.pmi      = log q(w) - sum_i log q(w_i)
    true.pmi       = log q(w) - max_{i = 1..n-2} [log q(w[:i]) + log q(w[i:])]
                     (two-piece splits; the last split point, n-1, is skipped;
                      NaN for n = 2, which has no split left)
    dp.true.pmi    = log q(w) - max_{s} sum_{piece in s} log q(piece)
                     over segmentations s into >= 2 pieces of length 1 or 2 only
    norm_dp_true_pmi = dp.true.pmi * ln c(w) / (ln c(w) + ln min_count)

Because q divides by the same T for every length, a segmentation into m
pieces gains (m - 1) ln(T / N) ~ (m - 1) ln 2 over the definition with
p = c / N_n, so ``naive.pmi`` sits 5 ln 2 above the textbook value for
6-mers and dp.true.pmi prefers many short pieces.

What had to be inferred (the release ships neither its counts nor its code for
these columns):

* **T.** Only its size is identified by the file: a fit of ``naive.pmi``
  gives T = 1.33825e9 with the 6-mer counts summing to N_6 = 669,128,271,
  i.e. T = 2 N up to 1e-5. We take T = N_1 + N_2, the total of a pooled
  unigram + bigram counter (the only pieces dp.true.pmi uses); on a genome it
  equals 2 N_1 minus the number of runs, indistinguishable from 2 N_6 at
  this precision.
* **Shorter counts.** The file holds 6-mers only. :func:`counts_from_release_6mers`
  derives c_n (n < 6) by marginalising the last base away,
  ``c_n(w) = sum_b c_{n+1}(w b)``, i.e. it ignores record edges (the last
  n-gram of each A/C/G/T run, which no longer n-gram extends). chr1-3 have a
  few hundred runs, so each shorter count is low by at most that many
  (relative error < 1e-4; marginalising the *first* base instead changes no
  unigram by more than 53). With these, the recipe reproduces the file's
  dp.true.pmi within 0.0034 and true.pmi / naive.pmi within 0.004 for all
  4,096 6-mers (``tests/test_ngrams_release.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError
from .counting import NgramCounts, ngram_strings

__all__ = ["RELEASE_TABLE_COLUMNS", "release_normaliser", "release_scores",
           "counts_from_release_6mers", "recover_release_counts"]

RELEASE_TABLE_COLUMNS = ["ngram", "n", "count", "p", "release_naive_pmi", "release_true_pmi",
                         "release_dp_pmi", "release_score", "rank"]
#: longest piece of the release's dp.true.pmi segmentations
RELEASE_MAX_PIECE = 2


def release_normaliser(counts: NgramCounts) -> float:
    """T = N_1 + N_2 (module docstring)."""
    if counts.max_n < 2:
        raise GeneMaskInputError("release scoring needs counts of n = 1 and 2.",
                                 fix="count with max_n >= 2.")
    return float(counts.total(1) + counts.total(2))


def _log_q(counts: NgramCounts, T: float) -> list[np.ndarray]:
    out = [np.zeros(0)]
    for n in range(1, counts.max_n + 1):
        with np.errstate(divide="ignore"):
            out.append(np.log(counts.counts[n].astype(np.float64)) - math.log(T))
    return out


def _piece(lq: list[np.ndarray], codes: np.ndarray, n: int, i: int, j: int) -> np.ndarray:
    """log q of w[i:j] for every length-n code in ``codes``."""
    m = j - i
    return lq[m][(codes >> (2 * (n - j))) & ((1 << (2 * m)) - 1)]


def _dp_short_pieces(lq, codes: np.ndarray, n: int) -> np.ndarray:
    """max over segmentations into >= 2 pieces of length <= 2 of the summed log q."""
    f = [np.zeros(codes.shape)]                    # f[j]: best of w[:j], >= 1 piece
    for j in range(1, n + 1):
        cands = [f[j - m] + _piece(lq, codes, n, j - m, j)
                 for m in range(1, RELEASE_MAX_PIECE + 1) if j - m >= 0 and not (j == n and m == n)]
        f.append(np.maximum.reduce(cands) if len(cands) > 1 else cands[0])
    return f[n]


def release_scores(counts: NgramCounts, min_count: int, ns: list[int],
                   keep_unscored: bool = False) -> pd.DataFrame:
    """The release's columns (``RELEASE_TABLE_COLUMNS`` but ``rank``) for lengths ``ns``.

    n = 1 rows carry counts only; n-grams with c < min_count keep their counts
    and get no score (listed only with ``keep_unscored``). ``p`` is c / N_n as in
    the exact table (the release's own q = c / T is in the module docstring).
    """
    T = release_normaliser(counts)
    lq = _log_q(counts, T)
    frames = []
    for n in ns:
        c = counts.counts[n]
        keep = (c >= (1 if keep_unscored else min_count)) & (c > 0)
        idx = np.flatnonzero(keep).astype(np.int64)
        cnt = c[idx]
        total = counts.total(n)
        frame = {"ngram": ngram_strings(n, idx), "n": np.full(idx.size, n, dtype=np.int64),
                 "count": cnt, "p": cnt / total if total else np.full(idx.size, np.nan)}
        nan = np.full(idx.size, np.nan)
        if n >= 2:
            lw = lq[n][idx]
            naive = lw - sum(_piece(lq, idx, n, i, i + 1) for i in range(n))
            if n >= 3:
                true = lw - np.maximum.reduce([_piece(lq, idx, n, 0, i) + _piece(lq, idx, n, i, n)
                                               for i in range(1, n - 1)])
            else:
                true = nan
            dp = lw - _dp_short_pieces(lq, idx, n)
            lc = np.log(cnt.astype(np.float64))
            denom = lc + math.log(min_count)
            with np.errstate(divide="ignore", invalid="ignore"):
                norm = np.where(denom > 0, dp * lc / np.where(denom > 0, denom, 1.0), dp)
            scored = cnt >= min_count
            frame.update({"release_naive_pmi": np.where(scored, naive, np.nan),
                          "release_true_pmi": np.where(scored, true, np.nan),
                          "release_dp_pmi": np.where(scored, dp, np.nan),
                          "release_score": np.where(scored, norm, np.nan)})
        else:
            frame.update(release_naive_pmi=nan, release_true_pmi=nan, release_dp_pmi=nan,
                         release_score=nan)
        frames.append(pd.DataFrame(frame))
    if not frames:
        return pd.DataFrame(columns=RELEASE_TABLE_COLUMNS[:-1])
    return pd.concat(frames, ignore_index=True)


def recover_release_counts(dp: np.ndarray, norm: np.ndarray,
                           min_count: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Counts from the release's two score columns: ``ln c = norm ln m / (dp - norm)``
    (from ``norm = dp ln c / (ln c + ln m)``, m = min_count). Returns ``(count, ok)``,
    rounded to integers; ``ok`` False where the ratio does not define a count."""
    dp = np.asarray(dp, dtype=np.float64)
    norm = np.asarray(norm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        count = np.rint(np.exp(norm * math.log(min_count) / (dp - norm)))
    ok = np.isfinite(count) & (count > 0)
    return np.where(ok, count, 0).astype(np.int64), ok


def counts_from_release_6mers(ngrams, counts, source: str = "") -> NgramCounts:
    """:class:`NgramCounts` (n = 1..6) from the release's 6-mer counts; shorter counts
    by marginalising the last base (record edges ignored: see the module docstring)."""
    ngrams = pd.Series(ngrams, dtype=str).str.upper()
    counts = np.asarray(counts, dtype=np.int64)
    if len(ngrams) != len(counts) or not (ngrams.str.len() == 6).all() \
            or not ngrams.str.fullmatch("[ACGT]{6}").all():
        raise GeneMaskInputError("expected A/C/G/T 6-mers, one count each.", source=source or None,
                                 fix="give the release's 6-mer ranking CSV.")
    raw = np.frombuffer("".join(ngrams).encode("ascii"), dtype=np.uint8).reshape(-1, 6)
    digit = np.zeros(256, dtype=np.int64)
    digit[np.frombuffer(b"ATCG", dtype=np.uint8)] = np.arange(4)   # DNABERT order A, T, C, G
    idx = digit[raw] @ (4 ** np.arange(5, -1, -1, dtype=np.int64))
    if np.unique(idx).size != idx.size:
        raise GeneMaskInputError("a 6-mer is listed twice.", source=source or None,
                                 fix="give the release's ranking CSV unchanged.")
    c6 = np.zeros(4 ** 6, dtype=np.int64)
    c6[idx] = counts
    arrays = [np.zeros(0, dtype=np.int64)] * 7
    arrays[6] = c6
    for n in range(5, 0, -1):
        arrays[n] = arrays[n + 1].reshape(-1, 4).sum(1)
    return NgramCounts(max_n=6, counts=arrays, n_records=0, n_bases=int(arrays[1].sum()),
                       sources=[source] if source else [])
