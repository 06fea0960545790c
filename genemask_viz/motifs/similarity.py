"""Motif-to-motif similarity (Tomtom-style) and grouping of top k-mers into consensus motifs.

Comparison of a query matrix Q (Lq, 4) with a target T (Lt, 4), both
probability matrices in A, C, G, T order, as in Tomtom's Pearson distance
(Gupta et al. 2007): for every relative offset and both strands of the
query, the aligned columns i <-> i + offset are compared by Pearson
correlation over the four bases, and the alignment scores

    score = sum over aligned columns of PCC(Q_i, T_{i+offset})

(overlap at least ``min(min_overlap, Lq, Lt)`` columns; Tomtom's p-values are
not computed). ``offset`` is the target column under query column 0 of the
query as oriented; strand -1 means the query's reverse complement aligns.

Grouping: top k-mers, in rank order, join the first group holding a member
that they (or their reverse complement) overlap exactly with a shift of at
most ``max_shift`` bases, staying within ``max_shift`` of the group's first
k-mer (so groups cannot chain into long repeats); otherwise they start a group. A group's counts
matrix adds each member's count at its aligned letters, which is the counts
matrix of its occurrences in the corpus (overlapping occurrences counted
once per member).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .library import MotifSet
from .scoring import encode_kmers, revcomp

DEFAULT_MIN_OVERLAP = 5


def _standardise(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, float)
    m = m - m.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norm, out=np.zeros_like(m), where=norm > 0)


def column_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(La, Lb) Pearson correlation of every column of ``a`` with every column of ``b``."""
    return _standardise(a) @ _standardise(b).T


def compare_pwms(query: np.ndarray, target: np.ndarray,
                 min_overlap: int = DEFAULT_MIN_OVERLAP) -> dict:
    """Best alignment of ``query`` on ``target`` over offsets and strands (see module doc)."""
    query, target = np.asarray(query, float), np.asarray(target, float)
    lq, lt = len(query), len(target)
    need = min(min_overlap, lq, lt)
    best = {"score": -np.inf, "mean_pcc": np.nan, "offset": 0, "strand": 1, "overlap": 0}
    for strand, q in ((1, query), (-1, query[::-1, ::-1])):
        pcc = column_pearson(q, target)                       # (lq, lt)
        for off in range(need - lq, lt - need + 1):
            i = np.arange(max(0, -off), min(lq, lt - off))
            s = float(pcc[i, i + off].sum())
            if s > best["score"] + 1e-12:
                best = {"score": s, "mean_pcc": s / len(i), "offset": off, "strand": strand,
                        "overlap": len(i)}
    return best


def best_matches(query: np.ndarray, mset: MotifSet, top: int = 5,
                 min_overlap: int = DEFAULT_MIN_OVERLAP) -> pd.DataFrame:
    """The ``top`` motifs of ``mset`` most similar to ``query``, best first."""
    rows = [dict(motif_id=mid, motif_name=name, **compare_pwms(query, p, min_overlap))
            for mid, name, p in zip(mset.ids, mset.names, mset.probs)]
    df = pd.DataFrame(rows).sort_values(["score", "mean_pcc"], ascending=False, kind="stable")
    return df.head(top).reset_index(drop=True)


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
