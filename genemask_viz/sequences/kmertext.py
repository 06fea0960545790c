"""Nucleotides <-> space-separated overlapping k-mer text (DNABERT's text form)."""

from __future__ import annotations

from ..errors import GeneMaskInputError

K_MIN, K_MAX = 3, 6


def check_k(k: int) -> int:
    """Validate a k-mer size (DNABERT ships k = 3..6)."""
    if not isinstance(k, (int,)) or isinstance(k, bool) or not K_MIN <= k <= K_MAX:
        raise GeneMaskInputError(f"k must be an integer from {K_MIN} to {K_MAX}, got {k!r}.",
                                 fix="use k=6 (the GeneMask default) or 3, 4, 5.")
    return k


def seq_to_kmers(seq: str, k: int = 6) -> str:
    """'ACGTACG' -> 'ACGTAC CGTACG' (stride 1: L nucleotides give L-k+1 k-mers)."""
    check_k(k)
    seq = seq.strip().upper()
    if len(seq) < k:
        raise GeneMaskInputError(f"sequence of {len(seq)} nt is shorter than k={k}.",
                                 fix=f"give sequences of at least {k} nucleotides.")
    return " ".join(seq[i:i + k] for i in range(len(seq) - k + 1))


def kmers_to_seq(text: str, *, source: object | None = None, line: int | None = None) -> str:
    """'ACGTAC CGTACG' -> 'ACGTACG': first base of each k-mer plus the whole last k-mer.

    Checks that the k-mers have one length and overlap by k-1, so a
    shuffled or non-overlapping text is reported instead of silently decoded.
    """
    kmers = text.split()
    if not kmers:
        raise GeneMaskInputError("empty k-mer text.", source=source, line=line,
                                 fix="give space-separated overlapping k-mers.")
    k = len(kmers[0])
    for i, km in enumerate(kmers):
        if len(km) != k:
            raise GeneMaskInputError(
                f"k-mer {i + 1} ({km!r}) has length {len(km)}, the first has {k}.",
                source=source, line=line, fix="all k-mers of a sequence must have the same length.")
        if i and km[:-1] != kmers[i - 1][1:]:
            raise GeneMaskInputError(
                f"k-mers {i} and {i + 1} ({kmers[i - 1]!r}, {km!r}) do not overlap by k-1.",
                source=source, line=line,
                fix="k-mer text must be stride-1 overlapping k-mers as DNABERT writes them.")
    return "".join(km[0] for km in kmers[:-1]) + kmers[-1]
