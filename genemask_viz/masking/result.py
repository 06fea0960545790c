"""What every masking strategy returns, and the checks shared by all of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import GeneMaskInputError
from ..sequences.kmertext import check_k
from ..tokens import N_SPECIAL
from ._kernels import value_range

__all__ = ["MaskResult", "SPAN_KINDS", "dnabert_span_offsets", "as_batch", "make_generator",
           "numpy_view", "kernels_on"]

#: span kinds in :attr:`MaskResult.span_kind`
SPAN_KINDS = ("centre", "extended", "unit")
#: CPU batches run the compiled kernels (:mod:`._kernels`); False: the torch code everywhere
#: (the tests switch it off to compare both paths). Lives here, below ``hidden`` and
#: ``strategies``, so that both read it without importing each other.
_KERNELS = True


def kernels_on() -> bool:
    """Whether CPU batches take the compiled kernels (read at call time, so tests can switch)."""
    return _KERNELS


def dnabert_span_offsets(k: int) -> tuple[int, int]:
    """DNABERT's span around a centre c for k = 3..6: tokens ``c+lo .. c+hi`` (k tokens).

    DNABERT's MASK_LIST: k=3 [-1, 1], k=4 [-1, 1, 2], k=5 [-2, -1, 1, 2],
    k=6 [-2, -1, 1, 2, 3]; i.e. ``lo = -((k-1)//2)``, ``hi = k//2``.
    """
    check_k(k)
    return -((k - 1) // 2), k // 2


@dataclass
class MaskResult:
    """A masked batch, before the 80/10/10 replacement.

    Shapes: B rows, T token positions, W = T + k - 1 nucleotide columns (see
    :mod:`genemask_viz.masking.hidden` for the layout: column p is the first
    base of the token at position p). M centres, S spans, U drawn units.

    Attributes
    ----------
    strategy, k : the strategy name and k-mer size.
    token_mask : ``[B, T]`` bool, the tokens the model must predict.
    hidden_nt, nt_valid : ``[B, W]`` bool, hidden nucleotides and real ones
        (None when computed with ``details=False``).
    maskable : ``[B, T]`` bool, positions any strategy may mask.
    centres : ``[B, T]`` bool, the drawn centres (``random``: the drawn tokens;
        ``pmi-span``: none).
    spans : ``[S, 3]`` long, (row, first, last) token positions, inclusive,
        clipped to the row's first..last maskable position; ordered by row.
    span_kind : ``[S]`` long, index into :data:`SPAN_KINDS` ("centre": a
        centre's own span; "extended": GeneMask's 2k-1 token span around the
        chosen k-mer; "unit": the tokens covering a drawn pmi-span unit).
    centre_index : ``[M, 2]`` long, (row, position) of each centre, row-major.
    chosen_pos, chosen_id, chosen_score, extended : ``[M]`` (GeneMask
        strategies only, else None): the best-scoring candidate position j*
        per centre (``genemask-random-anchor``: the random anchor, score NaN),
        the token id there, its score, and whether the centre was among the
        ones that got the extended span.
    units : ``[U, 3]`` long (pmi-span only): (row, first, last) nucleotide
        columns of each drawn unit.
    """

    strategy: str
    k: int
    token_mask: torch.Tensor
    maskable: torch.Tensor
    centres: torch.Tensor
    spans: torch.Tensor
    span_kind: torch.Tensor
    centre_index: torch.Tensor
    hidden_nt: torch.Tensor | None = None
    nt_valid: torch.Tensor | None = None
    chosen_pos: torch.Tensor | None = None
    chosen_id: torch.Tensor | None = None
    chosen_score: torch.Tensor | None = None
    extended: torch.Tensor | None = None
    units: torch.Tensor | None = None

    @property
    def token_rate(self) -> float:
        """Masked tokens / maskable tokens over the batch."""
        return float(self.token_mask.sum()) / max(1, int(self.maskable.sum()))

    @property
    def hidden_rate(self) -> float:
        """Hidden nucleotides / real nucleotides over the batch."""
        if self.hidden_nt is None:
            raise ValueError("hidden nucleotides were not computed (details=False)")
        return float(self.hidden_nt.sum()) / max(1, int(self.nt_valid.sum()))

    def row_spans(self, b: int) -> np.ndarray:
        """``[S_b, 3]`` (first, last, kind) of row b's spans."""
        sel = self.spans[:, 0] == b
        return torch.cat([self.spans[sel, 1:], self.span_kind[sel, None]], dim=1).numpy()


def make_generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator | None:
    """A generator from ``seed`` unless one is given (None: torch's global RNG)."""
    if generator is not None:
        return generator
    if seed is not None:
        return torch.Generator().manual_seed(int(seed))
    return None


def as_batch(input_ids, attention_mask=None, k: int = 6,
             special_tokens_mask=None) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Validate a batch: 2-D integer ids in the k-mer vocabulary, matching masks."""
    check_k(k)
    ids = torch.as_tensor(input_ids)
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise GeneMaskInputError(f"input_ids must be a 2-D integer tensor [batch, tokens]; got "
                                 f"shape {tuple(ids.shape)}, dtype {ids.dtype}.",
                                 fix="pass the 'input_ids' of a tokenized, padded batch.")
    ids = ids.long()
    vocab = N_SPECIAL + 4 ** k
    if ids.numel():
        if ids.device.type == "cpu":
            lo, hi = value_range(numpy_view(ids))
        else:
            lo, hi = (int(v) for v in torch.aminmax(ids))
        if lo < 0 or hi >= vocab:
            raise GeneMaskInputError(f"token ids must lie in [0, {vocab}) for k={k}; found "
                                     f"{lo}..{hi}.", fix="pass the k the ids were tokenized with.")
    masks = []
    for name, m in (("attention_mask", attention_mask), ("special_tokens_mask", special_tokens_mask)):
        if m is not None:
            m = torch.as_tensor(m)
            m = m[None] if m.dim() == 1 else m
            if m.shape != ids.shape:
                raise GeneMaskInputError(f"{name} has shape {tuple(m.shape)}, input_ids "
                                         f"{tuple(ids.shape)}.", fix=f"pass the batch's own {name}.")
            m = m.bool()
        masks.append(m)
    return ids, masks[0], masks[1]


def numpy_view(t: torch.Tensor) -> np.ndarray:
    """The C-contiguous numpy array of a CPU tensor (shares memory unless a copy is needed)."""
    return (t if t.is_contiguous() else t.contiguous()).detach().numpy()
