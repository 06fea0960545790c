"""Best log-odds placement of every k-mer against every motif, both strands, vectorised.

A *placement* of an n-mer ``x`` on a motif of width L is an offset and a strand:

- n <= L: the k-mer lies on motif columns ``o .. o+n-1`` (offset ``o >= 0``);
- n >  L: the motif lies inside the k-mer, starting at k-mer base ``q``
  (reported as offset ``-q``).

Strand ``+1`` scores ``x`` itself, strand ``-1`` scores ``revcomp(x)``
against the motif's forward columns (so the logo of the motif's reverse
complement matches ``x`` as read). Scores are log2-odds in bits, the sum of the
motif's PSSM entries over the aligned columns (Biopython's
``PSSM.calculate``). For each placement we also keep

    rel  = (s - s_min) / (s_max - s_min)         window-normalised score in [0, 1]
    ic   = sum_j IC_j * p_j(x_j)                  bits of logo letter height hit by x

All placements of all motifs are columns of one matrix ``B`` of shape
(4n + 1, P); a batch of one-hot k-mers ``X`` (K, 4n + 1) gives every score as
``X @ B`` (K, P), and per-motif maxima come from ``np.maximum.reduceat``.

p-value thresholds (``placement_thresholds``): for each placement, the
smallest score t with P(score >= t) <= fpr for a k-mer drawn from the uniform
background, computed exactly by enumerating all 4^n k-mers (n <= 8). This is
Biopython's ``PSSM.distribution().threshold_fpr`` without the discretisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GeneMaskInputError
from .library import MotifSet

CODE = {b: i for i, b in enumerate("ACGT")}
MAX_EXHAUSTIVE_N = 8
_ROW_CHUNK = 512
_COL_CHUNK = 4096
_DECIMALS = 4  # scores are compared after rounding to 1e-4 bits (float32 sums differ by order)


def encode_kmers(kmers) -> np.ndarray:
    """(K, n) int8 codes A=0, C=1, G=2, T=3 from equal-length ACGT strings."""
    kmers = [str(k).upper() for k in kmers]
    if not kmers:
        raise GeneMaskInputError("no k-mers to score.", fix="give at least one ACGT k-mer.")
    n = len(kmers[0])
    bad = next((k for k in kmers if len(k) != n or set(k) - set("ACGT")), None)
    if bad is not None:
        raise GeneMaskInputError(f"k-mer {bad!r} is not an ACGT string of length {n}.",
                                 fix="score k-mers of one length over A, C, G, T.")
    raw = np.frombuffer("".join(kmers).encode("ascii"), dtype=np.uint8).reshape(len(kmers), n)
    lut = np.zeros(256, np.int8)
    for b, i in CODE.items():
        lut[ord(b)] = i
    return lut[raw]


def all_kmers(n: int) -> np.ndarray:
    """All 4^n k-mers (lexicographic in A, C, G, T) as strings."""
    codes = np.indices((4,) * n).reshape(n, -1).T
    return np.array(["".join("ACGT"[c] for c in row) for row in codes])


def revcomp(kmer: str) -> str:
    return kmer.upper().translate(str.maketrans("ACGT", "TGCA"))[::-1]


def _one_hot(codes: np.ndarray) -> np.ndarray:
    """(K, n) codes -> (K, 4n + 1) float32 one-hot with a trailing 1 for the bias row."""
    k, n = codes.shape
    x = np.zeros((k, 4 * n + 1), np.float32)
    x[np.arange(k)[:, None], 4 * np.arange(n)[None, :] + codes] = 1.0
    x[:, -1] = 1.0
    return x


@dataclass
class Placements:
    """All placements of all motifs for k-mers of length n, one column each (P columns)."""

    n: int
    logodds: np.ndarray   # (4n+1, P) window log-odds matrices, flattened
    icw: np.ndarray       # (4n+1, P) IC-weighted probability matrices
    motif: np.ndarray     # (P,) motif index, non-decreasing
    offset: np.ndarray    # (P,)
    strand: np.ndarray    # (P,) +1 / -1
    smin: np.ndarray      # (P,) lowest possible score of the placement
    smax: np.ndarray      # (P,)
    core: np.ndarray      # (P,) bool: the motif's most informative window
    starts: np.ndarray    # (M,) first column of each motif


def _windows(mat: np.ndarray, n: int) -> tuple[list[np.ndarray], list[int]]:
    """n x 4 windows of an (L, 4) matrix, zero-padded when the motif is shorter than n."""
    L = len(mat)
    if n <= L:
        return [mat[o:o + n] for o in range(L - n + 1)], list(range(L - n + 1))
    out, offs = [], []
    for q in range(n - L + 1):
        w = np.zeros((n, 4))
        w[q:q + L] = mat
        out.append(w)
        offs.append(-q)
    return out, offs


def build_placements(mset: MotifSet, n: int) -> Placements:
    """Every placement (offset, strand) of every motif for n-mers; see the module doc."""
    cols_lo, cols_ic, motif, offset, strand, smin, smax, core = [], [], [], [], [], [], [], []
    starts = []
    for m, (pssm, prob, ic) in enumerate(zip(mset.pssms, mset.probs, mset.ic)):
        starts.append(len(motif))
        wins, offs = _windows(pssm, n)
        icwins, _ = _windows(prob * ic[:, None], n)
        win_ic = [float(w.sum()) for w in _windows(np.repeat(ic[:, None], 4, 1) / 4, n)[0]]
        best = int(np.argmax(win_ic))
        for s in (1, -1):
            for i, (w, iw, o) in enumerate(zip(wins, icwins, offs)):
                if s == -1:  # revcomp(x) on w  ==  x on w reversed in both axes
                    w, iw = w[::-1, ::-1], iw[::-1, ::-1]
                cols_lo.append(np.append(w.ravel(), 0.0))
                cols_ic.append(np.append(iw.ravel(), 0.0))
                motif.append(m)
                offset.append(o)
                strand.append(s)
                smin.append(w.min(axis=1).sum())
                smax.append(w.max(axis=1).sum())
                core.append(i == best)
    return Placements(n, np.array(cols_lo, np.float32).T, np.array(cols_ic, np.float32).T,
                      np.array(motif), np.array(offset), np.array(strand, np.int8),
                      np.array(smin, np.float32), np.array(smax, np.float32), np.array(core),
                      np.array(starts))


def _segment_argmax(s: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment max and the first column reaching it: (K, P) -> (K, M), (K, M)."""
    mx = np.maximum.reduceat(s, starts, axis=1)
    counts = np.diff(np.append(starts, s.shape[1]))
    cols = np.arange(s.shape[1])
    hit = np.where(s >= np.repeat(mx, counts, axis=1), cols, s.shape[1])
    return mx, np.minimum.reduceat(hit, starts, axis=1)


