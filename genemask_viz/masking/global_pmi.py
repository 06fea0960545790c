"""``global-pmi`` and the released CM-GEMS stages (Roy, Sural, Ganguly, ECAI 2024).

CM-GEMS ("Unlocking Efficiency: Adaptive Masking for Gene Transformer Models") is a
curriculum: pretraining starts with ``genemask`` and, once the training perplexity
stops falling, switches to **Global-PMI** masking, which masks the top-ranked k-mers
of each sequence wherever they are instead of searching next to random centres.
The schedule and its switch rule live in :mod:`genemask_viz.training.curriculum`;
the curricula's names (``cm-gems``, ``cm-gems-released``) and stages are in
:data:`~genemask_viz.masking.names.CURRICULA`.

``global-pmi`` (correct)
    1. Candidates: the maskable positions j whose k-mer (by **content**,
       ``scores[input_ids[j]]``, the table's declared ranking column) is among the
       ``top_k`` best-ranked k-mers of the table (default: every scored k-mer).
    2. Order, per sequence: best score first; ties (the same k-mer occurring twice,
       or equal scores) by a random key ``tie_break`` (``[B, T]`` uniforms, higher
       first; then leftmost).
    3. Windows: each taken anchor j masks ``j-E .. j+E`` (E = ``extend_half_width``
       = k-1: the follow-up's 11-token window for k = 6, which hides exactly the k
       nucleotides of the k-mer at j), clipped to the row's maskable positions.
    4. Anchors are taken in that order until at least ``target_rate`` of the row's
       maskable tokens are masked (``ceil(target_rate * n_maskable)``; the shortest
       such prefix, found by a batched binary search over the prefix length since the
       masked count only grows). A row whose candidates run out stays below the rate.

    Choice written down (the paper does not say): the target is a *token* rate of
    0.15 (:data:`GLOBAL_PMI_TARGET_RATE`), the share of tokens GeneMask masks at
    510 tokens, so that both stages of the curriculum mask about as much and differ
    in *which* k-mers they hide. The release instead takes as many windows as a
    Bernoulli(``mlm_probability``) draw gives centres (see below).

``cm-gems-released-global-pmi`` (the release's second stage; replication only)
    m = the number of centres drawn ~ Bernoulli(``centre_prob``, default 0.0176) over
    the maskable positions; the centres themselves are then dropped. The m
    candidate positions with the best ``kmer_id_to_pmi_rank(token_index)`` are each
    extended to ``j-5 .. j+5``. **Bug 3**: that call decodes the *position index* as a
    vocabulary id (GeneMask's lookup bug, now applied to every position), so the
    order of the positions does not depend on the sequence: every sequence gets the
    same positions masked (the first m of one fixed order, restricted to its
    maskable positions). Ties by position, as the release's ``sorted(..., key=(rank,
    index))``. Draw order: centres.

``cm-gems-released-genemask`` (the release's first stage; replication only)
    GeneMask as in the release, with two bugs. **Bug 1** (GeneMask's position-lookup
    bug, as in ``genemask-released``): each centre's candidates c, c-2..c+3 are
    scored by their position read as a vocabulary id. **Bug 2**: the centres that get
    the 11-token extension are the first ``n_ext`` centres in the order the release
    iterates them, taken *before* the list is sorted by score (``top_segments_only =
    highest_pmi_id_per_mask_center[0:segment_cnt]``, the sort comes on the next
    line), so the scores never decide which centres are extended. ``n_ext`` is
    GeneMask's: ``ceil(m/2)``, or all m when that is below 5. The release iterates a
    Python ``set`` of positions; for small sets of small integers CPython yields them in
    ascending order, otherwise in an order set by its hash table. We take position
    order (left to right), documented as our reading. Draw order: centres.

The three released stages hide their windows' k-mers exactly like the correct ones;
the point of keeping them is to measure what the bugs did. None is ever a default.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GeneMaskInputError
from .hidden import maskable_positions, row_bounds, window_any
from .result import MaskResult, as_batch, make_generator
from .strategies import (GENEMASK_CENTRE_PROB, GENEMASK_EXTEND_ALL_BELOW, GENEMASK_TOP_FRACTION,
                         _centre_spans, _check_scores, _draw, _finish, _spans, best_candidates,
                         extension_count, finish_extended, rank_within_rows, uniform_keys)

__all__ = ["GLOBAL_PMI_TARGET_RATE", "mask_global_pmi", "mask_cm_gems_released_genemask",
           "mask_cm_gems_released_global_pmi", "top_k_ids"]

#: global-pmi: share of a row's maskable tokens to mask (module docstring: a choice)
GLOBAL_PMI_TARGET_RATE = 0.15



def _half_width(k: int, extend_half_width) -> int:
    E = k - 1 if extend_half_width is None else int(extend_half_width)
    if E < 0:
        raise GeneMaskInputError(f"extend_half_width={E} is negative.", fix="use k-1 (default).")
    return E


def top_k_ids(score_vec: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """``bool[5 + 4^k]``: the ``top_k`` best-scored token ids (ties by id; only finite
    scores; None: every scored k-mer)."""
    finite = torch.isfinite(score_vec)
    if top_k is None:
        return finite
    if int(top_k) < 1:
        raise GeneMaskInputError(f"top_k={top_k} must be at least 1.", fix="e.g. top_k=100, or None.")
    order = torch.argsort(torch.where(finite, score_vec, -np.inf), descending=True, stable=True)
    keep = torch.zeros_like(finite)
    keep[order[:int(top_k)]] = True
    return keep & finite


def _row_rank(primary: torch.Tensor, secondary: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` rank (0 = first) by ``primary`` descending, then ``secondary`` descending,
    then position (two stable sorts)."""
    o1 = torch.argsort(secondary, dim=1, descending=True, stable=True)
    o2 = torch.argsort(primary.gather(1, o1), dim=1, descending=True, stable=True)
    order = o1.gather(1, o2)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return rank


