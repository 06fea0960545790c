"""Token datasets and the batch collator that Trainer calls.

Pretraining corpus (spec section 4): segments cut by
:func:`genemask_viz.sequences.iter_segments` from a FASTA (streamed) or the demo
genome. The **first** ``n_val`` segments, a contiguous stretch at the start of the
genome, are held out for validation; training uses the segments after them, so the
two never share a base.

Reproducible masks under resume: the masking collator's generator is re-seeded for
every batch from ``(seed, indices of the examples in the batch)``. A batch's mask is
therefore a function of which examples it holds, not of how many batches came before,
so a run resumed from a checkpoint (Trainer skips the batches already seen without
collating them) masks the remaining batches exactly as an uninterrupted run would, and
so do dataloader worker processes and several Accelerate processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import GeneMaskInputError
from ..masking.names import STRATEGIES, TABLE_STRATEGIES

__all__ = ["STRATEGIES", "SequenceDataset", "BatchCollator", "make_collator", "pretraining_corpus",
           "PretrainingCorpus"]

MAX_REDRAWS = 20


class SequenceDataset(torch.utils.data.Dataset):
    """Nucleotide sequences held as one uint8 code array; item i -> token ids of sequence i.

    Items are ``{"input_ids": int64 array with [CLS]..[SEP], "idx": i}`` plus
    ``"labels"`` when labels are given. Sequences longer than ``max_length - 2``
    k-mers are cut at the right. Memory: one byte per nucleotide.
    """

    def __init__(self, sequences: list[str], k: int = 6, max_length: int = 512,
                 labels=None, index_offset: int = 0):
        from ..sequences import str_to_codes
        if not len(sequences):
            raise GeneMaskInputError("no sequences to train or evaluate on.",
                                     fix="give a non-empty corpus or data set.")
        self.k, self.max_length, self.index_offset = k, max_length, index_offset
        limit = max_length - 2 + k - 1
        lengths = np.array([min(len(s), limit) for s in sequences], dtype=np.int64)
        short = np.flatnonzero(lengths < k)
        if short.size:
            raise GeneMaskInputError(f"sequence {short[0] + 1} has {lengths[short[0]]} nt, "
                                     f"fewer than k={k}.", fix="drop sequences shorter than k.")
        self.offsets = np.concatenate(([0], np.cumsum(lengths)))
        self.codes = str_to_codes("".join(s[:limit] for s in sequences))
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def n_tokens(self) -> int:
        """k-mer tokens plus [CLS]/[SEP] over the whole set."""
        return int((np.diff(self.offsets) - self.k + 1 + 2).sum())

    def __getitem__(self, i: int) -> dict:
        from ..tokens import CLS_ID, SEP_ID, kmer_ids_from_codes
        ids = kmer_ids_from_codes(self.codes[self.offsets[i]:self.offsets[i + 1]], self.k)
        item = {"input_ids": np.concatenate(([CLS_ID], ids, [SEP_ID])),
                "idx": i + self.index_offset}
        if self.labels is not None:
            item["labels"] = int(self.labels[i])
        return item


def _pad(examples: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    from ..tokens import PAD_ID
    width = max(len(e["input_ids"]) for e in examples)
    ids = np.full((len(examples), width), PAD_ID, dtype=np.int64)
    for row, e in enumerate(examples):
        ids[row, :len(e["input_ids"])] = e["input_ids"]
    ids = torch.from_numpy(ids)
    return ids, (ids != PAD_ID).long()


@dataclass
class BatchCollator:
    """Pads a batch and, with a masking collator, applies its ``torch_mask_tokens``.

    ``masker``: a ``DataCollatorForLanguageModeling`` (or subclass); only its
    ``torch_mask_tokens(inputs, special_tokens_mask=...)`` is called, after its
    generator is seeded from ``(seed, example indices)`` (see the module docstring).
    Without a masker (classification) labels are passed through. A batch in which
    the strategy chose no token at all (possible with short rows and centre-based
    strategies) is masked again from the same generator, since its loss would be NaN.
    """

    masker: object | None = None
    seed: int = 0

    def batch_seed(self, indices) -> int:
        state = np.random.SeedSequence([self.seed & 0xFFFFFFFF, *map(int, indices)]).generate_state(2)
        return int((int(state[0]) << 31) ^ int(state[1]))

    def __call__(self, examples: list[dict]) -> dict:
        from ..tokens import N_SPECIAL
        ids, attention = _pad(examples)
        batch = {"input_ids": ids, "attention_mask": attention}
        if self.masker is None:
            if "labels" in examples[0]:
                batch["labels"] = torch.tensor([e["labels"] for e in examples], dtype=torch.long)
            return batch
        special = ids < N_SPECIAL  # [PAD],[UNK],[CLS],[SEP],[MASK]: never chosen, as HF does
        generator = torch.Generator().manual_seed(self.batch_seed(e["idx"] for e in examples))
        self.masker.generator = generator
        self.masker._generator_pid = __import__("os").getpid()  # stop HF from re-creating it
        for _ in range(MAX_REDRAWS):
            inputs, labels = self.masker.torch_mask_tokens(ids.clone(), special_tokens_mask=special)
            if (labels != -100).any() or special.all():
                break
            # no token chosen (short rows, span strategies): the MLM loss would be 0/0 = NaN
            # and poison the weights; draw again from the same generator (deterministic)
        batch["input_ids"], batch["labels"] = inputs, labels
        return batch


def make_collator(strategy: str, tokenizer, table=None, seed: int = 0,
                  mlm_probability: float | None = None):
    """The masking collator for ``strategy`` (one of :data:`STRATEGIES`, or ``"hf"``).

    ``"hf"`` is the plain ``transformers.DataCollatorForLanguageModeling`` (i.i.d.
    tokens at 0.15), the baseline of the overhead benchmark. The others are
    :class:`genemask_viz.masking.GeneMaskCollator`; ``table`` is the n-gram score table
    (DataFrame or path) of the strategies that rank k-mers. ``mlm_probability``
    overrides the strategy's rate: the token rate of ``random``, the centre
    probability of ``dnabert`` / ``genemask`` (paper 0.025 / 0.0176); ``pmi-span``
    keeps its own target rate.
    """
    from transformers import DataCollatorForLanguageModeling
    if strategy == "hf":
        return DataCollatorForLanguageModeling(tokenizer=tokenizer,
                                               mlm_probability=mlm_probability or 0.15, seed=seed)
    if strategy not in STRATEGIES:
        raise GeneMaskInputError(f"unknown masking strategy {strategy!r}.",
                                 fix=f"use one of {', '.join(STRATEGIES)}.")
    from ..masking import GeneMaskCollator
    kwargs = dict(tokenizer=tokenizer, strategy=strategy, seed=seed)
    if strategy in TABLE_STRATEGIES:
        if table is None:
            raise GeneMaskInputError(f"strategy {strategy!r} needs an n-gram score table.",
                                     fix="compute one (genemask npmi) or let pretraining count the corpus.")
        kwargs["table"] = table
    if mlm_probability is not None:
        if strategy == "random":
            kwargs["mlm_probability"] = mlm_probability
        elif strategy != "pmi-span":
            kwargs["strategy_params"] = {"centre_prob": mlm_probability}
    return GeneMaskCollator(**kwargs)


@dataclass
class PretrainingCorpus:
    """Training and validation segments of one corpus."""

    train: SequenceDataset
    val: SequenceDataset
    source: str
    n_train_segments: int
    n_val_segments: int


def corpus_path(corpus: str):
    """``"demo"`` -> the cached demo genome FASTA; anything else must be a FASTA path."""
    from pathlib import Path

    from ..sequences import demo_fasta_path
    if corpus == "demo":
        return demo_fasta_path()
    path = Path(corpus).expanduser()
    if not path.is_file():
        raise GeneMaskInputError(f"corpus {corpus!r} is not a file.",
                                 fix="give a FASTA file (plain or .gz) or 'demo'.")
    return path


def pretraining_corpus(corpus: str, n_train: int, n_val: int = 64, seed: int = 0, k: int = 6,
                       max_length: int = 512, segment_spec=None) -> PretrainingCorpus:
    """Cut ``n_val + n_train`` segments from ``corpus`` (FASTA path or ``"demo"``).

    When the corpus holds fewer segments than asked for, training cycles over what
    there is (Trainer epochs); at least one training segment is required.
    """
    from ..sequences import iter_segments
    path = corpus_path(corpus)
    segments = list(iter_segments(path, seed=seed, spec=segment_spec, limit=n_val + n_train))
    if len(segments) <= n_val:
        raise GeneMaskInputError(
            f"the corpus gives only {len(segments)} segment(s); {n_val} are held out for validation "
            "and none would be left to train on.", source=path,
            fix="use a larger FASTA or fewer validation segments.")
    val, train = segments[:n_val], segments[n_val:]
    return PretrainingCorpus(
        train=SequenceDataset(train, k=k, max_length=max_length),
        # validation indices live in their own range so their masks never repeat training's
        val=SequenceDataset(val, k=k, max_length=max_length, index_offset=1 << 40),
        source=str(path), n_train_segments=len(train), n_val_segments=len(val))