def placement_thresholds(pl: Placements, fpr) -> np.ndarray:
    """(P,) smallest score t with P(score >= t) <= fpr under the uniform background.

    ``fpr`` is a scalar or a (P,) array. Exact, by scoring all 4^n k-mers.
    ``inf`` where not even the best k-mer is that rare (fpr * 4^n < 1).
    """
    if pl.n > MAX_EXHAUSTIVE_N:
        raise GeneMaskInputError(f"exact score thresholds need n <= {MAX_EXHAUSTIVE_N}, got {pl.n}.",
                                 fix="use the 'core' or 'ic' match definition for long n-grams.")
    total = 4 ** pl.n
    fpr = np.broadcast_to(np.asarray(fpr, float), pl.motif.shape)
    allowed = np.floor(fpr * total + 1e-9).astype(int)
    x = _one_hot(encode_kmers(all_kmers(pl.n)))
    out = np.full(pl.motif.shape, np.inf, np.float32)
    top_k = int(allowed.max()) + 1
    for c0 in range(0, len(out), _COL_CHUNK):
        s = np.round(x @ pl.logodds[:, c0:c0 + _COL_CHUNK], _DECIMALS)  # (4^n, chunk)
        top = -np.sort(-np.partition(s, total - top_k, axis=0)[total - top_k:], axis=0)
        a = allowed[c0:c0 + _COL_CHUNK]
        boundary = top[np.minimum(a, top_k - 1), np.arange(s.shape[1])]  # (a+1)-th best score
        rows = np.arange(top_k)[:, None]
        cand = np.where((rows < a[None, :]) & (top > boundary[None, :]), top, np.inf)
        # midway to the next lower score, so float noise cannot move a k-mer across
        out[c0:c0 + _COL_CHUNK] = (cand.min(axis=0) + boundary) / 2
    return out


