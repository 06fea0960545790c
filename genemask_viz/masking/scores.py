"""From a PMI table to what the strategies look up: per-token scores and PMI units.

A table (spec section 2, ``genemask_viz.ngrams``) has one row per n-gram with
at least the columns ``ngram`` (A/C/G/T), ``n`` and a score column: by
default the table's declared ranking (:func:`genemask_viz.ngrams.ranking_column`:
``genemask_score`` for the exact PMI_n scoring, ``release_score`` for the
GeneMask release's), never a fixed name. Two views of it feed the strategies:

* :func:`token_scores`: a float vector indexed by token id (length
  ``5 + 4^k``), the score of each k-mer; ``-inf`` for the special ids and for
  k-mers the table does not score, so they rank lowest.
* :func:`unit_vocabulary`: the top-scoring n-grams, n = 2..n_max, as sorted
  2-bit codes per n, the unit vocabulary of ``pmi-span``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..errors import GeneMaskInputError
from ..sequences.kmertext import check_k
from ..ngrams.counting import ngram_strings
from ..ngrams.scores import ranking_column
from ..sequences.fasta import CODE_TABLE
from ..tokens import N_SPECIAL

__all__ = ["token_scores", "UnitVocabulary", "unit_vocabulary", "DEFAULT_UNIT_TOP_FRACTION",
           "DEFAULT_UNIT_N_MAX"]

#: pmi-span: fraction of each length's scored n-grams kept as units (best first)
DEFAULT_UNIT_TOP_FRACTION = 0.1
#: pmi-span: longest unit (the paper's n-gram table goes to n = 10)
DEFAULT_UNIT_N_MAX = 10

def _check_table(table: pd.DataFrame, column: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise GeneMaskInputError(f"expected a score table (pandas DataFrame), got {type(table).__name__}.",
                                 fix="load one with genemask_viz.ngrams.load_table(path).")
    missing = {"ngram", "n", column} - set(table.columns)
    if missing:
        raise GeneMaskInputError(f"score table lacks columns {sorted(missing)}; it has "
                                 f"{list(table.columns)}.",
                                 fix="give a table from genemask_viz.ngrams (compute_table / load_table).")


def _ngram_codes(ngrams: pd.Series, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n-gram strings (all of length n) -> (2-bit codes int64, valid bool)."""
    if len(ngrams) == 0:
        return np.empty(0, np.int64), np.empty(0, bool)
    raw = np.frombuffer("".join(ngrams.astype(str)).encode("ascii", "replace"), dtype=np.uint8)
    digits = CODE_TABLE[raw].reshape(-1, n)  # A,T,C,G -> 0..3; anything else >= 4
    valid = (digits < 4).all(axis=1)
    weights = 4 ** np.arange(n - 1, -1, -1, dtype=np.int64)
    return (digits.astype(np.int64) & 3) @ weights, valid


def _scored_rows(table: pd.DataFrame, n: int, column: str) -> tuple[np.ndarray, np.ndarray]:
    rows = table[pd.to_numeric(table["n"], errors="coerce") == n]
    rows = rows[rows["ngram"].astype(str).str.len() == n]
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    codes, valid = _ngram_codes(rows["ngram"], n)
    keep = valid & np.isfinite(values)
    return codes[keep], values[keep]


def _ranking(table: pd.DataFrame, column: str | None) -> str:
    """``column``, or the table's declared ranking column when None."""
    if column is not None:
        return column
    _check_table(table, "ngram")
    return ranking_column(table)


def token_scores(table: pd.DataFrame, k: int = 6, column: str | None = None) -> np.ndarray:
    """Score of every token id for k-mer size ``k``: ``float64[5 + 4^k]``.

    ``out[5 + code(kmer)] = table[column]`` for each scored k-mer (rows with
    ``n == k``); ``-inf`` for ids 0..4 (``[PAD] [UNK] [CLS] [SEP] [MASK]``)
    and for k-mers that are missing or unscored (NaN) in the table.
    ``column`` defaults to the table's ranking column (module docstring).
    """
    check_k(k)
    column = _ranking(table, column)
    _check_table(table, column)
    out = np.full(N_SPECIAL + 4 ** k, -np.inf, dtype=np.float64)
    codes, values = _scored_rows(table, k, column)
    if not values.size:  # every centre would score -inf: the PMI guidance would silently vanish
        raise _no_scores_error(table, column, f"n = {k}")
    out[N_SPECIAL + codes] = values
    return out


