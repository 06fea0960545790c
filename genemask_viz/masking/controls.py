"""Controls that separate "PMI chooses the span" from "the spans are longer" (issue 10).

GeneMask hides about 2.3x more nucleotides than DNABERT, so a gain over DNABERT
could come from span length alone. Two controls keep GeneMask's hidden rate and
drop the PMI choice, each in its own way:

``genemask-random-anchor``
    GeneMask without the scores. The same centres as ``genemask`` (the first
    draw of the generator is the same ``[B, T]`` uniform < ``centre_prob``, so
    one seed gives both strategies the same centres), each masking its DNABERT
    span ``c+lo .. c+hi``, and per row the same *number* of extended spans,
    ``n_ext = m if ceil(top_fraction * m) < extend_all_below else
    ceil(top_fraction * m)`` for m centres. What PMI decided is drawn instead:

    * the anchor of centre c is uniform over its candidates, the maskable
      positions among ``c+lo .. c+hi`` (c-2 .. c+3 for k=6): with the
      ``[B, T]`` uniform ``anchor_keys`` u at the centre and the n valid
      candidates in left-to-right order, candidate ``floor(u * n)``;
    * the extended centres are a uniform random subset of size ``n_ext``:
      the ``n_ext`` centres of the row with the smallest ``extend_keys``
      (``[B, T]`` uniforms at the centres; ties by position). GeneMask extends
      the best-scoring centres; taking those here would let PMI pick *where*
      the long spans go, which is what this control removes.

    Each extended centre also masks ``j-E .. j+E`` (E = k-1) around its anchor
    j, which hides the k nucleotides of the k-mer at j. Since j lies in
    ``c+lo .. c+hi``, that 2k-1 token span contains the centre's own span, so
    an extended centre hides k nucleotides wherever its anchor falls: the
    hidden rate equals GeneMask's up to span overlaps and sequence ends.
    Needs no table. Draw order: centres, anchor_keys, extend_keys.

``dnabert-matched``
    DNABERT's spans (``c+lo .. c+hi``) with the centre probability raised from
    0.025 to :data:`DNABERT_MATCHED_CENTRE_PROB`, so that the hidden-nucleotide
    rate equals ``genemask``'s at 510 tokens. How the number was derived:

    1. GeneMask's hidden rate at 510 tokens, measured on real sequence
       (:data:`GENEMASK_HIDDEN_RATE_510` = 7.858% +- 0.013;
       ``python3 bench/control_rates.py --rows 20480``: 510-token windows of
       the demo genome, GeneMask ranking of the hg38 release). The rate
       barely depends on the table: the extended span hides k nucleotides
       wherever its anchor falls (``genemask-released``: 7.833%).
    2. DNABERT's expected hidden rate as a function of the centre probability
       q, in closed form (:func:`dnabert_hidden_rate`): nucleotide column p is
       hidden when each k-mer token t covering it (t = p-k+1 .. p, inside the
       row) has a centre in ``t-hi .. t-lo`` (inside the row). Centres are
       i.i.d. Bernoulli(q), so

           P(hidden p) = sum_{S subset of W_p} q^|S| (1-q)^(|W_p|-|S|)
                         * [every covering t has a centre in S]

       over the at most 2k-1 = 11 positions W_p that can cover p (2^11
       patterns, enumerated); the rate is the mean over the row's T+k-1
       columns, sequence ends included.
    3. :func:`matched_centre_prob` solves ``dnabert_hidden_rate(q) = target``
       by bisection (the rate grows with q): q* = 0.0482 for the target above
       (DNABERT's own 0.025 gives 3.436% in closed form, 3.444% measured).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from ..errors import GeneMaskInputError
from ..sequences.kmertext import check_k
from .hidden import maskable_positions
from .result import MaskResult, dnabert_span_offsets, make_generator
from .strategies import (GENEMASK_CENTRE_PROB, GENEMASK_EXTEND_ALL_BELOW, GENEMASK_TOP_FRACTION,
                         _centre_spans, extension_count, finish_extended,
                         mask_dnabert, uniform_keys,
                         rank_within_rows)

__all__ = ["GENEMASK_HIDDEN_RATE_510", "DNABERT_MATCHED_CENTRE_PROB", "mask_genemask_random_anchor",
           "mask_dnabert_matched", "dnabert_hidden_rate", "matched_centre_prob"]

#: GeneMask's hidden-nucleotide rate at 510 tokens, measured (module docstring, step 1)
GENEMASK_HIDDEN_RATE_510 = 0.07858
#: DNABERT centre probability giving GeneMask's hidden rate at 510 tokens (step 3)
DNABERT_MATCHED_CENTRE_PROB = 0.0482



def mask_genemask_random_anchor(input_ids, attention_mask=None, *, k: int = 6,
                                centre_prob: float = GENEMASK_CENTRE_PROB,
                                span_offsets: tuple[int, int] | None = None,
                                top_fraction: float = GENEMASK_TOP_FRACTION,
                                extend_all_below: int = GENEMASK_EXTEND_ALL_BELOW,
                                extend_half_width: int | None = None,
                                generator: torch.Generator | None = None, seed: int | None = None,
                                special_tokens_mask=None, centres=None, anchor_keys=None,
                                extend_keys=None, scores=None, details: bool = True) -> MaskResult:
    """GeneMask with random anchors and a random extended subset (module docstring).

    ``centres`` / ``anchor_keys`` / ``extend_keys`` (``[B, T]``) inject the draws;
    ``scores`` is accepted and ignored (so a table-filled call works), and
    ``chosen_score`` is NaN: nothing is scored.
    """
    if not 0.0 <= top_fraction <= 1.0:
        raise GeneMaskInputError(f"top_fraction={top_fraction} is outside [0, 1].", fix="use 0.5.")
    E = k - 1 if extend_half_width is None else int(extend_half_width)
    if E < 0:
        raise GeneMaskInputError(f"extend_half_width={E} is negative.", fix="use k-1 (default).")
    generator = make_generator(generator, seed)
    ids, attention_mask, special, drawn, (lo, hi) = _centre_spans(
        input_ids, attention_mask, special_tokens_mask, k, centre_prob, span_offsets, generator,
        centres)
    B, T = ids.shape
    anchor_keys = uniform_keys("anchor_keys", anchor_keys, (B, T), generator)
    extend_keys = uniform_keys("extend_keys", extend_keys, (B, T), generator)
    maskable = maskable_positions(ids, attention_mask, special)
    centres = drawn & maskable
    idx = centres.nonzero()                                  # [M, 2] row-major
    rows, cpos = idx[:, 0], idx[:, 1]
    offs = torch.arange(lo, hi + 1)
    cand = cpos[:, None] + offs[None, :]                     # [M, C] left to right
    ok = (cand >= 0) & (cand < T) & maskable[rows[:, None], cand.clamp(0, T - 1)]
    n_ok = ok.sum(1)                                         # >= 1: the centre itself
    pick = (anchor_keys[rows, cpos] * n_ok).long().clamp(max=n_ok - 1)   # which valid one
    col = ((ok.cumsum(1) - 1 == pick[:, None]) & ok).long().argmax(1)
    chosen_pos = cand.gather(1, col[:, None])[:, 0]
    n_ext = extension_count(rows, B, top_fraction, extend_all_below)
    extended = rank_within_rows(rows, extend_keys[rows, cpos], B, descending=False) < n_ext[rows]
    return finish_extended("genemask-random-anchor", k, ids, attention_mask, maskable, centres,
                           rows, cpos, lo, hi, chosen_pos, extended, E, details,
                           chosen_score=torch.full(rows.shape, math.nan, dtype=torch.float64))


def mask_dnabert_matched(input_ids, attention_mask=None, *,
                         centre_prob: float | None = None, **kwargs) -> MaskResult:
    """DNABERT spans at :data:`DNABERT_MATCHED_CENTRE_PROB` (module docstring); other
    arguments as :func:`~genemask_viz.masking.strategies.mask_dnabert`."""
    kwargs.pop("scores", None)
    prob = DNABERT_MATCHED_CENTRE_PROB if centre_prob is None else centre_prob
    out = mask_dnabert(input_ids, attention_mask, centre_prob=prob, **kwargs)
    out.strategy = "dnabert-matched"
    return out


def _cover_patterns(width: int) -> np.ndarray:
    return np.array(list(itertools.product((False, True), repeat=width)), dtype=bool)


def dnabert_hidden_rate(centre_prob: float, n_tokens: int = 510, k: int = 6,
                        span_offsets: tuple[int, int] | None = None) -> float:
    """Expected hidden-nucleotide rate of DNABERT masking on one row of ``n_tokens`` k-mer
    tokens (all maskable), in closed form (module docstring, step 2)."""
    check_k(k)
    if not 0.0 <= centre_prob <= 1.0:
        raise GeneMaskInputError(f"centre_prob={centre_prob} is outside [0, 1].")
    lo, hi = dnabert_span_offsets(k) if span_offsets is None else span_offsets
    T = int(n_tokens)
    if T < 1:
        raise GeneMaskInputError(f"n_tokens={n_tokens} must be at least 1.")
    width = k + hi - lo
    pats = _cover_patterns(width)                            # [2^width, width]
    n_on = pats.sum(1)
    q = centre_prob
    cache: dict[tuple, float] = {}                           # interior columns are all alike
    total = 0.0
    for p in range(T + k - 1):                               # nucleotide p: tokens p-k+1 .. p
        base = p - k + 1 - hi                                # first position that can cover p
        pos = base + np.arange(width)
        inside = (pos >= 0) & (pos < T)
        covering = range(max(p - k + 1, 0), min(p, T - 1) + 1)
        key = (tuple(inside), tuple(t - base for t in covering))
        if key not in cache:
            ok = ~(pats & ~inside).any(1)                    # patterns of in-row positions only
            for t in covering:
                near = (pos >= t - hi) & (pos <= t - lo) & inside
                ok &= (pats & near).any(1)
            n_in = int(inside.sum())
            cache[key] = float(np.sum(ok * q ** n_on * (1 - q) ** (n_in - n_on)))
        total += cache[key]
    return total / (T + k - 1)


def matched_centre_prob(target_rate: float, n_tokens: int = 510, k: int = 6,
                        tol: float = 1e-7) -> float:
    """The centre probability q with ``dnabert_hidden_rate(q) = target_rate`` (bisection)."""
    if not 0.0 <= target_rate < 1.0:
        raise GeneMaskInputError(f"target_rate={target_rate} is outside [0, 1).")
    a, b = 0.0, 1.0
    while b - a > tol:
        mid = (a + b) / 2
        if dnabert_hidden_rate(mid, n_tokens, k) < target_rate:
            a = mid
        else:
            b = mid
    return (a + b) / 2
