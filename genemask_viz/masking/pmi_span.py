"""``pmi-span``: PMI-Masking (Levine et al., ICLR 2021) adapted to DNA, batched.

1. Units. The top-scoring n-grams (n = 2..n_max) of a PMI table form the unit
   vocabulary (:func:`~genemask_viz.masking.scores.unit_vocabulary`).
2. Segmentation, longest units first: for n = n_max down to 2, among the
   occurrences of length-n units that touch no nucleotide already in a unit,
   keep a maximal non-overlapping set chosen greedily in a random priority
   order (the random tie-break: ``tie_break`` keys, highest first, ties by
   position). Every other known nucleotide is a unit of its own.
   Batched exactly: the greedy-by-priority set equals the fixed point of
   "accept every candidate whose priority beats all overlapping candidates,
   drop those that now overlap" (a handful of rounds, each a windowed min),
   so there is no loop over positions or sequences.
3. Drawing. Units are taken in a random order (``priorities`` keys, lowest
   first) until at least ``target_rate`` of the row's known nucleotides are
   hidden; every maskable token covering a drawn nucleotide is masked. Hidden
   counts grow with each unit (gaps shorter than k between drawn units get
   hidden too), so the shortest sufficient prefix is found by a batched
   binary search over the prefix length, and the reported rate is the true
   hidden fraction, not the drawn one.

Nucleotide columns follow :mod:`genemask_viz.masking.hidden` (W = T + k - 1).
Because every drawn nucleotide needs all k tokens around it masked, a 15%
hidden rate masks far more than 15% of the tokens; that is the point of the
strategy (the model cannot copy a hidden base from an overlapping k-mer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import GeneMaskInputError
from .hidden import (hidden_nucleotides, kmer_positions, maskable_positions, nucleotide_codes,
                     nucleotides_to_tokens, row_bounds, tokens_to_nucleotides, window_any)
from .result import MaskResult, as_batch, make_generator
from .scores import UnitVocabulary

__all__ = ["PMI_SPAN_TARGET_RATE", "mask_pmi_span", "segment_units", "priority_rank"]

#: pmi-span: fraction of known nucleotides to hide per sequence (BERT's 15%)
PMI_SPAN_TARGET_RATE = 0.15


def priority_rank(keys: torch.Tensor, descending: bool) -> torch.Tensor:
    """Per-row rank of ``keys`` (0 = first), ties broken by position (stable sort)."""
    order = torch.argsort(keys, dim=-1, descending=descending, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(keys.shape[-1]).expand_as(order).contiguous())
    return rank


def _rolling_codes(codes: torch.Tensor, n_max: int) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """n -> (code of the n-gram starting at each column, all bases known), ``[B, W-n+1]``."""
    out = {}
    known = codes < 4
    code, ok = codes.clamp(max=3), known
    out[1] = (code, ok)
    for n in range(2, n_max + 1):
        if codes.shape[-1] - n + 1 <= 0:
            break
        code = code[:, :-1] * 4 + codes[:, n - 1:].clamp(max=3)
        ok = ok[:, :-1] & known[:, n - 1:]
        out[n] = (code, ok)
    return out


def segment_units(codes: torch.Tensor, units: UnitVocabulary, tie_break: torch.Tensor) -> torch.Tensor:
    """Greedy longest-first segmentation -> ``[B, W]`` unit length at each unit's first column (0 elsewhere).

    ``codes`` are nucleotide codes (4 = unknown, never in a unit); ``tie_break``
    ``[B, W]`` floats, the priority of an occurrence starting at each column.
    """
    B, W = codes.shape
    unit_len = torch.zeros(B, W, dtype=torch.long)
    covered = torch.zeros(B, W, dtype=torch.bool)
    lengths = [n for n in units.lengths if n <= W]
    rolling = _rolling_codes(codes, max(lengths, default=1))
    rank = priority_rank(tie_break, descending=True)
    big = W + 1
    for n in lengths:
        code, ok = rolling[n]
        vocab = units.codes[n]
        pos = torch.searchsorted(vocab, code).clamp(max=vocab.numel() - 1)
        cand = ok & (vocab[pos] == code) & ~window_any(covered, 0, n - 1, W - n + 1)
        key = rank[:, :W - n + 1]
        while bool(cand.any()):
            k = torch.where(cand, key, big).to(torch.float32)[:, None]
            # minimum rank among candidates overlapping each start (|s - s'| < n)
            wmin = -F.max_pool1d(-k, kernel_size=2 * n - 1, stride=1, padding=n - 1)[:, 0]
            accept = cand & (key.to(torch.float32) == wmin)
            unit_len[:, :W - n + 1][accept] = n
            covered |= window_any(accept, n - 1, 0, W)
            cand &= ~window_any(covered, 0, n - 1, W - n + 1)
    singles = (codes < 4) & ~covered
    unit_len[singles] = 1
    return unit_len


def mask_pmi_span(input_ids, attention_mask=None, *, units: UnitVocabulary, k: int = 6,
                  target_rate: float = PMI_SPAN_TARGET_RATE,
                  generator: torch.Generator | None = None, seed: int | None = None,
                  special_tokens_mask=None, priorities=None, tie_break=None,
                  details: bool = True) -> MaskResult:
    """PMI span masking (see the module docstring).

    Parameters
    ----------
    units : the unit vocabulary (:func:`unit_vocabulary` of a PMI table).
    target_rate : fraction of each row's known nucleotides to hide (at least).
    priorities, tie_break : optional injected ``[B, T+k-1]`` float keys: the unit
        draw order (lowest first, keyed at the unit's first column) and the
        segmentation priority (highest first); drawn uniformly when omitted.
    """
    if not isinstance(units, UnitVocabulary):
        raise GeneMaskInputError("pmi-span needs a unit vocabulary from a PMI table.",
                                 fix="pass units=unit_vocabulary(table) or table=...")
    if not 0.0 <= target_rate <= 1.0:
        raise GeneMaskInputError(f"target_rate={target_rate} is outside [0, 1].", fix="use 0.15.")
    ids, attention_mask, special_tokens_mask = as_batch(input_ids, attention_mask, k,
                                                        special_tokens_mask)
    generator = make_generator(generator, seed)
    B, T = ids.shape
    W = T + k - 1
    draws = []
    for name, given in (("priorities", priorities), ("tie_break", tie_break)):
        if given is None:
            given = torch.rand(B, W, generator=generator, dtype=torch.float64)
        given = torch.as_tensor(given, dtype=torch.float64)
        if given.shape != (B, W):
            raise GeneMaskInputError(f"{name} has shape {tuple(given.shape)}; expected {(B, W)}.",
                                     fix="inject one key per nucleotide column (T + k - 1).")
        draws.append(given)
    priorities, tie_break = draws
    maskable = maskable_positions(ids, attention_mask, special_tokens_mask)
    kmer = kmer_positions(ids, attention_mask)
    codes = nucleotide_codes(torch.where(kmer, ids, 0), k)
    unit_len = segment_units(codes, units, tie_break)
    starts = unit_len > 0
    # draw order of the units: rank among the row's unit starts
    unit_rank = priority_rank(torch.where(starts, priorities, torch.inf), descending=False)
    col = torch.arange(W).expand(B, W)
    start_col = torch.where(starts, col, -1).cummax(dim=1).values      # unit containing column p
    in_unit = codes < 4
    nt_rank = torch.where(in_unit, unit_rank.gather(1, start_col.clamp(min=0)), W + 1)
    n_units = starts.sum(1)
    valid = tokens_to_nucleotides(kmer, k)
    budget = target_rate * in_unit.sum(1).double()

    def masked_tokens(P: torch.Tensor) -> torch.Tensor:
        return nucleotides_to_tokens(nt_rank < P[:, None], k) & maskable

    def hidden_count(P: torch.Tensor) -> torch.Tensor:
        seen = tokens_to_nucleotides(kmer & ~masked_tokens(P), k)
        return (valid & ~seen).sum(1)

    # smallest prefix P in [0, n_units] with hidden(P) >= budget (n_units if none): hidden(P)
    # only grows with P, so a batched binary search finds it
    lo, hi = torch.zeros_like(n_units), n_units.clone()
    while bool((lo < hi).any()):
        active = lo < hi
        mid = (lo + hi) // 2
        enough = hidden_count(mid).double() >= budget
        hi = torch.where(active & enough, mid, hi)
        lo = torch.where(active & ~enough, mid + 1, lo)
    token_mask = masked_tokens(lo)
    drawn_units = starts & (unit_rank < lo[:, None])
    hidden = nt_valid = None
    spans = torch.empty(0, 3, dtype=torch.long)
    unit_idx = torch.empty(0, 3, dtype=torch.long)
    if details:
        hidden, nt_valid = hidden_nucleotides(ids, token_mask, k, attention_mask)
        u = drawn_units.nonzero()
        first_nt = u[:, 1]
        last_nt = first_nt + unit_len[u[:, 0], u[:, 1]] - 1
        unit_idx = torch.stack([u[:, 0], first_nt, last_nt], dim=1)
        first, last = row_bounds(maskable)
        f = torch.maximum(first_nt - k + 1, first[u[:, 0]])
        l = torch.minimum(last_nt, last[u[:, 0]])
        keep = f <= l                      # a unit covered only by [UNK] masks nothing
        spans = torch.stack([u[:, 0], f, l], dim=1)[keep]
    return MaskResult(strategy="pmi-span", k=k, token_mask=token_mask, maskable=maskable,
                      centres=torch.zeros(B, T, dtype=torch.bool), spans=spans,
                      span_kind=torch.full((spans.shape[0],), 2, dtype=torch.long),
                      centre_index=torch.empty(0, 2, dtype=torch.long), hidden_nt=hidden,
                      nt_valid=nt_valid, units=unit_idx)
