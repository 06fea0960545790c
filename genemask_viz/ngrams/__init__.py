"""n-gram counts and PMI / NPMI / GeneMask score tables (spec section 2).

Two scorings, each called by its name: ``exact`` (PMI_n; the default) and
``release`` (the GeneMask release's recipe). Rank by :func:`ranking_column`,
label with :func:`ranking_name`.
"""

from .counting import NgramCounter, NgramCounts, count_ngrams, ngram_strings
from .release import RELEASE_TABLE_COLUMNS, counts_from_release_6mers, release_scores
from .scores import (DEFAULT_MIN_COUNT, RANKING_COLUMNS, SCORINGS, TABLE_COLUMNS, add_ranks,
                     compute_table, ranking_column, ranking_name, score_table, table_scoring,
                     with_ranking)
from .table_io import import_release_ranking, load_table, save_table

__all__ = ["NgramCounter", "NgramCounts", "count_ngrams", "ngram_strings", "DEFAULT_MIN_COUNT",
           "TABLE_COLUMNS", "RELEASE_TABLE_COLUMNS", "SCORINGS", "RANKING_COLUMNS", "add_ranks",
           "compute_table", "score_table", "release_scores", "counts_from_release_6mers",
           "ranking_column", "ranking_name", "table_scoring", "with_ranking", "import_release_ranking",
           "load_table", "save_table"]
