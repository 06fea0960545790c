"""PMI k-mers versus known motifs (spec section 6): JASPAR access, scoring, statistics, logos.

Public API (implementation in the sub-modules):

- :func:`load_jaspar`, :func:`read_motifs`, :func:`motif_set`: motif libraries.
- :func:`score_kmers`: best log-odds placement of every k-mer on every motif, both strands.
- :func:`match_table`, :func:`compare_rankings`, :func:`spearman`,
  :func:`partial_spearman`, :func:`enrichment`: statistics and controls.
- :func:`group_kmers`, :func:`tomtom_matrix`: k-mer groups compared with JASPAR by Tomtom (memelite).
- :func:`extend_groups`: a group's sites in the sequences, with flanks, as a trimmed matrix.
- :func:`task_enrichment`: the discriminative motif test on a task's sequences (memelite FIMO, Fisher).
- :func:`bootstrap_table`: intervals over reverse-complement pairs.
- :func:`match_logo`: logomaker figure of a k-mer beside its motif.
- :func:`compare_table`, :func:`write_report`: the whole comparison.
"""

from .library import (MotifSet, available_releases, is_repeat_derived, load_jaspar, motif_set,
                      read_motifs, resolve_motifs)
from .scoring import KmerScores, all_kmers, revcomp, score_kmers
from .similarity import KmerGroup, group_kmers
from .bootstrap import bootstrap_table
from .tomtom import tomtom_matrix
from .extend import ExtendedGroup, extend_groups
from .stats import compare_rankings, enrichment, match_table, partial_spearman, spearman


def __getattr__(name):
    # logos and report import matplotlib; load them on first use only
    if name in ("match_logo", "information_matrix", "ranking_figure", "motif_logo"):
        from . import logos
        return getattr(logos, name)
    if name == "task_enrichment":
        from .tasks import task_enrichment
        return task_enrichment
    if name in ("compare_table", "write_report", "summary", "MotifComparison", "group_logo"):
        from . import report
        return getattr(report, name)
    raise AttributeError(name)


__all__ = ["MotifSet", "available_releases", "is_repeat_derived", "load_jaspar", "motif_set",
           "read_motifs", "resolve_motifs", "KmerScores", "all_kmers", "revcomp", "score_kmers",
           "KmerGroup", "group_kmers", "ExtendedGroup", "extend_groups", "bootstrap_table", "tomtom_matrix", "task_enrichment", "compare_rankings",
           "enrichment", "match_table", "partial_spearman", "spearman", "match_logo",
           "information_matrix", "ranking_figure", "compare_table", "write_report", "summary",
           "MotifComparison", "group_logo"]
