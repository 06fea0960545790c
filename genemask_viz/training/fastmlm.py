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
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import BertForMaskedLM
from transformers.modeling_outputs import MaskedLMOutput

__all__ = ["SparseBertForMaskedLM", "LengthGroupedSampler", "masked_argmax", "sparse_mlm_loss",
           "dataset_lengths"]


def sparse_mlm_loss(model, hidden: torch.Tensor, labels: torch.Tensor, num_items_in_batch=None):
    """``(loss, logits)`` of ``model.cls`` at the positions where ``labels != -100``.

    The loss is the mean over those positions, or their sum / ``num_items_in_batch`` when
    Trainer passes that (masked tokens over all gradient-accumulation micro-batches), as
    ``transformers``' dense masked-LM loss does.
    """
    keep = labels != -100
    rows = hidden[keep]                      # (n_masked, hidden)
    logits = model.cls(rows)                 # (n_masked, vocab)
    if num_items_in_batch is None:
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[keep])
    else:
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[keep], reduction="sum")
        if torch.is_tensor(num_items_in_batch):
            num_items_in_batch = num_items_in_batch.to(loss.device)
        loss = loss / num_items_in_batch
    return loss, logits


class SparseBertForMaskedLM(BertForMaskedLM):
    """``BertForMaskedLM`` that computes logits and loss only at labelled positions."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, **kwargs):
        if labels is None:
            return super().forward(input_ids=input_ids, attention_mask=attention_mask,
                                   token_type_ids=token_type_ids, position_ids=position_ids,
                                   inputs_embeds=inputs_embeds, **kwargs)
        kwargs.pop("return_dict", None)
        num_items = kwargs.pop("num_items_in_batch", None)
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids, position_ids=position_ids,
                        inputs_embeds=inputs_embeds, return_dict=True, **kwargs)
        loss, logits = sparse_mlm_loss(self, out.last_hidden_state, labels, num_items)
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
