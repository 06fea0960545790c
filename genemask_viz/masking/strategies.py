"""Batched masking strategies (spec section 3): token ids in, a :class:`MaskResult` out.

Common rules: only k-mer tokens are maskable (never ``[PAD] [UNK] [CLS] [SEP]
[MASK]``, padding or anything in ``special_tokens_mask``); spans are clipped
to the row's first..last maskable position and intersected with the maskable
positions. A ``torch.Generator`` (or ``seed``) makes a batch reproducible; the
random draws can also be injected (``centres=``) to compare against
:mod:`genemask_viz.masking.reference` with identical draws.

``random``  BERT: each maskable token i.i.d. with probability ``rate`` (0.15).
``dnabert`` centres ~ Bernoulli(``centre_prob`` = 0.025) over maskable
    positions; each centre c masks ``c+lo .. c+hi`` (DNABERT's offsets, k tokens:
    c-2..c+3 for k=6). A lone span hides exactly one nucleotide.
``genemask`` centres ~ Bernoulli(0.0176), each masks its DNABERT span. For
    each centre the candidates are the maskable positions ``j`` in
    ``[c, c+lo .. c+hi]`` (in that order, the release's), scored by the table's
    score of the k-mer **at** j (``scores[input_ids[j]]``; unknown and ``[UNK]``
    score -inf); ``j*`` = the first best. With m centres in a row, the top
    ``n_top = ceil(top_fraction * m)`` centres by score(j*) (ties: leftmost
    centre first) also mask ``j*-E .. j*+E``, E = ``extend_half_width`` = k-1,
    a 2k-1 token span that hides exactly the k nucleotides of the k-mer at j*;
    when ``n_top < extend_all_below`` (5) every centre is extended (the release).
``genemask-released`` identical, except that candidate j is scored by
    ``scores[j]``: the **position** read as a vocabulary id, as the public
    release's ``kmer_id_to_pmi_rank(center)`` does. For replication only.

``pmi-span`` lives in :mod:`genemask_viz.masking.pmi_span`, the two controls
(``genemask-random-anchor``, ``dnabert-matched``) in
:mod:`genemask_viz.masking.controls`, and :func:`mask_batch` (by name) in
:mod:`genemask_viz.masking.dispatch`. Layering inside the package, one
direction only: ``result < hidden < scores < strategies < controls, pmi_span
< dispatch < collator, reference``.

CPU batches of the centre strategies run one compiled pass
(:func:`._kernels.centre_mask_kernel`); the torch code below is the path for
other devices and, with ``result._KERNELS = False``, the reference the kernel is
tested against (``tests/test_masking_fast.py``): both give identical results.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GeneMaskInputError
from ..tokens import MASK_ID, N_SPECIAL
from ._kernels import centre_mask_kernel, nan_to_neginf
from .hidden import _NO_MASK, hidden_nucleotides, maskable_positions, row_bounds, window_any
from .result import (MaskResult, as_batch, dnabert_span_offsets, kernels_on, make_generator,
                     numpy_view)

__all__ = ["RANDOM_RATE", "DNABERT_CENTRE_PROB", "GENEMASK_CENTRE_PROB",
           "GENEMASK_TOP_FRACTION", "GENEMASK_EXTEND_ALL_BELOW", "mask_random", "mask_dnabert",
           "mask_genemask", "mask_genemask_released", "apply_bert_rule", "extension_count",
           "rank_within_rows"]

#: BERT's token masking rate
RANDOM_RATE = 0.15
#: DNABERT's centre probability (its ``mlm_probability``)
DNABERT_CENTRE_PROB = 0.025
#: GeneMask's centre probability (paper and release)
GENEMASK_CENTRE_PROB = 0.0176
#: fraction of a row's centres (best scores first) that get the extended span: ceil(m/2)
GENEMASK_TOP_FRACTION = 0.5
#: the release extends *all* centres when ceil(top_fraction * m) is below this
GENEMASK_EXTEND_ALL_BELOW = 5
_NO_SCORES = np.zeros(1, dtype=np.float64)


def _draw(shape, prob: float, generator, centres) -> torch.Tensor:
    """The drawn centres ``[B, T]`` bool (injected or ~ Bernoulli(prob)), before ``& maskable``."""
    if not 0.0 <= prob <= 1.0:
        raise GeneMaskInputError(f"probability {prob} is outside [0, 1].", fix="use e.g. 0.025.")
    if centres is not None:
        centres = torch.as_tensor(centres).bool()
        if centres.shape != shape:
            raise GeneMaskInputError(f"centres has shape {tuple(centres.shape)}, the batch "
                                     f"{tuple(shape)}.", fix="inject one bool per token.")
        return centres
    return torch.rand(shape, generator=generator) < prob


def _spans(rows, first_pos, last_pos, first, last, kind: int):
    """Clip (row, first_pos..last_pos) to the row's maskable bounds -> ([S,3], [S])."""
    f = torch.maximum(first_pos, first[rows])
    l = torch.minimum(last_pos, last[rows])
    return torch.stack([rows, f, l], dim=1), torch.full_like(rows, kind)


