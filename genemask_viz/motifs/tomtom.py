"""Tomtom p-, E- and q-values of k-mer groups against a motif library, through memelite.

``memelite.tomtom`` (Schreiber's numba implementation of MEME's Tomtom, Gupta
et al. 2007; "complete" scores, Euclidean column distance, both strands of
every target) gives, for every query and target, the p-value of the best
alignment, its score, offset, overlap and strand. We add what MEME's Tomtom
prints beside it:

    E = p * T                        (T = number of targets)
    q = Benjamini-Hochberg over the T p-values of one query

(Tomtom's q-value: the smallest false discovery rate at which that match
would be called, across all targets of the query.)

Queries are probability matrices (width, 4) in A, C, G, T order, e.g. the
counts of a :class:`~genemask_viz.motifs.similarity.KmerGroup` plus a
pseudocount. memelite's offset is the column of the (oriented) target under
query column 0, strand 1 meaning the target's reverse complement;
:func:`logo_offset` turns that into the k-mer scoring convention that
:func:`~genemask_viz.motifs.logos.match_logo` draws.

The first call of a process compiles memelite's kernels (numba, cached on disk
afterwards: about a minute once per installation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

from .library import MotifSet

PSEUDOCOUNT = 0.25  # added to each cell of a group's counts before normalising


def counts_to_probs(counts: np.ndarray, pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """(width, 4) counts -> probabilities with ``pseudocount`` per cell."""
    c = np.asarray(counts, float) + pseudocount
    return c / c.sum(axis=1, keepdims=True)


def bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of a 1-D array (NaN kept as NaN)."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(np.clip(p[ok], 0, 1), method="bh")
    return out


def tomtom_matrix(queries: list[np.ndarray], mset: MotifSet, n_jobs: int = 1) -> dict:
    """Tomtom of every query (width, 4) against every motif of ``mset``.

    Returns arrays of shape (Q, T): ``p``, ``E``, ``q``, ``score``, ``offset``,
    ``overlap``, ``strand`` (0 forward, 1 target reverse-complemented).
    """
    from memelite import tomtom

    qs = [np.ascontiguousarray(np.asarray(q, float).T) for q in queries]
    ts = [np.ascontiguousarray(np.asarray(t, float).T) for t in mset.probs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # few targets: caller's choice
        p, score, offset, overlap, strand = tomtom(qs, ts, n_jobs=n_jobs)
    p = np.clip(p, 0.0, 1.0)
    q = np.vstack([bh(row) for row in p])
    return {"p": p, "E": p * len(ts), "q": q, "score": score, "offset": offset.astype(int),
            "overlap": overlap.astype(int), "strand": strand.astype(int)}


def logo_offset(n: int, width: int, offset: int, strand: int) -> tuple[int, int]:
    """memelite's (offset, strand) -> (offset, strand) of :func:`match_logo`'s convention."""
    if strand == 0:
        return int(offset), 1
    return int(width - offset - n), -1


def best_hits(result: dict, mset: MotifSet, top: int = 3) -> pd.DataFrame:
    """The ``top`` targets of each query by p-value (ties: score), one row each."""
    rows = []
    for i in range(result["p"].shape[0]):
        order = np.lexsort((-result["score"][i], result["p"][i]))[:top]
        for h, j in enumerate(order, start=1):
            rows.append({"query": i, "hit": h, "motif_id": mset.ids[j], "motif_name": mset.names[j],
                         "p": float(result["p"][i, j]), "E": float(result["E"][i, j]),
                         "q": float(result["q"][i, j]), "tomtom_score": float(result["score"][i, j]),
                         "offset": int(result["offset"][i, j]), "overlap": int(result["overlap"][i, j]),
                         "strand": "+" if result["strand"][i, j] == 0 else "-", "motif_index": int(j)})
    return pd.DataFrame(rows)


def rank_of(result: dict, query: int, target: int) -> int:
    """1-based rank of ``target`` among the targets of ``query`` by p-value."""
    p = result["p"][query]
    return int((p < p[target]).sum() + 1)
