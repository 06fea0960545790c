"""Which k-mer ranking a comparison uses, and the exact PMI_n ranking of a release table.

A table's own ranking is the column its declared scoring ranks by
(:func:`genemask_viz.ngrams.scores.ranking_column`: ``genemask_score`` for exact
tables, ``release_score`` for the release's). The GeneMask
release's hg38 table is not exact PMI_n (spec section 2): its ``dp.true.pmi``
minimises over pieces of length <= 2 only. Its integer 6-mer counts are exact,
so the exact ranking is the import's ``genemask_score`` column, or
:func:`exact_table_from_counts` recomputes every score by the library's own
scoring (:func:`genemask_viz.ngrams.score_table`) from them, with the shorter
counts derived by marginalising the last base,

    c_{n}(w) = sum_b c_{n+1}(w b)

(the record-end correction of the counter is unknown for an imported table and
is left out: it changes a count by at most the number of sequence runs, a few
hundred against counts of millions on chr1-3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError

def ranking_column(table: pd.DataFrame) -> str:
    """The column holding the table's GeneMask ranking (:func:`genemask_viz.ngrams.scores.ranking_column`)."""
    from ..ngrams.scores import ranking_column as column
    return column(table)


def table_scoring(table: pd.DataFrame) -> str:
    """``"exact"`` or ``"release"`` (:func:`genemask_viz.ngrams.scores.table_scoring`)."""
    from ..ngrams.scores import table_scoring as scoring
    return scoring(table)


def ranking_names(table: pd.DataFrame) -> tuple[str, str]:
    """Names of the table's own ranking and of the exact one (from ``attrs`` when declared)."""
    from ..ngrams.scores import ranking_name
    names = table.attrs.get("ranking_names")
    exact = names.get("exact") if isinstance(names, dict) else None
    return ranking_name(table), exact or "exact PMI_n GeneMask score, recomputed from the counts"


def exact_scores(table: pd.DataFrame, kmers, n: int = 6) -> np.ndarray | None:
    """Exact GeneMask scores of ``kmers``: the table's ``genemask_score`` column when it has
    one (a release import carries it), else recomputed from its counts; None if impossible."""
    sub = table[table["n"] == n]
    if "genemask_score" in sub and sub["genemask_score"].notna().any():
        col = sub.set_index(sub["ngram"].str.upper())["genemask_score"]
    else:
        try:
            col = exact_table_from_counts(table, n=n).set_index("ngram")["genemask_score"]
        except GeneMaskInputError:
            return None
    return col.reindex(list(kmers)).to_numpy(float)


def exact_table_from_counts(table: pd.DataFrame, n: int = 6, min_count: int = 101) -> pd.DataFrame:
    """Exact scores (PMI_n, NPMI, GeneMask score) of the n-grams of ``table`` from their counts."""
    from ..ngrams.counting import NgramCounts
    from ..ngrams.scores import score_table
    from ..sequences.fasta import ALPHABET

    sub = table[(table["n"] == n) & table["count"].notna()]
    if len(sub) != 4 ** n:
        raise GeneMaskInputError(f"exact scores need the counts of all {4 ** n:,} {n}-mers; the "
                                 f"table has {len(sub):,}.", fix="use a table of full counts.")
    lut = np.zeros(256, np.int64)
    for i, b in enumerate(ALPHABET):
        lut[ord(b)] = i
    raw = np.frombuffer("".join(sub["ngram"].str.upper()).encode(), np.uint8).reshape(-1, n)
    idx = (lut[raw] * (4 ** np.arange(n - 1, -1, -1))).sum(axis=1)
    counts = [np.zeros(0, np.int64)] * (n + 1)
    top = np.zeros(4 ** n, np.int64)
    top[idx] = sub["count"].to_numpy(np.int64)
    counts[n] = top
    for m in range(n - 1, 0, -1):
        counts[m] = counts[m + 1].reshape(-1, 4).sum(axis=1)
    exact = score_table(NgramCounts(n, counts), min_count=min_count, ns=[n])
    exact.attrs["source"] = "exact PMI_n from the table's counts"
    exact.attrs["scoring"] = "exact"
    return exact