def _centre_spans(input_ids, attention_mask, special_tokens_mask, k, centre_prob, span_offsets,
                  generator, centres):
    """Validated ``(ids, attention_mask, special_tokens_mask, drawn, (lo, hi))``."""
    ids, attention_mask, special_tokens_mask = as_batch(input_ids, attention_mask, k,
                                                        special_tokens_mask)
    drawn = _draw(ids.shape, centre_prob, generator, centres)
    lo, hi = dnabert_span_offsets(k) if span_offsets is None else span_offsets
    if lo > 0 or hi < 0:
        raise GeneMaskInputError(f"span_offsets={span_offsets} must contain 0 (the centre).",
                                 fix="use (lo, hi) with lo <= 0 <= hi, e.g. (-2, 3).")
    return ids, attention_mask, special_tokens_mask, drawn, (lo, hi)


def _kernel_ok(ids: torch.Tensor, drawn: torch.Tensor) -> bool:
    """Whether the batch runs the compiled kernels: CPU tensors (and ``_KERNELS`` on)."""
    return kernels_on() and ids.device.type == "cpu" and drawn.device.type == "cpu"


def _kernel_result(strategy, k, ids, attention_mask, special, drawn, lo, hi, details, mode=0,
                   scores=None, E=0, top_fraction=0.0, extend_all_below=0) -> MaskResult:
    """A centre strategy by :func:`._kernels.centre_mask_kernel` (same result as the torch code)."""
    if E < 0:
        raise ValueError(f"empty window: left={E}, right={E}")
    att = _NO_MASK if attention_mask is None else numpy_view(attention_mask)
    sp = _NO_MASK if special is None else numpy_view(special)
    sc = _NO_SCORES if scores is None else numpy_view(scores)
    out = centre_mask_kernel(numpy_view(ids), att, attention_mask is not None, sp,
                             special is not None, numpy_view(drawn), sc, int(k), int(lo),
                             int(hi), int(mode), int(E),
                             float(top_fraction), int(extend_all_below), bool(details))
    (maskable, centres, token_mask, centre_index, chosen_pos, chosen_id, chosen_score, extended,
     spans, span_kind, hidden, valid) = [torch.from_numpy(a) for a in out]
    extra = {}
    if mode:
        extra = dict(chosen_pos=chosen_pos, chosen_id=chosen_id, chosen_score=chosen_score,
                     extended=extended)
    return MaskResult(strategy=strategy, k=k, token_mask=token_mask, maskable=maskable,
                      centres=centres, spans=spans, span_kind=span_kind,
                      centre_index=centre_index, hidden_nt=hidden if details else None,
                      nt_valid=valid if details else None, **extra)


def _finish(strategy, k, ids, attention_mask, token_mask, maskable, centres, spans, kinds,
            details, **extra) -> MaskResult:
    hidden = valid = None
    if details:
        hidden, valid = hidden_nucleotides(ids, token_mask, k, attention_mask)
    if spans:
        order = torch.argsort(torch.cat([s[:, 0] for s in spans]), stable=True)
        spans_t, kinds_t = torch.cat(spans)[order], torch.cat(kinds)[order]
    else:
        spans_t, kinds_t = torch.empty(0, 3, dtype=torch.long), torch.empty(0, dtype=torch.long)
    return MaskResult(strategy=strategy, k=k, token_mask=token_mask, maskable=maskable,
                      centres=centres, spans=spans_t, span_kind=kinds_t,
                      centre_index=centres.nonzero(), hidden_nt=hidden, nt_valid=valid, **extra)

