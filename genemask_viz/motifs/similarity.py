"""Grouping of top k-mers into consensus motifs (compared with JASPAR by Tomtom, :mod:`.tomtom`).

Grouping: top k-mers, in rank order, join the first group holding a member
that they (or their reverse complement) overlap exactly with a shift of at
most ``max_shift`` bases, staying within ``max_shift`` of the group's first
k-mer (so groups cannot chain into long repeats); otherwise they start a group. A group's counts
matrix adds each member's weight at its aligned letters (weight 1 each by
default: one vote per k-mer).

The hand-written Pearson similarity that stood here before Tomtom was removed:
memelite's Tomtom gives the same alignment (offset, strand, overlap) and adds
p-, E- and q-values, so it added nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scoring import encode_kmers, revcomp

@dataclass
class KmerGroup:
    """Top k-mers merged into one motif: members as oriented, with their offsets."""

    kmers: list[str]
    oriented: list[str]
    offsets: list[int]
    weights: list[float]

    @property
    def counts(self) -> np.ndarray:
        """(width, 4) counts matrix: each member's weight at its aligned letters."""
        n = len(self.oriented[0])
        lo = min(self.offsets)
        width = max(self.offsets) - lo + n
        mat = np.zeros((width, 4))
        for word, off, w in zip(self.oriented, self.offsets, self.weights):
            codes = encode_kmers([word])[0]
            mat[np.arange(n) + off - lo, codes] += w
        return mat

    @property
    def probs(self) -> np.ndarray:
        c = self.counts + 1e-3
        return c / c.sum(axis=1, keepdims=True)

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.counts.argmax(axis=1))


def _shift_match(a: str, b: str, max_shift: int) -> int | None:
    """Shift s (a[i] == b[i + s] on the whole overlap), smallest |s| first, or None."""
    n = len(a)
    for s in sorted(range(-max_shift, max_shift + 1), key=abs):
        lo, hi = max(0, -s), min(n, n - s)
        if hi - lo > 0 and a[lo:hi] == b[lo + s:hi + s]:
            return s
    return None


def group_kmers(kmers, weights=None, max_shift: int = 2) -> list[KmerGroup]:
    """Greedy grouping of ranked k-mers by exact overlap or reverse complement (module doc)."""
    kmers = [str(k).upper() for k in kmers]
    weights = np.ones(len(kmers)) if weights is None else np.asarray(weights, float)
    groups: list[KmerGroup] = []
    for word, w in zip(kmers, weights):
        placed = False
        for g in groups:
            for member, off in zip(g.oriented, g.offsets):
                for oriented in (word, revcomp(word)):
                    s = _shift_match(oriented, member, max_shift)
                    if s is not None and abs(off + s) <= max_shift:  # stay near the seed
                        g.kmers.append(word)
                        g.oriented.append(oriented)
                        g.offsets.append(off + s)
                        g.weights.append(float(w))
                        placed = True
                        break
                if placed:
                    break
            if placed:
                break
        if not placed:
            groups.append(KmerGroup([word], [word], [0], [float(w)]))
    return groups
