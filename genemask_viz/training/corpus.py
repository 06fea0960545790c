"""Token datasets and the batch collator that Trainer calls.

Pretraining corpus (spec section 4; :func:`pretraining_corpus`): segments drawn at
random positions from the **whole** genome (a FASTA indexed once into a 2-bit cache,
read memory-mapped), in proportion to each record's ACGT length; validation segments
come from a held-out part (whole records or a fraction of the bases) that training
never touches. Segment i is a function of the seed and i alone.

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
           "PretrainingCorpus", "GenomeSegmentDataset"]

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
        elif strategy not in ("pmi-span", "global-pmi"):  # these keep their own target rates
            kwargs["strategy_params"] = {"centre_prob": mlm_probability}
    return GeneMaskCollator(**kwargs)


class GenomeSegmentDataset(torch.utils.data.Dataset):
    """Segments read from a genome index; item i -> token ids of segment i.

    ``starts``/``lengths``: global coordinates from
    :func:`genemask_viz.sequences.segments.sample_segments` (12 bytes per segment; the
    genome itself stays on disk, memory-mapped). Items match :class:`SequenceDataset`'s:
    ``{"input_ids": [CLS] k-mer ids [SEP], "idx": i + index_offset}``.
    """

    def __init__(self, index, starts, lengths, k: int = 6, max_length: int = 512,
                 index_offset: int = 0):
        self.index, self.k, self.max_length, self.index_offset = index, k, max_length, index_offset
        self.starts = np.asarray(starts, dtype=np.int64)
        self.lengths = np.minimum(np.asarray(lengths, dtype=np.int64), max_length - 2 + k - 1)
        if not len(self.starts):
            raise GeneMaskInputError("no segments to train or evaluate on.",
                                     fix="ask for at least one step and one validation segment.")

    def __len__(self) -> int:
        return len(self.starts)

    def n_tokens(self) -> int:
        """k-mer tokens plus [CLS]/[SEP] over the whole set."""
        return int((self.lengths - self.k + 1 + 2).sum())

    def codes(self, i: int) -> np.ndarray:
        return self.index.read(int(self.starts[i]), int(self.lengths[i]))

    def __getitem__(self, i: int) -> dict:
        from ..tokens import CLS_ID, SEP_ID, kmer_ids_from_codes
        ids = kmer_ids_from_codes(self.codes(i), self.k)
        return {"input_ids": np.concatenate(([CLS_ID], ids, [SEP_ID])), "idx": i + self.index_offset}


#: validation example indices start here, so their masks never repeat training's
VAL_INDEX_OFFSET = 1 << 40


@dataclass
class PretrainingCorpus:
    """Training and validation segments of one corpus, and where they came from.

    ``report()`` is what a run writes to ``corpus.json``.
    """

    train: GenomeSegmentDataset
    val: GenomeSegmentDataset
    source: str | list[str]
    n_train_segments: int
    n_val_segments: int
    info: dict

    def report(self) -> dict:
        return dict(self.info)


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


def corpus_paths(corpus) -> list:
    """``corpus``: ``"demo"``, a FASTA path, several joined by commas, or a list of paths."""
    items = corpus if isinstance(corpus, (list, tuple)) else str(corpus).split(",")
    paths = [corpus_path(str(c).strip()) for c in items if str(c).strip()]
    if not paths:
        raise GeneMaskInputError("no corpus given.", fix="give a FASTA file (plain or .gz) or 'demo'.")
    return paths


def pretraining_corpus(corpus, n_train: int, n_val: int = 64, seed: int = 0, k: int = 6,
                       max_length: int = 512, segment_spec=None, val_records=None,
                       val_fraction: float | None = None, split_seed: int = 0,
                       cache_dir=None, progress: bool = False) -> PretrainingCorpus:
    """``n_train`` training and ``n_val`` validation segments drawn from the whole corpus.

    ``corpus``: ``"demo"``, a FASTA path (plain or gzip), or several (comma-separated or
    a list; they form one genome). The files are indexed once
    (:func:`genemask_viz.sequences.genome_index.index_genome`); then segments are drawn
    at random positions over all records in proportion to their ACGT length
    (:func:`~genemask_viz.sequences.segments.sample_segments`), never in file order.
    Validation is a held-out part that training never touches
    (:func:`~genemask_viz.sequences.segments.split_genome`): whole records
    (``val_records``) or a fraction of the bases in blocks (``val_fraction``; 0.01 when
    neither is given). Exactly ``n_train`` segments are drawn, each used once per
    run, so nothing is capped or cycled; ``info["epochs"]`` says how often the
    average training position is seen. Deterministic given ``seed`` (and
    ``split_seed`` for the validation blocks).
    """
    from ..sequences import SegmentSpec
    from ..sequences.genome_index import index_genome
    from ..sequences.segments import sample_segments, split_genome
    if int(n_train) < 1 or int(n_val) < 1:
        raise GeneMaskInputError(f"need at least one training and one validation segment, got "
                                 f"{n_train} and {n_val}.", fix="use steps >= 1 and n_val >= 1.")
    if val_records and val_fraction:
        raise GeneMaskInputError("give either validation records or a validation fraction, not both.",
                                 fix="e.g. --val-records chr21,chr22 or --val-fraction 0.01")
    spec = segment_spec or SegmentSpec(max_len=max_length - 2 + k - 1, min_len=k)
    paths = corpus_paths(corpus)
    index = index_genome(paths, cache_dir=cache_dir, progress=progress)
    train_part, val_part, split = split_genome(
        index, val_records=val_records,
        val_fraction=None if val_records else (val_fraction or 0.01), split_seed=split_seed)
    t_start, t_len, t_rec = sample_segments(train_part, int(n_train), seed=seed, stream=0, spec=spec)
    v_start, v_len, v_rec = sample_segments(val_part, int(n_val), seed=seed, stream=1, spec=spec)
    train = GenomeSegmentDataset(index, t_start, t_len, k=k, max_length=max_length)
    val = GenomeSegmentDataset(index, v_start, v_len, k=k, max_length=max_length,
                               index_offset=VAL_INDEX_OFFSET)
    n_rec = len(index.names)
    t_count, v_count = np.bincount(t_rec, minlength=n_rec), np.bincount(v_rec, minlength=n_rec)
    t_bases, v_bases = train_part.per_record(n_rec), val_part.per_record(n_rec)
    seen = int(train.lengths.sum())
    records = [{"name": name, "length": int(index.lengths[r]),
                "acgt_bases": int(t_bases[r] + v_bases[r]),
                "train_bases": int(t_bases[r]), "val_bases": int(v_bases[r]),
                "train_segments": int(t_count[r]), "val_segments": int(v_count[r])}
               for r, name in enumerate(index.names)]
    source = [str(p) for p in paths]
    info = {"corpus": str(corpus) if isinstance(corpus, str) else source, "files": source,
            "index": str(index.folder), "seed": int(seed),
            "segments": {"max_len": spec.max_len, "min_len": spec.min_len, "p_full": spec.p_full,
                         "sampling": "uniform start over all ACGT bases of the part, cut at N runs"},
            "validation": split, "train_segments": int(n_train), "val_segments": int(n_val),
            "train_bases": train_part.bases, "val_bases": val_part.bases,
            "nucleotides_seen": seen, "val_nucleotides": int(val.lengths.sum()),
            "mean_segment_length": round(seen / int(n_train), 2),
            "epochs": seen / max(train_part.bases, 1), "records": records}
    return PretrainingCorpus(train=train, val=val, source=source[0] if len(source) == 1 else source,
                             n_train_segments=int(n_train), n_val_segments=int(n_val), info=info)