def uniform_keys(name: str, given, shape, generator) -> torch.Tensor:
    """One uniform [0, 1) float64 key per token position: drawn from ``generator``, or the
    injected ``given`` (tests and loop references inject them) after a shape check."""
    if given is None:
        return torch.rand(shape, generator=generator, dtype=torch.float64)
    given = torch.as_tensor(given, dtype=torch.float64)
    if given.shape != shape:
        raise GeneMaskInputError(f"{name} has shape {tuple(given.shape)}, the batch {tuple(shape)}.",
                                 fix="inject one uniform [0, 1) key per token position.")
    return given


def best_candidates(maskable, centres, lo, hi, score_of):
    """Each centre's best-scoring maskable candidate among its span ``c+lo .. c+hi``.

    Candidates are taken in the release's order (the centre, then ``c+lo .. c+hi`` left to
    right), so the centre wins ties. ``score_of(rows, candc)`` gives float64 scores ``[M, C]``
    of the candidate positions (clamped into the row). Returns ``rows, cpos`` (the centres,
    row-major), ``chosen_pos`` and ``chosen_score`` (-inf: no scored candidate).
    """
    T = maskable.shape[1]
    idx = centres.nonzero()                                  # [M, 2] row-major
    rows, cpos = idx[:, 0], idx[:, 1]
    offs = torch.tensor([0] + [o for o in range(lo, hi + 1) if o != 0], dtype=torch.long)
    cand = cpos[:, None] + offs[None, :]                     # [M, C]
    candc = cand.clamp(0, T - 1)
    ok = (cand >= 0) & (cand < T) & maskable[rows[:, None], candc]
    s = torch.where(ok, score_of(rows, candc), torch.tensor(-np.inf, dtype=torch.float64))
    best = s.argmax(dim=1, keepdim=True)                     # first maximum: the centre on ties
    return rows, cpos, cand.gather(1, best)[:, 0], s.gather(1, best)[:, 0]


def finish_extended(name, k, ids, attention_mask, maskable, centres, rows, cpos, lo, hi,
                    chosen_pos, extended, E, details, **extra) -> MaskResult:
    """The GeneMask family's last step: each centre's DNABERT span ``cpos+lo..cpos+hi`` plus,
    for the ``extended`` centres, an 11-token span ``chosen_pos-E..chosen_pos+E``."""
    B, T = ids.shape
    anchors = torch.zeros(B, T, dtype=torch.bool)
    anchors[rows[extended], chosen_pos[extended]] = True
    token_mask = (window_any(centres, hi, -lo) | window_any(anchors, E, E)) & maskable
    spans, kinds = [], []
    if details:
        first, last = row_bounds(maskable)
        spans, kinds = map(list, zip(_spans(rows, cpos + lo, cpos + hi, first, last, 0),
                                     _spans(rows[extended], chosen_pos[extended] - E,
                                            chosen_pos[extended] + E, first, last, 1)))
    return _finish(name, k, ids, attention_mask, token_mask, maskable, centres, spans, kinds,
                   details, chosen_pos=chosen_pos, chosen_id=ids[rows, chosen_pos],
                   extended=extended, **extra)


def mask_random(input_ids, attention_mask=None, *, k: int = 6, rate: float = RANDOM_RATE,
                generator: torch.Generator | None = None, seed: int | None = None,
                special_tokens_mask=None, centres=None, details: bool = True) -> MaskResult:
    """BERT masking: each maskable token independently with probability ``rate``.

    ``centres`` (``[B, T]`` bool) injects the drawn tokens. Spans are the single tokens.
    """
    ids, attention_mask, special, drawn, _ = _centre_spans(
        input_ids, attention_mask, special_tokens_mask, k, rate, (0, 0),
        make_generator(generator, seed), centres)
    if _kernel_ok(ids, drawn):
        return _kernel_result("random", k, ids, attention_mask, special, drawn, 0, 0, details)
    maskable = maskable_positions(ids, attention_mask, special)
    drawn = drawn & maskable
    spans, kinds = [], []
    if details:
        first, last = row_bounds(maskable)
        idx = drawn.nonzero()
        s, kd = _spans(idx[:, 0], idx[:, 1], idx[:, 1], first, last, 0)
        spans, kinds = [s], [kd]
    return _finish("random", k, ids, attention_mask, drawn.clone(), maskable, drawn, spans, kinds,
                   details)


