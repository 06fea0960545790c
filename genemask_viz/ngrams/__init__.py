"""n-gram counts and PMI / NPMI / GeneMask score tables (spec section 2)."""

from .counting import NgramCounter, NgramCounts, count_ngrams, ngram_strings
from .scores import DEFAULT_MIN_COUNT, TABLE_COLUMNS, add_ranks, compute_table, score_table
from .table_io import import_release_ranking, load_table, save_table

__all__ = ["NgramCounter", "NgramCounts", "count_ngrams", "ngram_strings", "DEFAULT_MIN_COUNT",
           "TABLE_COLUMNS", "add_ranks", "compute_table", "score_table", "import_release_ranking",
           "load_table", "save_table"]