def _no_scores_error(table: pd.DataFrame, column: str, which: str) -> GeneMaskInputError:
    return GeneMaskInputError(
        f"the score table has no usable scores for {which}: no row has an A/C/G/T n-gram of "
        f"that length, a whole-number n and a numeric {column!r} ({len(table):,} rows).",
        source=table.attrs.get("source"),
        fix="give a table written by `genemask npmi` (or the release's ranking CSV) that scores "
            "these n-grams, e.g. genemask npmi demo --max-n 10 --out table.csv.")


@dataclass(frozen=True)
class UnitVocabulary:
    """The ``pmi-span`` unit vocabulary: sorted 2-bit codes of the units, per n.

    ``codes[n]`` is a sorted ``LongTensor`` of the codes ``sum_i code(b_i) 4^(n-1-i)``
    (A=0, T=1, C=2, G=3) of the length-n units.
    """

    codes: dict[int, torch.Tensor] = field(default_factory=dict)
    top_fraction: float = DEFAULT_UNIT_TOP_FRACTION
    column: str = "genemask_score"

    @property
    def lengths(self) -> list[int]:
        """Unit lengths present, longest first (the segmentation order)."""
        return sorted((n for n, c in self.codes.items() if c.numel()), reverse=True)

    @property
    def size(self) -> int:
        return int(sum(c.numel() for c in self.codes.values()))

    def strings(self, n: int) -> list[str]:
        """The units of length n as strings (for display and the references)."""
        codes = self.codes.get(n, torch.empty(0, dtype=torch.long)).numpy()
        return ngram_strings(n, codes).tolist()


def unit_vocabulary(table: pd.DataFrame, top_fraction: float = DEFAULT_UNIT_TOP_FRACTION,
                    n_max: int = DEFAULT_UNIT_N_MAX, column: str | None = None,
                    min_score: float = 0.0) -> UnitVocabulary:
    """Top-scoring n-grams (n = 2..n_max) as ``pmi-span`` units.

    For each n, the scored n-grams with ``score > min_score`` (positive
    association: ``PMI_n > 0``) are ranked by ``column``; the best
    ``ceil(top_fraction * N_n)`` of them are kept, N_n = the number of scored
    n-grams of that length (so lengths are kept in proportion, as in
    PMI-Masking's per-length vocabulary). ``column`` defaults to the table's
    ranking column (module docstring).
    """
    column = _ranking(table, column)
    _check_table(table, column)
    if not 0.0 < top_fraction <= 1.0:
        raise GeneMaskInputError(f"top_fraction={top_fraction} is outside (0, 1].",
                                 fix="use e.g. 0.1 for the top 10% of each length.")
    if n_max < 2:
        raise GeneMaskInputError(f"n_max={n_max}: units need n >= 2.", fix="use n_max >= 2.")
    codes = {}
    usable = 0
    n_values = pd.to_numeric(table["n"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    for n in sorted(set(int(x) for x in n_values[np.isfinite(n_values) & (n_values % 1 == 0)])):
        if n < 2 or n > n_max:
            continue
        c, v = _scored_rows(table, n, column)
        usable += v.size
        n_keep = math.ceil(top_fraction * len(v))
        order = np.argsort(-v, kind="stable")[:n_keep]
        c, v = c[order], v[order]
        c = np.unique(c[v > min_score])
        if c.size:
            codes[n] = torch.from_numpy(c)
    if not usable:
        raise _no_scores_error(table, column, f"n = 2..{n_max}")
    return UnitVocabulary(codes=codes, top_fraction=top_fraction, column=column)