def _windows_result(strategy, k, ids, attention_mask, maskable, anchors, E, score_vec, details,
                    by_position=None) -> MaskResult:
    """A MaskResult whose spans are the windows ``j-E .. j+E`` of ``anchors`` (kind
    "extended"); ``chosen_score`` is the k-mer's score, or ``by_position[j]`` (the release)."""
    token_mask = window_any(anchors, E, E) & maskable
    idx = anchors.nonzero()
    rows, pos = idx[:, 0], idx[:, 1]
    spans, kinds = [], []
    if details:
        first, last = row_bounds(maskable)
        s, kd = _spans(rows, pos - E, pos + E, first, last, 1)
        spans, kinds = [s], [kd]
    chosen_id = ids[rows, pos]
    chosen_score = score_vec[chosen_id] if by_position is None else by_position[pos]
    return _finish(strategy, k, ids, attention_mask, token_mask, maskable, anchors, spans, kinds,
                   details, chosen_pos=pos, chosen_id=chosen_id, chosen_score=chosen_score,
                   extended=torch.ones(rows.shape, dtype=torch.bool))


def mask_global_pmi(input_ids, attention_mask=None, *, scores=None, k: int = 6,
                    target_rate: float = GLOBAL_PMI_TARGET_RATE, top_k: int | None = None,
                    extend_half_width: int | None = None,
                    generator: torch.Generator | None = None, seed: int | None = None,
                    special_tokens_mask=None, tie_break=None, details: bool = True) -> MaskResult:
    """Global-PMI masking (module docstring): the best-ranked k-mers of each row, by content.

    ``tie_break`` (``[B, T]`` uniforms) injects the only random draw. In the result,
    ``centres`` / ``chosen_pos`` are the anchors (the k-mers whose windows were taken),
    ``chosen_score`` their scores and ``extended`` is all True.
    """
    if not 0.0 <= target_rate <= 1.0:
        raise GeneMaskInputError(f"target_rate={target_rate} is outside [0, 1].", fix="use 0.15.")
    E = _half_width(k, extend_half_width)
    score_vec = _check_scores(scores, k)
    ids, attention_mask, special = as_batch(input_ids, attention_mask, k, special_tokens_mask)
    B, T = ids.shape
    tie = uniform_keys("tie_break", tie_break, (B, T), make_generator(generator, seed))
    maskable = maskable_positions(ids, attention_mask, special)
    s = score_vec[ids]                                        # [B, T] score of the k-mer at j
    eligible = maskable & top_k_ids(score_vec, top_k)[ids]
    rank = _row_rank(torch.where(eligible, s, -np.inf), torch.where(eligible, tie, -1.0))
    goal = torch.ceil(maskable.sum(1).double() * target_rate - 1e-9).long()     # [B] tokens
    lo = torch.zeros(B, dtype=torch.long)
    hi = eligible.sum(1)                                      # answer in [lo, hi]
    while bool((lo < hi).any()):                              # shortest prefix reaching the goal
        mid = (lo + hi) // 2
        taken = eligible & (rank < mid[:, None])
        count = (window_any(taken, E, E) & maskable).sum(1)
        ok = count >= goal
        hi = torch.where(ok, mid, hi)
        lo = torch.where(ok, lo, mid + 1)
    anchors = eligible & (rank < lo[:, None])
    return _windows_result("global-pmi", k, ids, attention_mask, maskable, anchors, E, score_vec,
                           details)


