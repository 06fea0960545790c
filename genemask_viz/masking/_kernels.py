"""Compiled (numba) kernels of the centre strategies and of the hidden-nucleotide mask.

These compute, for CPU tensors (through their numpy views), exactly what the
batched torch code in :mod:`genemask_viz.masking.strategies` and
:mod:`genemask_viz.masking.hidden` computes, in one pass per batch instead of
a few hundred small torch operations. The torch code stays the path for other
devices and the specification the tests compare these kernels against.

Conventions (shared with the torch code):

* ``maskable[b, t]`` = ``ids >= 5`` and attended and not special;
* centres are the drawn positions that are maskable;
* a centre c masks ``c+lo .. c+hi``; GeneMask candidates are ``c`` then
  ``c+lo .. c+hi`` (skipping c), scored by ``scores[ids[j]]`` (``mode`` 1,
  content) or ``scores[j]`` (``mode`` 2, the release's position; ``-inf`` past
  the vocabulary), ``-inf`` when not maskable; j* is the first best;
* per row, the ``n_ext`` best centres by score(j*) (ties: leftmost first),
  ``n_ext = m`` if ``ceil(top_fraction * m) < extend_all_below`` else that
  ceiling, also mask ``j*-E .. j*+E``;
* spans per row: the centres' own spans in position order, then the extended
  spans in centre order, each clipped to the row's first..last maskable
  position;
* nucleotide column p is valid when a k-mer position (id >= 5 or ``[UNK]``,
  attended) covers it (t in p-k+1..p) and hidden when no *unmasked* one does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["centre_mask_kernel", "hidden_kernel", "value_range", "nan_to_neginf"]

_UNK_ID = 1
_N_SPECIAL = 5
_FMIN = np.finfo(np.float64).min
_FMAX = np.finfo(np.float64).max


@njit(cache=True, nogil=True)
def hidden_kernel(ids, att, has_att, token_mask, k):
    """``(hidden, valid)``, both ``bool[B, T+k-1]``, of a masked batch (see module docstring)."""
    B, T = ids.shape
    W = T + k - 1
    hidden = np.zeros((B, W), np.bool_)
    valid = np.zeros((B, W), np.bool_)
    kmer = np.empty(T, np.bool_)
    seen = np.empty(T, np.bool_)
    for b in range(B):
        for t in range(T):
            x = (ids[b, t] >= _N_SPECIAL) | (ids[b, t] == _UNK_ID)
            if has_att:
                x &= att[b, t]
            kmer[t] = x
            seen[t] = x & ~token_mask[b, t]
        vb = valid[b]
        sb = hidden[b]  # first "seen by an unmasked k-mer", turned into hidden below
        for o in range(k):
            for t in range(T):
                vb[t + o] |= kmer[t]
                sb[t + o] |= seen[t]
        for p in range(W):
            sb[p] = vb[p] & ~sb[p]
    return hidden, valid


@njit(cache=True, nogil=True)
def _best_candidate(ids, maskable, scores, b, c, lo, hi, mode):
    """(j*, score) of the centre (b, c): first maximum over c, c+lo .. c+hi."""
    T = ids.shape[1]
    n_scores = scores.shape[0]
    best_j = c
    best_s = -np.inf
    for i in range(hi - lo + 1):
        j = c if i == 0 else (c + lo + i - 1 if c + lo + i - 1 < c else c + lo + i)
        s = -np.inf
        if 0 <= j < T and maskable[b, j]:
            key = ids[b, j] if mode == 1 else j
            if key < n_scores:
                s = scores[key]
                if s != s:  # NaN scores rank lowest
                    s = -np.inf
        if i == 0:
            best_s = s
        elif s > best_s:
            best_j = j
            best_s = s
    return best_j, best_s


@njit(cache=True, nogil=True)
def centre_mask_kernel(ids, att, has_att, special, has_special, drawn, scores, k, lo, hi, mode,
                       E, top_fraction, extend_all_below, details):
    """One batch of a centre strategy (mode 0: random / dnabert; 1, 2: genemask by content /
    position). Returns ``(maskable, centres, token_mask, centre_index, chosen_pos, chosen_id,
    chosen_score, extended, spans, span_kind, hidden, valid)``; the genemask arrays are empty for
    mode 0, spans and the nucleotide masks empty unless ``details``."""
    B, T = ids.shape
    maskable = np.empty((B, T), np.bool_)
    centres = np.empty((B, T), np.bool_)
    token_mask = np.zeros((B, T), np.bool_)
    first = np.full(B, T, np.int64)
    last = np.full(B, -1, np.int64)
    row_start = np.zeros(B + 1, np.int64)
    where = np.empty(T, np.int64)
    centre_pos = np.empty(B * T, np.int64)
    M = 0
    for b in range(B):
        mb = maskable[b]
        cb = centres[b]
        for t in range(T):
            mb[t] = ids[b, t] >= _N_SPECIAL
        if has_att:
            for t in range(T):
                mb[t] &= att[b, t]
        if has_special:
            for t in range(T):
                mb[t] &= ~special[b, t]
        for t in range(T):
            cb[t] = mb[t] & drawn[b, t]
        n = 0
        for t in range(T):
            if cb[t]:  # sparse: a predictable branch beats branch-free compaction
                where[n] = t
                n += 1
        row_start[b] = M
        centre_pos[M:M + n] = where[:n]
        M += n
        for t in range(T):
            if mb[t]:
                first[b] = t
                break
        for t in range(T - 1, -1, -1):
            if mb[t]:
                last[b] = t
                break
    row_start[B] = M
    centre_index = np.empty((M, 2), np.int64)
    for b in range(B):
        for i in range(row_start[b], row_start[b + 1]):
            centre_index[i, 0] = b
            centre_index[i, 1] = centre_pos[i]
    G = M if mode > 0 else 0
    chosen_pos = np.empty(G, np.int64)
    chosen_id = np.empty(G, np.int64)
    chosen_score = np.empty(G, np.float64)
    extended = np.zeros(G, np.bool_)
    n_extended = 0
    if mode > 0:
        for i in range(M):
            b, c = centre_index[i, 0], centre_index[i, 1]
            j, s = _best_candidate(ids, maskable, scores, b, c, lo, hi, mode)
            chosen_pos[i] = j
            chosen_id[i] = ids[b, j]
            chosen_score[i] = s
        for b in range(B):
            s0, s1 = row_start[b], row_start[b + 1]
            m = s1 - s0
            if m == 0:
                continue
            n_top = np.int64(math.ceil(m * top_fraction))
            n_ext = m if n_top < extend_all_below else n_top
            if n_ext >= m:
                extended[s0:s1] = True
            elif n_ext > 0:
                neg_key = np.empty(m, np.float64)  # descending key, ties keep position order
                for i in range(m):
                    s = chosen_score[s0 + i]
                    neg_key[i] = -(_FMIN if s == -np.inf else (_FMAX if s == np.inf else s))
                order = np.argsort(neg_key, kind="mergesort")
                for i in range(n_ext):
                    extended[s0 + order[i]] = True
            n_extended += min(n_ext, m)
    for i in range(M):  # the spans, on the token mask
        b, c = centre_index[i, 0], centre_index[i, 1]
        for t in range(max(c + lo, 0), min(c + hi, T - 1) + 1):
            if maskable[b, t]:
                token_mask[b, t] = True
        if G and extended[i]:
            j = chosen_pos[i]
            for t in range(max(j - E, 0), min(j + E, T - 1) + 1):
                if maskable[b, t]:
                    token_mask[b, t] = True
    S = M + n_extended if details else 0
    spans = np.empty((S, 3), np.int64)
    span_kind = np.empty(S, np.int64)
    if details:
        r = 0
        for b in range(B):
            for i in range(row_start[b], row_start[b + 1]):
                c = centre_index[i, 1]
                spans[r, 0], spans[r, 1], spans[r, 2] = b, max(c + lo, first[b]), min(c + hi, last[b])
                span_kind[r] = 0
                r += 1
            if G:
                for i in range(row_start[b], row_start[b + 1]):
                    if extended[i]:
                        j = chosen_pos[i]
                        spans[r, 0], spans[r, 1], spans[r, 2] = b, max(j - E, first[b]), \
                            min(j + E, last[b])
                        span_kind[r] = 1
                        r += 1
        hidden, valid = hidden_kernel(ids, att, has_att, token_mask, k)
    else:
        hidden = np.empty((0, 0), np.bool_)
        valid = np.empty((0, 0), np.bool_)
    return (maskable, centres, token_mask, centre_index, chosen_pos, chosen_id, chosen_score,
            extended, spans, span_kind, hidden, valid)


@njit(cache=True, nogil=True)
def value_range(x):
    """``(min, max)`` of a non-empty integer array (any shape, C-contiguous)."""
    flat = x.ravel()
    lo = flat[0]
    hi = flat[0]
    for i in range(flat.size):  # selects, not min/max calls: LLVM vectorises this
        v = flat[i]
        lo = v if v < lo else lo
        hi = v if v > hi else hi
    return lo, hi


@njit(cache=True, nogil=True)
def nan_to_neginf(x):
    """``(copy of x with NaN -> -inf, whether x had a NaN)`` for a float64 vector."""
    out = np.empty_like(x)
    had = False
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            had = True
            v = -np.inf
        out[i] = v
    return out, had