def mask_dnabert(input_ids, attention_mask=None, *, k: int = 6,
                 centre_prob: float = DNABERT_CENTRE_PROB,
                 span_offsets: tuple[int, int] | None = None,
                 generator: torch.Generator | None = None, seed: int | None = None,
                 special_tokens_mask=None, centres=None, details: bool = True) -> MaskResult:
    """DNABERT span masking: centres ~ Bernoulli(centre_prob), each masks ``c+lo .. c+hi``.

    ``span_offsets=(lo, hi)`` defaults to DNABERT's for k (:func:`dnabert_span_offsets`).
    """
    ids, attention_mask, special, drawn, (lo, hi) = _centre_spans(
        input_ids, attention_mask, special_tokens_mask, k, centre_prob, span_offsets,
        make_generator(generator, seed), centres)
    if _kernel_ok(ids, drawn):
        return _kernel_result("dnabert", k, ids, attention_mask, special, drawn, lo, hi, details)
    maskable = maskable_positions(ids, attention_mask, special)
    centres = drawn & maskable
    token_mask = window_any(centres, hi, -lo) & maskable
    spans, kinds = [], []
    if details:
        first, last = row_bounds(maskable)
        idx = centres.nonzero()
        s, kd = _spans(idx[:, 0], idx[:, 1] + lo, idx[:, 1] + hi, first, last, 0)
        spans, kinds = [s], [kd]
    return _finish("dnabert", k, ids, attention_mask, token_mask, maskable, centres, spans, kinds,
                   details)


def _check_scores(scores, k: int) -> torch.Tensor:
    """The per-token-id scores as a float64 CPU vector of length 5 + 4^k, NaN -> -inf."""
    if scores is None:
        raise GeneMaskInputError("the genemask strategies need k-mer scores from a PMI table.",
                                 fix="pass scores=token_scores(table, k) or table=...")
    n = N_SPECIAL + 4 ** k
    if isinstance(scores, torch.Tensor) and scores.dtype == torch.float64 and scores.dim() == 1 \
            and scores.numel() == n:  # already checked (the collator converts once)?
        if kernels_on() and scores.device.type == "cpu":
            if not nan_to_neginf(numpy_view(scores))[1]:
                return scores
        elif not scores.isnan().any():
            return scores
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size != n:
        raise GeneMaskInputError(f"scores must be a vector of length 5 + 4^{k} = {n} "
                                 f"(one per token id); got shape {tuple(s.shape)}.",
                                 fix="build it with token_scores(table, k) for the same k.")
    if kernels_on():
        return torch.from_numpy(nan_to_neginf(np.ascontiguousarray(s))[0])
    s = torch.as_tensor(s)
    return torch.where(torch.isnan(s), -torch.inf, s)


def extension_count(rows: torch.Tensor, B: int, top_fraction: float,
                    extend_all_below: int) -> torch.Tensor:
    """``[B]`` number of extended centres per row: with m centres in the row,
    ``n_top = ceil(top_fraction * m)``, and ``n_ext = m if n_top < extend_all_below else n_top``."""
    m = torch.bincount(rows, minlength=B)
    n_top = torch.ceil(m.double() * top_fraction).long()
    return torch.where(n_top < extend_all_below, m, n_top)


def rank_within_rows(rows: torch.Tensor, key: torch.Tensor, B: int,
                     descending: bool) -> torch.Tensor:
    """``[M]`` rank (0 = first) of each centre's ``key`` among its row's centres; ``rows``
    sorted (row-major centres), ties by position. Two stable sorts, no loop over rows."""
    m = torch.bincount(rows, minlength=B)
    o1 = torch.argsort(key, descending=descending, stable=True)
    order = o1[torch.argsort(rows[o1], stable=True)]
    rank = torch.empty_like(rows)
    start = torch.cumsum(m, 0) - m
    rank[order] = torch.arange(rows.numel()) - start[rows[order]]
    return rank