def _position_scores(score_vec: torch.Tensor, T: int) -> torch.Tensor:
    """``[T]`` the release's lookup: position t read as token id t (-inf past the vocabulary)."""
    pos = torch.arange(T)
    return torch.where(pos < score_vec.numel(), score_vec[pos.clamp(max=score_vec.numel() - 1)],
                       torch.tensor(-np.inf, dtype=torch.float64))


def mask_cm_gems_released_global_pmi(input_ids, attention_mask=None, *, scores=None, k: int = 6,
                                     centre_prob: float = GENEMASK_CENTRE_PROB,
                                     extend_half_width: int | None = None,
                                     generator: torch.Generator | None = None,
                                     seed: int | None = None, special_tokens_mask=None,
                                     centres=None, details: bool = True) -> MaskResult:
    """The release's Global-PMI stage, bug 3 included (module docstring). ``centres``
    (``[B, T]`` bool) injects the draw; the result's ``centres`` are the anchors."""
    E = _half_width(k, extend_half_width)
    score_vec = _check_scores(scores, k)
    ids, attention_mask, special = as_batch(input_ids, attention_mask, k, special_tokens_mask)
    B, T = ids.shape
    drawn = _draw(ids.shape, centre_prob, make_generator(generator, seed), centres)
    maskable = maskable_positions(ids, attention_mask, special)
    m = (drawn & maskable).sum(1)                             # [B] windows per row
    order = torch.argsort(_position_scores(score_vec, T), descending=True, stable=True)
    in_order = maskable[:, order]                             # one order for every row
    take = in_order & (in_order.long().cumsum(1) <= m[:, None])
    anchors = torch.zeros_like(maskable)
    anchors[:, order] = take
    return _windows_result("cm-gems-released-global-pmi", k, ids, attention_mask, maskable,
                           anchors, E, score_vec, details,
                           by_position=_position_scores(score_vec, T))


def mask_cm_gems_released_genemask(input_ids, attention_mask=None, *, scores=None, k: int = 6,
                                   centre_prob: float = GENEMASK_CENTRE_PROB,
                                   span_offsets: tuple[int, int] | None = None,
                                   top_fraction: float = GENEMASK_TOP_FRACTION,
                                   extend_all_below: int = GENEMASK_EXTEND_ALL_BELOW,
                                   extend_half_width: int | None = None,
                                   generator: torch.Generator | None = None,
                                   seed: int | None = None, special_tokens_mask=None,
                                   centres=None, details: bool = True) -> MaskResult:
    """The release's GeneMask stage, bugs 1 and 2 included (module docstring)."""
    if not 0.0 <= top_fraction <= 1.0:
        raise GeneMaskInputError(f"top_fraction={top_fraction} is outside [0, 1].", fix="use 0.5.")
    E = _half_width(k, extend_half_width)
    score_vec = _check_scores(scores, k)
    ids, attention_mask, special, drawn, (lo, hi) = _centre_spans(
        input_ids, attention_mask, special_tokens_mask, k, centre_prob, span_offsets,
        make_generator(generator, seed), centres)
    maskable = maskable_positions(ids, attention_mask, special)
    centres = drawn & maskable
    B, T = ids.shape
    position_scores = _position_scores(score_vec, T)
    rows, cpos, chosen_pos, chosen_score = best_candidates(
        maskable, centres, lo, hi, lambda rows, candc: position_scores[candc])  # bug 1: position as id
    n_ext = extension_count(rows, B, top_fraction, extend_all_below)
    # bug 2: the first n_ext centres in iteration order, not the best-scoring ones
    extended = rank_within_rows(rows, cpos.double(), B, descending=False) < n_ext[rows]
    return finish_extended("cm-gems-released-genemask", k, ids, attention_mask, maskable,
                           centres, rows, cpos, lo, hi, chosen_pos, extended, E, details,
                           chosen_score=chosen_score)


#: strategy name -> function (the dispatcher reads this)
GLOBAL_PMI_FUNCTIONS = {"global-pmi": mask_global_pmi,
                        "cm-gems-released-genemask": mask_cm_gems_released_genemask,
                        "cm-gems-released-global-pmi": mask_cm_gems_released_global_pmi}