@dataclass
class KmerScores:
    """Best placement of each of K k-mers on each of M motifs (arrays of shape (K, M)).

    ``score`` log2-odds of the best placement, with its ``offset`` and
    ``strand``; ``rel`` that placement's window-normalised score; ``best_rel``
    the best window-normalised score over placements (the spec's "best log-odds
    window as a fraction of the motif's maximum"); ``core_rel`` the best
    window-normalised score on the motif's most informative window (both
    strands); ``ic`` the best IC-weighted letter height (bits); ``pass_p`` True
    where some placement reaches its p-value threshold (None if not computed);
    ``pass_p_all`` the same with the per-motif false-positive rate Bonferroni-split
    over the M motifs as well (``fpr_all = fpr / M``), so that a uniformly random
    k-mer passes *any* motif with probability <= ``fpr``.
    """

    kmers: np.ndarray
    motif_ids: list[str]
    motif_names: list[str]
    score: np.ndarray
    offset: np.ndarray
    strand: np.ndarray
    rel: np.ndarray
    best_rel: np.ndarray
    core_rel: np.ndarray
    ic: np.ndarray
    pass_p: np.ndarray | None
    fpr: float | None
    pass_p_all: np.ndarray | None = None
    fpr_all: float | None = None


def score_kmers(kmers, mset: MotifSet, fpr: float | None = 0.01) -> KmerScores:
    """Score K equal-length k-mers against every motif of ``mset`` on both strands.

    ``fpr``: per-motif false-positive rate of the p-value match: a placement
    matches when its score reaches ``threshold_fpr(fpr / n_placements)`` of that
    motif (Bonferroni over its placements and strands), so a uniformly random
    k-mer matches a given motif with probability <= fpr. None skips it.
    ``pass_p_all`` uses ``fpr / len(mset)`` per motif (Bonferroni over the motifs
    too); where ``fpr / len(mset) * 4^n < 1`` no k-mer can reach it (all False).
    """
    kmers = np.asarray([str(k).upper() for k in kmers])
    codes = encode_kmers(kmers)
    n = codes.shape[1]
    pl = build_placements(mset, n)
    thr = thr_all = None
    if fpr is not None and n <= MAX_EXHAUSTIVE_N:
        per_motif = np.diff(np.append(pl.starts, len(pl.motif)))
        thr = placement_thresholds(pl, fpr / per_motif[pl.motif])
        thr_all = placement_thresholds(pl, fpr / len(mset) / per_motif[pl.motif])
    span = np.maximum(pl.smax - pl.smin, 1e-9)
    core_cols = np.flatnonzero(pl.core)
    core_motif = pl.motif[core_cols]
    core_starts = np.searchsorted(core_motif, np.arange(len(mset)))
    K, M = len(kmers), len(mset)
    out = {k: np.empty((K, M), np.float32) for k in ("score", "rel", "best_rel", "core_rel", "ic")}
    offset = np.empty((K, M), np.int16)
    strand = np.empty((K, M), np.int8)
    pass_p = None if thr is None else np.empty((K, M), bool)
    pass_all = None if thr_all is None else np.zeros((K, M), bool)
    any_all = thr_all is not None and bool(np.isfinite(thr_all).any())
    for r0 in range(0, K, _ROW_CHUNK):
        x = _one_hot(codes[r0:r0 + _ROW_CHUNK])
        rows = slice(r0, r0 + len(x))
        s = x @ pl.logodds                                              # (k, P)
        mx, col = _segment_argmax(s, pl.starts)
        out["score"][rows] = mx
        offset[rows], strand[rows] = pl.offset[col], pl.strand[col]
        out["rel"][rows] = (mx - pl.smin[col]) / span[col]
        rel = (s - pl.smin) / span
        out["best_rel"][rows] = np.maximum.reduceat(rel, pl.starts, axis=1)
        out["core_rel"][rows] = np.maximum.reduceat(rel[:, core_cols], core_starts, axis=1)
        out["ic"][rows] = np.maximum.reduceat(x @ pl.icw, pl.starts, axis=1)
        if thr is not None:
            pass_p[rows] = np.maximum.reduceat(np.round(s, _DECIMALS) >= thr, pl.starts, axis=1)
        if any_all:
            pass_all[rows] = np.maximum.reduceat(np.round(s, _DECIMALS) >= thr_all, pl.starts, axis=1)
    return KmerScores(kmers, list(mset.ids), list(mset.names), out["score"], offset, strand,
                      out["rel"], out["best_rel"], out["core_rel"], out["ic"], pass_p, fpr,
                      pass_all, None if thr_all is None else fpr / len(mset))
