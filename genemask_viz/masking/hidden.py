"""Hidden-nucleotide analysis: which nucleotides no unmasked token covers.

Neighbouring k-mers overlap, so masking a token hides nothing unless its
neighbours are masked too. A nucleotide is **hidden** when every k-mer token
that covers it is masked (spec section 3); the hidden fraction is the
effective masking rate.

Nucleotide layout
-----------------
For token ids of shape ``[B, T]`` and k-mer size ``k`` the nucleotide axis has
``T + k - 1`` columns. Column ``p`` is the first base of the token at
position ``p``, so the token at position ``t`` covers columns ``t .. t+k-1``.
With the tokenizer's ``[CLS] x_1 .. x_L [SEP] [PAD]..`` rows, nucleotide ``i``
of the sequence (0-based) is column ``i + 1``, and columns ``1 .. L+k-1`` are
real (``nt_valid``); column 0 (under ``[CLS]``) and columns past the last k-mer
are not nucleotides. The layout needs no assumption about where the special
tokens are, so it also holds for rows with ``[UNK]`` k-mers in the middle.

A k-mer position is one holding a k-mer id (``>= 5``) or ``[UNK]`` (a k-mer
with a non-ACGT base). ``[UNK]`` is never masked, so the nucleotides it covers
are never hidden.

All helpers are batched tensor operations (cumulative sums over windows), no
loop over positions; :func:`hidden_nucleotides` of 2-D CPU tensors runs the
equivalent compiled kernel (:func:`._kernels.hidden_kernel`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..tokens import N_SPECIAL, UNK_ID
from ..sequences.fasta import INVALID
from .result import kernels_on, numpy_view

_NO_MASK = np.zeros((1, 1), dtype=np.bool_)

__all__ = ["kmer_positions", "maskable_positions", "window_any", "tokens_to_nucleotides",
           "nucleotides_to_tokens", "hidden_nucleotides", "nucleotide_codes", "row_bounds"]


def kmer_positions(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``[B, T]`` bool: positions that hold a k-mer token (a k-mer id or ``[UNK]``)."""
    pos = (input_ids >= N_SPECIAL) | (input_ids == UNK_ID)
    if attention_mask is not None:
        pos &= attention_mask.bool()
    return pos


def maskable_positions(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                       special_tokens_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``[B, T]`` bool: positions a strategy may mask (k-mer ids, never special tokens or padding)."""
    ok = input_ids >= N_SPECIAL
    if attention_mask is not None:
        ok &= attention_mask.bool()
    if special_tokens_mask is not None:
        ok &= ~special_tokens_mask.bool()
    return ok


def window_any(x: torch.Tensor, left: int, right: int, out_width: int | None = None) -> torch.Tensor:
    """``out[..., t] = any(x[..., t-left .. t+right])`` (outside ``x`` counts as False).

    ``left + right >= 0``; ``out_width`` defaults to ``x``'s width. One cumulative
    sum, so the cost does not grow with the window.

    Examples: spreading each True at ``c`` to ``c+lo .. c+hi`` is
    ``window_any(x, hi, -lo)``; "covered by a token" on the nucleotide axis is
    ``window_any(tokens, k-1, 0, T+k-1)``.
    """
    if left + right < 0:
        raise ValueError(f"empty window: left={left}, right={right}")
    width = x.shape[-1]
    out_width = width if out_width is None else out_width
    front = max(left, 0)
    back = max(0, out_width + right - width)
    xp = torch.nn.functional.pad(x.to(torch.int32), (front, back))
    cs = torch.nn.functional.pad(xp.cumsum(-1, dtype=torch.int32), (1, 0))
    # window of t is xp[t - left + front .. t + right + front]; both ends stay inside cs
    hi = right + front + 1
    lo = front - left
    return (cs[..., hi:hi + out_width] - cs[..., lo:lo + out_width]) > 0


def tokens_to_nucleotides(tokens: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, T]`` -> ``[B, T+k-1]``: nucleotide column p is True when any token covering it is."""
    return window_any(tokens, k - 1, 0, tokens.shape[-1] + k - 1)


def nucleotides_to_tokens(nt: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, T+k-1]`` -> ``[B, T]``: token t is True when any nucleotide it covers is."""
    return window_any(nt, 0, k - 1, nt.shape[-1] - k + 1)


def hidden_nucleotides(input_ids: torch.Tensor, token_mask: torch.Tensor, k: int = 6,
                       attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden and real nucleotides of a masked batch, both ``[B, T+k-1]`` bool.

    ``valid[p]`` = some k-mer position covers column p;
    ``hidden[p]`` = valid and no *unmasked* k-mer position covers it:

        hidden[b, p] = valid[b, p] and not any_{t = p-k+1 .. p} (kmer[b, t] and not mask[b, t])
    """
    if _fast_path(input_ids, token_mask, attention_mask):
        from ._kernels import hidden_kernel
        att = _NO_MASK if attention_mask is None else numpy_view(attention_mask.bool())
        hidden, valid = hidden_kernel(numpy_view(input_ids.long()), att, attention_mask is not None,
                                      numpy_view(token_mask.bool()), k)
        return torch.from_numpy(hidden), torch.from_numpy(valid)
    kmer = kmer_positions(input_ids, attention_mask)
    valid = tokens_to_nucleotides(kmer, k)
    seen = tokens_to_nucleotides(kmer & ~token_mask.bool(), k)
    return valid & ~seen, valid


def _fast_path(input_ids, token_mask, attention_mask) -> bool:
    """2-D CPU tensors of one shape: :func:`hidden_nucleotides` runs the compiled kernel."""
    tensors = [input_ids, token_mask] + ([] if attention_mask is None else [attention_mask])
    return kernels_on() and all(
        isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.shape == input_ids.shape
        for x in tensors) and input_ids.dim() == 2 and not input_ids.dtype.is_floating_point


def nucleotide_codes(input_ids: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, T]`` ids -> ``[B, T+k-1]`` base codes (A=0, T=1, C=2, G=3; 4 = unknown / none).

    Column p takes base ``o`` of the k-mer at position ``p - o`` (any k-mer
    that covers it; stride-1 k-mers agree). Bases covered only by ``[UNK]``
    or by no k-mer stay 4. k vectorised passes.
    """
    B, T = input_ids.shape
    codes = torch.full((B, T + k - 1), INVALID, dtype=torch.long, device=input_ids.device)
    is_kmer = input_ids >= N_SPECIAL
    digits = (input_ids - N_SPECIAL).clamp(min=0)
    for o in range(k - 1, -1, -1):
        base = (digits >> (2 * (k - 1 - o))) & 3
        view = codes[:, o:o + T]
        codes[:, o:o + T] = torch.where(is_kmer, base, view)
    return codes


def row_bounds(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last True column per row of ``[B, W]`` (first=W, last=-1 for empty rows)."""
    W = mask.shape[-1]
    idx = torch.arange(W, device=mask.device)
    first = torch.where(mask, idx, W).min(dim=-1).values
    last = torch.where(mask, idx, -1).max(dim=-1).values
    return first, last
