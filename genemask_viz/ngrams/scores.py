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

Two scorings, each called by its name (a table's ``attrs["scoring"]``, and
inferred from its columns when a file lost the attribute):

* ``exact`` (default): the definitions above; ranking column
  ``genemask_score``, named "exact PMI_n GeneMask score".
* ``release``: the GeneMask release's recipe (one normaliser for every
  length, segmentations into pieces of length <= 2; :mod:`.release`);
  columns ``release_naive_pmi``, ``release_true_pmi``, ``release_dp_pmi``,
  ``release_score`` (its ``norm_dp_true_pmi``), ranking column
  ``release_score``, named "GeneMask release score (dp.true.pmi, ...)".

Consumers rank by :func:`ranking_column` and label with :func:`ranking_name`,
never by a fixed column.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError
from .counting import NgramCounts, ngram_strings

TABLE_COLUMNS = ["ngram", "n", "count", "p", "naive_pmi", "pmi_n", "npmi", "genemask_score", "rank"]
DEFAULT_MIN_COUNT = 101  # the paper's threshold on a genome
#: the two scorings (module docstring); "exact" is the default
SCORINGS = ("exact", "release")
#: the column each scoring ranks by
RANKING_COLUMNS = {"exact": "genemask_score", "release": "release_score"}
_RANKING_NAMES = {"exact": "exact PMI_n GeneMask score",
                  "release": "GeneMask release score (dp.true.pmi recipe)"}


def check_scoring(scoring) -> str:
    """``scoring`` must be one of :data:`SCORINGS` (checked before any long work)."""
    if scoring not in SCORINGS:
        raise GeneMaskInputError(f"unknown scoring {scoring!r}.",
                                 fix=f"use one of {', '.join(SCORINGS)} (exact is the default).")
    return scoring


def table_scoring(table: pd.DataFrame) -> str:
    """"exact" or "release": the table's ``attrs["scoring"]``, else inferred from its
    columns: "release" when it has release scores and no exact ones, or both and its
    ``rank`` follows ``release_score`` (a saved import of the release file)."""
    declared = table.attrs.get("scoring")
    if declared in SCORINGS:
        return declared
    def has(col):
        return col in table.columns and pd.to_numeric(table[col], errors="coerce").notna().any()
    if not has("release_score"):
        return "exact"
    if not has("genemask_score"):
        return "release"
    # both (a saved import of the release file): the one the rank column follows
    if "rank" in table.columns and "n" in table.columns:
        def num(col):
            return pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        rank, n, score = num("rank"), num("n"), num("release_score")
        ok = np.isfinite(rank) & np.isfinite(n)
        order = np.lexsort((rank[ok], n[ok]))
        n, score = n[ok][order], score[ok][order]
        same_n = n[1:] == n[:-1]
        if order.size > 1 and (np.diff(score)[same_n] <= 0).all():
            return "release"
    return "exact"


def ranking_column(table: pd.DataFrame) -> str:
    """The column a table ranks by: ``genemask_score`` (exact) or ``release_score``."""
    return RANKING_COLUMNS[table_scoring(table)]


def ranking_name(table: pd.DataFrame) -> str:
    """What a result built on this table should call its ranking, e.g. "exact PMI_n GeneMask
    score" or "GeneMask release score (dp.true.pmi, hg38 chr1-3)" (an imported release file):
    ``attrs["ranking_names"][scoring]`` when set, else the scoring's generic name."""
    scoring = table_scoring(table)
    names = table.attrs.get("ranking_names")
    name = names.get(scoring) if isinstance(names, dict) else None
    return name if isinstance(name, str) and name else _RANKING_NAMES[scoring]


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


def with_ranking(table: pd.DataFrame, scoring: str) -> pd.DataFrame:
    """A copy of ``table`` that ranks by ``scoring`` ("exact" or "release"): ``rank``
    recomputed, ``attrs["scoring"]`` set. For a table that holds both rankings (the
    imported release file also carries the exact columns), so that either can be chosen."""
    check_scoring(scoring)
    column = RANKING_COLUMNS[scoring]
    if column not in table.columns or not pd.to_numeric(table[column], errors="coerce").notna().any():
        raise GeneMaskInputError(f"the table has no {scoring} ranking (no values in {column!r}).",
                                 source=table.attrs.get("source"),
                                 fix="compute one with genemask npmi --scoring " + scoring + ".")
    out = table.copy()
    out.attrs = dict(table.attrs, scoring=scoring)
    return add_ranks(out)


def score_table(counts: NgramCounts, min_count: int = DEFAULT_MIN_COUNT,
                ns: list[int] | None = None, keep_unscored: bool = False,
                scoring: str = "exact") -> pd.DataFrame:
    """The score table: one row per n-gram with ``TABLE_COLUMNS`` (``scoring="exact"``)
    or :data:`.release.RELEASE_TABLE_COLUMNS` (``scoring="release"``).

    Parameters
    ----------
    counts : from :func:`count_ngrams`.
    min_count : n-grams with c(w) < min_count get no score (and are dropped
        unless ``keep_unscored``); n-grams never seen are never listed.
    ns : which lengths to list (default 1..max_n). n = 1 rows carry counts only.
    scoring : "exact" (PMI_n, the default) or "release" (the release's recipe).
    """
    check_scoring(scoring)
    check_min_count(min_count)
    ns = list(range(1, counts.max_n + 1)) if ns is None else list(ns)
    for n in ns:
        if not 1 <= n <= counts.max_n:
            raise GeneMaskInputError(f"n={n} is outside 1..{counts.max_n} (the counted lengths).",
                                     fix="count with a larger max_n.")
    if scoring == "release":
        from .release import release_scores
        table = release_scores(counts, min_count, ns, keep_unscored)
        table.attrs["scoring"] = "release"
        return add_ranks(table)
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
    table.attrs["scoring"] = "exact"
    return add_ranks(table)


def add_ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Sort by n, then the table's ranking column (:func:`ranking_column`), best first, and
    set rank = 1 for the best within each n (ties: alphabetical n-gram). Keeps the table's
    ``attrs``; ``rank`` is the last column."""
    column = ranking_column(table)
    attrs = dict(table.attrs)
    table = table.sort_values(["n", column, "ngram"], ascending=[True, False, True],
                              na_position="last", kind="mergesort").reset_index(drop=True)
    has = table[column].notna()
    rank = table[has].groupby("n").cumcount() + 1
    table["rank"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table.loc[has, "rank"] = rank.astype("int64").to_numpy()
    out = table[[c for c in table.columns if c != "rank"] + ["rank"]]
    out.attrs.update(attrs)
    return out


def compute_table(source, max_n: int = 10, min_count: int = DEFAULT_MIN_COUNT,
                  progress: bool = False, keep_unscored: bool = False,
                  scoring: str = "exact") -> pd.DataFrame:
    """Count n-grams in ``source`` (see :func:`count_ngrams`) and score them."""
    from .counting import count_ngrams
    check_scoring(scoring)
    return score_table(count_ngrams(source, max_n=max_n, progress=progress), min_count=min_count,
                       keep_unscored=keep_unscored, scoring=scoring)