def mask_genemask(input_ids, attention_mask=None, *, scores=None, k: int = 6,
                  centre_prob: float = GENEMASK_CENTRE_PROB,
                  span_offsets: tuple[int, int] | None = None,
                  top_fraction: float = GENEMASK_TOP_FRACTION,
                  extend_all_below: int = GENEMASK_EXTEND_ALL_BELOW,
                  extend_half_width: int | None = None, score_by: str = "content",
                  generator: torch.Generator | None = None, seed: int | None = None,
                  special_tokens_mask=None, centres=None, details: bool = True) -> MaskResult:
    """GeneMask (the paper's method); see the module docstring for the exact rule.

    Parameters
    ----------
    scores : ``float[5 + 4^k]`` per-token-id scores (:func:`token_scores`); higher is better.
    centre_prob : centre probability (paper: 0.0176).
    span_offsets : (lo, hi) of each centre's span and of its candidates (DNABERT's for k).
    top_fraction : the top ``ceil(top_fraction * m)`` centres of a row are extended.
    extend_all_below : when that number is below this, all m centres are extended.
    extend_half_width : E of the extended span ``j*-E .. j*+E`` (default k-1: hides the k-mer).
    score_by : "content" (score of the k-mer at j) or "position" (the release's bug).
    """
    if score_by not in ("content", "position"):
        raise GeneMaskInputError(f"score_by={score_by!r}; use 'content' or 'position'.")
    if not 0.0 <= top_fraction <= 1.0:
        raise GeneMaskInputError(f"top_fraction={top_fraction} is outside [0, 1].", fix="use 0.5.")
    E = k - 1 if extend_half_width is None else int(extend_half_width)
    score_vec = _check_scores(scores, k)
    ids, attention_mask, special, drawn, (lo, hi) = _centre_spans(
        input_ids, attention_mask, special_tokens_mask, k, centre_prob, span_offsets,
        make_generator(generator, seed), centres)
    name = "genemask" if score_by == "content" else "genemask-released"
    if _kernel_ok(ids, drawn) and score_vec.device.type == "cpu":
        return _kernel_result(name, k, ids, attention_mask, special, drawn, lo, hi, details,
                              1 if score_by == "content" else 2, score_vec, E, top_fraction,
                              extend_all_below)
    maskable = maskable_positions(ids, attention_mask, special)
    centres = drawn & maskable
    B = ids.shape[0]
    if score_by == "content":
        def score_of(rows, candc):
            return score_vec[ids[rows[:, None], candc]]
    else:  # the release: the position index read as a token id
        def score_of(rows, candc):
            return torch.where(candc < score_vec.numel(),
                               score_vec[candc.clamp(max=score_vec.numel() - 1)], -np.inf)
    rows, cpos, chosen_pos, chosen_score = best_candidates(maskable, centres, lo, hi, score_of)
    key = torch.nan_to_num(chosen_score, neginf=torch.finfo(torch.float64).min)
    n_ext = extension_count(rows, B, top_fraction, extend_all_below)
    extended = rank_within_rows(rows, key, B, descending=True) < n_ext[rows]
    return finish_extended(name, k, ids, attention_mask, maskable, centres, rows, cpos, lo, hi,
                           chosen_pos, extended, E, details, chosen_score=chosen_score)


def mask_genemask_released(input_ids, attention_mask=None, **kwargs) -> MaskResult:
    """The public release's GeneMask: candidates scored by **position** (see module docstring)."""
    return mask_genemask(input_ids, attention_mask, score_by="position", **kwargs)


def apply_bert_rule(input_ids: torch.Tensor, token_mask: torch.Tensor, k: int = 6,
                    mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1,
                    generator: torch.Generator | None = None,
                    mask_id: int = MASK_ID) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's 80/10/10 rule on a copy: ``(inputs, labels)``, labels -100 off the mask.

    Of the masked tokens, ``mask_replace_prob`` become ``[MASK]``,
    ``random_replace_prob`` a uniformly random k-mer token (ids 5 .. 5+4^k-1,
    never a special token) and the rest stay unchanged; drawn as in
    ``transformers.DataCollatorForLanguageModeling``. ``input_ids`` is not modified.
    """
    inputs = input_ids.clone()
    labels = input_ids.clone()
    labels[~token_mask] = -100
    shape = inputs.shape
    replaced = (torch.rand(shape, generator=generator) < mask_replace_prob) & token_mask
    inputs[replaced] = mask_id
    if mask_replace_prob < 1 and random_replace_prob > 0:
        scaled = random_replace_prob / (1 - mask_replace_prob)
        rand = (torch.rand(shape, generator=generator) < scaled) & token_mask & ~replaced
        words = torch.randint(N_SPECIAL, N_SPECIAL + 4 ** k, shape, generator=generator)
        inputs[rand] = words[rand]
    return inputs, labels
