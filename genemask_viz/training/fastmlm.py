"""The fast pretraining path: MLM head only at masked positions, length-grouped batches.

* :class:`SparseBertForMaskedLM` is ``transformers.BertForMaskedLM`` (same modules, same
  weights, same checkpoints) whose ``forward``, when given ``labels``, gathers the hidden
  states of the labelled positions (``labels != -100``) and runs the prediction head on
  those rows only. The loss is the same mean cross-entropy over masked tokens as the dense
  head's; the work of the head drops from every position (4,101 logits each) to the ~10-15%
  that are masked. ``logits`` are then ``(n_masked, vocab)`` in row-major order of the
  masked positions (:func:`masked_argmax` scatters their argmax back for metrics). Without
  ``labels`` it is the dense model. ``save_pretrained`` writes a plain ``BertForMaskedLM``
  checkpoint (``architectures: ["BertForMaskedLM"]``).

* On CPU with SDPA attention it also runs the **last encoder layer at the labelled positions
  only** (:func:`last_layer_at`): that layer's keys and values still come from every
  position, but its queries, attention output, residual and layer norm and feed-forward block
  are computed for the ~15% of rows the loss reads. The loss and gradients are the dense
  model's (tested to 1e-5); for a 2-layer model this removes about 40% of the encoder's
  work (``docs/BENCHMARKS.md``). ``SparseBertForMaskedLM.sparse_last_layer = False`` turns it
  off; on a GPU every layer runs in full.

* :class:`LengthGroupedSampler` orders one epoch so that each batch holds segments of
  similar length: the epoch's random permutation is cut into mega-batches of
  ``batch_size * group`` segments, each sorted by length and cut into batches, and the
  batches of a mega-batch are shuffled (the partial last batch of the epoch stays last).
  Padding then nearly vanishes (the spec's segments average ~385 of 512 positions; a
  random batch of 16 almost always holds a full-length one and pads everything to 512).
  We chose grouping over packing several segments into one row: it keeps one segment
  per row, so the masking strategies, their per-row rates and the per-batch mask seeding
  (resume equivalence) stay exactly as they are, and the attention needs no block-diagonal
  mask or per-segment position ids. Its cost: a batch of short segments holds fewer
  masked tokens, and the loss is a per-batch mean (as with Hugging Face's
  ``group_by_length``), so short segments weigh a little more per token. The order is a
  function of ``(seed, epoch)`` only, so a resumed run skips to the same batches.

* On CPU the sparse model passes the padding mask to attention as one row per sequence,
  ``(batch, 1, 1, length)`` booleans, instead of the ``(batch, 1, length, length)`` matrix
  that ``transformers`` builds (every row of which is that same row: BERT's mask hides
  padded keys only). The attention is identical; PyTorch's CPU flash kernel reads a
  broadcast row far faster (about a quarter less time per attention layer at the spec's
  lengths, forward and backward; ``docs/BENCHMARKS.md``). No mask at all when nothing is
  padded, as ``transformers`` does.

* :class:`BitsDropout` (:func:`use_bits_dropout`; ``PretrainConfig.fast_dropout``, on by
  default, ``genemask pretrain --torch-dropout`` turns it off) is dropout whose keep/drop
  draws on CPU come from 16-bit slices of 64-bit random integers: one generator call per
  four elements instead of one per element, which is where ``torch``'s CPU dropout spends
  most of its time. The drop probability is ``p`` rounded to a multiple of 1/65,536 (0.1
  becomes 0.1000061) and survivors are scaled by ``1 / (1 - that)``, so the output's
  expectation is exactly the input, as with ``torch.nn.Dropout``. The draws still come
  from torch's seeded generator (runs stay reproducible and resumable); on a GPU, or
  with ``p`` 0 or in eval mode, it is ``torch.nn.Dropout``.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import BertForMaskedLM
from transformers.modeling_outputs import MaskedLMOutput

__all__ = ["SparseBertForMaskedLM", "LengthGroupedSampler", "masked_argmax", "sparse_mlm_loss",
           "dataset_lengths", "BitsDropout", "use_bits_dropout", "key_padding_mask",
           "masked_cross_entropy", "last_layer_at"]

_LEVELS = 1 << 16  # BitsDropout draws 16-bit integers


def _random_int16(numel: int, device=None) -> torch.Tensor:
    """``numel`` uniform int16 values: 16-bit slices of ``ceil(numel / 4)`` random int64s."""
    words = (numel + 3) // 4
    # [-2**63, 2**63 - 1): every 16-bit slice is uniform up to one value in 2**64
    bits = torch.randint(-(1 << 63), (1 << 63) - 1, (words,), dtype=torch.int64, device=device)
    return bits.view(torch.int16)[:numel]


class _BitsDropoutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, threshold: int, scale: float):
        keep = (_random_int16(x.numel(), x.device) >= threshold).view(x.shape)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return torch.where(keep, x, 0.0).mul_(scale)

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return torch.where(keep, grad, 0.0).mul_(ctx.scale), None, None


class BitsDropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` whose CPU draws use 16-bit slices of random integers.

    Drops with probability ``round(p * 65536) / 65536`` and scales survivors by the inverse
    of the keep probability (module docstring). CUDA tensors, eval mode and ``p == 0`` use
    ``torch.nn.Dropout`` itself.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        dropped = round(self.p * _LEVELS)
        if dropped >= _LEVELS:
            return torch.zeros_like(x)
        # int16 values are uniform on [-32768, 32767]: P(value < threshold) = dropped / 65536
        threshold = dropped - _LEVELS // 2
        return _BitsDropoutFunction.apply(x, threshold, _LEVELS / (_LEVELS - dropped))


def use_bits_dropout(model: torch.nn.Module) -> int:
    """Make every ``torch.nn.Dropout`` of ``model`` a :class:`BitsDropout` (same ``p``).

    Returns how many modules changed. Dropout has no weights, so checkpoints are unchanged.
    """
    changed = 0
    for module in model.modules():
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Dropout:
                setattr(module, name, BitsDropout(child.p, child.inplace))
                changed += 1
    return changed


def key_padding_mask(attention_mask, attn_implementation: str | None):
    """BERT's padding mask as the attention sees it, one row per sequence (module docstring).

    A ``(batch, length)`` 0/1 mask on CPU with SDPA attention becomes ``(batch, 1, 1,
    length)`` booleans, or None when nothing is padded; anything else is returned as is
    (``transformers`` then builds its own mask).
    """
    if (attention_mask is None or attention_mask.dim() != 2 or attention_mask.device.type != "cpu"
            or attn_implementation != "sdpa"):
        return attention_mask
    keep = attention_mask.bool()
    if bool(keep.all()):
        return None
    return keep[:, None, None, :]


class _CrossEntropyFunction(torch.autograd.Function):
    """Summed cross-entropy / ``divisor`` whose gradient is computed in the forward pass.

    ``softmax(logits) - onehot(target)`` is formed once (one exp pass over the logits) and
    scaled in backward, instead of log-softmax, a zero-filled NLL gradient and log-softmax's
    backward pass (three passes over ``(n_masked, vocab)``). Logits are left untouched.
    """

    @staticmethod
    def forward(ctx, logits, target, divisor: float):
        x = logits.float()
        top = x.amax(dim=1, keepdim=True)
        grad = torch.sub(x, top).exp_()                   # exp(x - max), a new buffer
        total = grad.sum(dim=1, keepdim=True)
        lse = (total.log() + top).squeeze(1)              # logsumexp, max-shifted
        loss = (lse - x.gather(1, target[:, None]).squeeze(1)).sum() / divisor
        grad.div_(total)                                  # softmax
        grad[torch.arange(len(target), device=grad.device), target] -= 1.0
        ctx.save_for_backward(grad)
        ctx.divisor, ctx.dtype = divisor, logits.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (grad,) = ctx.saved_tensors
        return grad.mul(grad_loss / ctx.divisor).to(ctx.dtype), None, None


def masked_cross_entropy(logits: torch.Tensor, target: torch.Tensor, divisor=None) -> torch.Tensor:
    """``cross_entropy(logits.float(), target, reduction="sum") / divisor`` (default: the mean).

    With gradients, through :class:`_CrossEntropyFunction` (same value and gradient, fewer
    passes; tested against ``torch.nn.functional.cross_entropy``); ``target`` holds no
    ignore index (the sparse head's rows are all labelled).
    """
    if divisor is None:
        divisor = max(len(target), 1)
    if torch.is_tensor(divisor):
        divisor = divisor.to(logits.device)
    if not (torch.is_grad_enabled() and logits.requires_grad) or len(target) == 0:
        return torch.nn.functional.cross_entropy(logits.float(), target, reduction="sum") / divisor
    return _CrossEntropyFunction.apply(logits, target, divisor)


def sparse_mlm_loss(model, rows: torch.Tensor, target: torch.Tensor, num_items_in_batch=None):
    """``(loss, logits)`` of ``model.cls`` on the labelled rows ``(n_masked, hidden)`` of the
    last layer (row-major order) and their token ids ``target``.

    The loss is the mean over those rows, or their sum / ``num_items_in_batch`` when Trainer
    passes that (masked tokens over all gradient-accumulation micro-batches), as
    ``transformers``' dense masked-LM loss does.
    """
    logits = model.cls(rows)                                # (n_masked, vocab)
    return masked_cross_entropy(logits, target, num_items_in_batch), logits


def last_layer_at(layer, hidden: torch.Tensor, mask, keep: torch.Tensor) -> torch.Tensor:
    """A ``BertLayer``'s output at the positions ``keep`` only: ``(n_keep, hidden)``.

    Keys and values come from every position of ``hidden`` (the layer below's output), as in
    the full layer; queries, the attention output, its residual and layer norm and the
    feed-forward block are computed for the kept rows only, which is all the MLM loss reads.
    Queries are laid out ``(batch, max kept per row)`` so each attends to its own sequence
    under the same padding ``mask`` (SDPA, ``(batch, 1, 1, length)`` or None); padded query
    slots are dropped. Rows come back in row-major order, as ``hidden[keep]``.
    """
    att = layer.attention.self
    batch, length, _ = hidden.shape
    heads, width = att.num_attention_heads, att.attention_head_size
    row, _ = keep.nonzero(as_tuple=True)
    counts = keep.sum(dim=1)
    slot = torch.arange(len(row), device=row.device) - (torch.cumsum(counts, 0) - counts)[row]
    slots = int(counts.max())
    residual = hidden[keep]                                                 # (n, hidden)
    query = att.query(residual)                      # (n, heads * width), autocast's dtype
    query = query.new_zeros(batch, slots, heads * width).index_put((row, slot), query)
    query = query.view(batch, slots, heads, width).transpose(1, 2)
    key = att.key(hidden).view(batch, length, heads, width).transpose(1, 2)
    value = att.value(hidden).view(batch, length, heads, width).transpose(1, 2)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, dropout_p=att.dropout.p if att.training else 0.0,
        scale=att.scaling)
    out = out.transpose(1, 2).reshape(batch, slots, heads * width)[row, slot]  # (n, hidden)
    attended = layer.attention.output(out, residual)
    return layer.output(layer.intermediate(attended), attended)


class SparseBertForMaskedLM(BertForMaskedLM):
    """``BertForMaskedLM`` that computes logits and loss only at labelled positions."""

    #: on CPU with SDPA, run the last encoder layer at the labelled positions only
    #: (:func:`last_layer_at`); False runs every layer in full (benchmarks compare the two)
    sparse_last_layer = True

    def _last_layer_sparse(self, keep, mask, kwargs) -> bool:
        cfg = self.config
        return (self.sparse_last_layer and not kwargs and keep.device.type == "cpu"
                and cfg._attn_implementation == "sdpa" and not cfg.is_decoder
                and not cfg.add_cross_attention and (mask is None or mask.dim() == 4)
                and bool(keep.any()))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, **kwargs):
        if labels is None:
            return super().forward(input_ids=input_ids, attention_mask=attention_mask,
                                   token_type_ids=token_type_ids, position_ids=position_ids,
                                   inputs_embeds=inputs_embeds, **kwargs)
        kwargs.pop("return_dict", None)
        num_items = kwargs.pop("num_items_in_batch", None)
        keep = labels != -100
        mask = key_padding_mask(attention_mask, self.config._attn_implementation)
        if self._last_layer_sparse(keep, mask, kwargs):
            hidden = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids,
                                          position_ids=position_ids, inputs_embeds=inputs_embeds)
            *lower, last = self.bert.encoder.layer
            for layer in lower:
                hidden = layer(hidden, mask)
            rows = last_layer_at(last, hidden, mask, keep)
        else:
            rows = self.bert(input_ids=input_ids, attention_mask=mask,
                             token_type_ids=token_type_ids, position_ids=position_ids,
                             inputs_embeds=inputs_embeds, return_dict=True,
                             **kwargs).last_hidden_state[keep]
        loss, logits = sparse_mlm_loss(self, rows, labels[keep], num_items)
        return MaskedLMOutput(loss=loss, logits=logits)

    def save_pretrained(self, *args, **kwargs):
        """Save as a plain ``BertForMaskedLM`` (the weights are the same modules)."""
        cls = self.__class__
        self.__class__ = BertForMaskedLM  # save_pretrained records the class name in config.json
        try:
            return self.save_pretrained(*args, **kwargs)
        finally:
            self.__class__ = cls


def masked_argmax(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Argmax predictions shaped like ``labels`` (-100 where nothing was predicted).

    Takes dense ``(batch, length, vocab)`` logits or the sparse model's ``(n_masked, vocab)``.
    """
    if logits.dim() == 3:
        return logits.argmax(dim=-1)
    preds = torch.full_like(labels, -100)
    preds[labels != -100] = logits.argmax(dim=-1).to(preds.dtype)
    return preds


def dataset_lengths(dataset) -> np.ndarray:
    """Segment lengths of a dataset (nucleotides; only their order matters for grouping)."""
    lengths = getattr(dataset, "lengths", None)
    if isinstance(lengths, np.ndarray):
        return lengths
    offsets = getattr(dataset, "offsets", None)
    if isinstance(offsets, np.ndarray):
        return np.diff(offsets)
    return np.array([len(dataset[i]["input_ids"]) for i in range(len(dataset))])


class LengthGroupedSampler(torch.utils.data.Sampler):
    """Indices of one epoch with similar lengths in consecutive ``batch_size`` chunks."""

    def __init__(self, lengths, batch_size: int, seed: int = 0, group: int = 50):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size, self.seed, self.group = int(batch_size), int(seed), int(group)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The epoch's index order (a permutation of ``range(len(lengths))``)."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, epoch, 0x6C656E])
        perm = rng.permutation(len(self.lengths))
        size = self.batch_size * self.group
        batches = []
        for start in range(0, len(perm), size):
            mega = perm[start:start + size]
            mega = mega[np.argsort(-self.lengths[mega], kind="stable")]
            chunks = [mega[i:i + self.batch_size] for i in range(0, len(mega), self.batch_size)]
            full = [c for c in chunks if len(c) == self.batch_size]
            rest = [c for c in chunks if len(c) < self.batch_size]  # only in the last mega-batch
            batches.extend(full[i] for i in rng.permutation(len(full)))
            batches.extend(rest)
        return np.concatenate(batches) if batches else perm

    def __iter__(self):
        return iter(self.order().tolist())
