"""Masked-language-model pretraining with ``transformers.Trainer`` and our masking collator.

Defaults are the paper's GeneMask settings (spec section 4) except the step count
and batch, which are scaled to the machine: AdamW (0.9, 0.98), eps 1e-6, weight decay
0.01, peak lr 8e-4 with linear warmup over 5% of the steps (= the paper's 500 of
10,000) and linear decay. The paper's batch is 250 sequences per step
(``batch_size * grad_accum * processes``).

Device: CUDA with bf16 where the GPU supports it, else CPU: in bf16 autocast where the CPU
multiplies bf16 in hardware (AMX / AVX512-BF16) and the model is at least 256 wide
(``logo``, ``dnabert-base``: 1.7x faster there), in fp32 otherwise (``tiny``: bf16 would be
slower); ``precision`` overrides. Several GPUs or machines: run the same command under
``accelerate launch`` (Trainer picks the processes up; only process 0 writes).

Resuming: a run folder that holds checkpoints continues from the last one
(model, optimizer, scheduler, RNG states; Trainer skips the batches already seen,
and masks are seeded per batch from the example indices), so the losses after the
checkpoint are those of an uninterrupted run.

Speed (issue 11; :mod:`.fastmlm`): the MLM head (and on CPU the last encoder layer) runs
only at masked positions, attention is PyTorch's scaled-dot-product attention (on CPU given
the padding mask as one row per sequence), dropout on CPU draws 16-bit random numbers
(``fast_dropout``), batches group segments of similar length (``group_by_length``) so that
little is padded, torch uses every core this process may run on (``threads``), and
Trainer's progress goes to stderr (stdout stays clean for pipes).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GeneMaskInputError, GeneMaskWarning
from .callbacks import RunLogger
from .corpus import STRATEGIES, TABLE_STRATEGIES, BatchCollator, make_collator, pretraining_corpus
from .curriculum import CurriculumTrainerMixin, setup_curriculum
from .models import build_mlm, load_tokenizer, model_config, resolve_model, save_model
from .registry import checkpoint_problem, write_json_atomic

__all__ = ["PretrainConfig", "PretrainResult", "pretrain", "masked_accuracy", "device_info",
           "last_complete_checkpoint"]

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
            "pytorch_model.bin.index.json")


@dataclass
class PretrainConfig:
    """Everything a pretraining run needs (JSON-able; stored in the run's config.json)."""

    corpus: str = "demo"              # FASTA path or "demo"
    strategy: str = "genemask"        # one of STRATEGIES
    model: str = "tiny"               # tiny | logo | dnabert-base | checkpoint / run folder
    steps: int = 200
    batch_size: int = 16              # sequences per process per forward pass
    grad_accum: int = 1               # sequences per step = batch_size * grad_accum * processes
    learning_rate: float = 8e-4
    warmup: float = 0.05              # < 1: fraction of steps; >= 1: steps
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    adam_epsilon: float = 1e-6
    max_grad_norm: float = 1.0
    max_length: int = 512             # positions incl. [CLS]/[SEP]
    seed: int = 0
    save_steps: int = 500
    save_total_limit: int | None = 2
    eval_steps: int | None = None     # None: at the end only
    n_val: int = 64                   # validation segments (MLM loss / accuracy), from the held-out part
    val_records: str | None = None    # held-out records, e.g. "chr21,chr22" (else val_fraction)
    val_fraction: float | None = None  # held-out share of the bases, in blocks (default 0.01)
    logging_steps: int = 10
    table: str | None = None          # n-gram score table file; None: count the corpus
    table_max_n: int = 10
    table_min_count: int = 101
    mlm_probability: float | None = None  # None: the strategy's own default
    precision: str = "auto"           # auto | bf16 | fp32
    num_workers: int = 0              # dataloader worker processes
    max_segments: int | None = None   # refuse runs that need more training segments than this
    full_length_fraction: float = 0.5  # segments of max length (paper 0.5; 1.0 = fixed length)
    torch_compile: bool = False
    threads: int | None = None        # CPU threads for torch (None: every core we may use)
    group_by_length: bool = True      # batches of similar-length segments (less padding)
    attention_dropout: float | None = None  # None: the preset's / checkpoint's (models.py)
    hidden_dropout: float | None = None     # None: the preset's / checkpoint's
    fast_dropout: bool = True         # CPU dropout draws from 16-bit slices (fastmlm.BitsDropout)
    k: int = 6
    switch_window: int | None = None       # curricula (cm-gems): steps per window (curriculum.py)
    switch_threshold: float | None = None  # curricula: perplexity improvement to keep a stage

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise GeneMaskInputError(f"unknown masking strategy {self.strategy!r}.",
                                     fix=f"use one of {', '.join(STRATEGIES)}.")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise GeneMaskInputError(f"precision must be auto, bf16 or fp32, got {self.precision!r}.")
        for name in ("steps", "batch_size", "grad_accum", "save_steps", "logging_steps"):
            if int(getattr(self, name)) < 1:
                raise GeneMaskInputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if not 8 <= self.max_length <= 512:
            raise GeneMaskInputError(f"max_length must be 8..512 positions, got {self.max_length}.")
        if self.val_records and self.val_fraction is not None:
            raise GeneMaskInputError("give either val_records or val_fraction, not both.",
                                     fix="e.g. --val-records chr21,chr22 or --val-fraction 0.01")
        if self.val_fraction is not None and not 0 < float(self.val_fraction) < 1:
            raise GeneMaskInputError(f"val_fraction must be between 0 and 1, got {self.val_fraction}.",
                                     source="--val-fraction", fix="e.g. --val-fraction 0.01")
        if int(self.n_val) < 1:
            raise GeneMaskInputError(f"n_val must be at least 1, got {self.n_val}.", source="--n-val")
        need = int(self.steps) * int(self.batch_size) * int(self.grad_accum)  # x processes at run time
        if self.max_segments is not None and need > int(self.max_segments):
            raise GeneMaskInputError(
                f"the run needs {need:,} training segments ({self.steps} steps x "
                f"{int(self.batch_size) * int(self.grad_accum)} per step) but max_segments is "
                f"{int(self.max_segments):,}.",
                fix="drop max_segments: segments are drawn from the whole genome on the fly, so "
                    "memory does not grow with the run (12 bytes per segment).")


@dataclass
class PretrainResult:
    run_dir: Path
    model_dir: Path | None
    eval: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    cancelled: bool = False
    resumed_from: str | None = None


def cpu_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX tiles or AVX512-BF16).

    Where it does, oneDNN runs bf16 matmuls 2-3x faster than fp32 (measured on a 2-core
    Sapphire Rapids VM: 256 x 3072 linear forward+backward 218 -> 73 ms); where it does not,
    bf16 is emulated and slower than fp32, so ``auto`` stays fp32 there.
    """
    import torch
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except (AttributeError, RuntimeError):  # older torch: no probe, assume no
        return False


#: below this width bf16 autocast makes a CPU step slower even with AMX (measured: ``tiny``,
#: 64 wide, 43k -> 34k tokens/s; ``logo``, 256 wide, 5.5k -> 9.4k; docs/BENCHMARKS.md)
CPU_BF16_MIN_HIDDEN = 256


def device_info(precision: str = "auto", hidden_size: int | None = None) -> dict:
    """Which device and precision Trainer will use here.

    ``auto``: bf16 autocast on a CUDA GPU with bf16; on a CPU with native bf16 matmuls
    (:func:`cpu_native_bf16`) only for models at least :data:`CPU_BF16_MIN_HIDDEN` wide
    (``hidden_size``; unknown: fp32), fp32 otherwise. ``fp32`` forces fp32 everywhere,
    ``bf16`` refuses where bf16 would be emulated.
    """
    import torch
    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) or (not cuda and cpu_native_bf16())
    if precision == "bf16" and not bf16:
        raise GeneMaskInputError("bf16 was asked for, but neither a CUDA GPU with bf16 nor a CPU "
                                 "with native bf16 (AMX or AVX512-BF16) is available.",
                                 fix="use --precision auto (fp32 here).")
    if precision == "auto":
        use_bf16 = bf16 and (cuda or (hidden_size or 0) >= CPU_BF16_MIN_HIDDEN)
    else:
        use_bf16 = precision == "bf16"
    return {"device": torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.processor() or 'cpu'})",
            "cuda": cuda, "bf16": bool(use_bf16), "torch": torch.__version__,
            "world_size": int(os.environ.get("WORLD_SIZE", "1"))}


def _hidden_size(source) -> int | None:
    """The model's width (preset or checkpoint config.json), for the bf16 choice."""
    if source.path is None:
        return int(model_config(source.preset, source.k).hidden_size)
    try:
        return int(json.loads((Path(source.path) / "config.json").read_text())["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def masked_accuracy(eval_pred) -> dict:
    """Accuracy of the argmax prediction on masked positions (labels != -100)."""
    preds, labels = eval_pred.predictions, eval_pred.label_ids
    keep = labels != -100
    return {"accuracy": float((preds[keep] == labels[keep]).mean()) if keep.any() else float("nan"),
            "masked_tokens": int(keep.sum())}


def _argmax_logits(logits, labels):
    # keep (batch, length) ids instead of (batch, length, vocab); the sparse head's
    # (n_masked, vocab) logits are scattered back to their positions
    from .fastmlm import masked_argmax
    return masked_argmax(logits, labels)


def default_threads() -> int:
    """CPU threads for torch: the cores this process may run on (``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def last_complete_checkpoint(folder: str | os.PathLike) -> str | None:
    """The newest ``checkpoint-N`` in ``folder`` that holds ``trainer_state.json`` and model
    weights, or None.

    A process killed while saving leaves a newer checkpoint without them; resuming from
    it would fail, so it is skipped with a :class:`GeneMaskWarning` (the step is redone and
    the folder overwritten when training reaches it again).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = sorted(((int(m.group(1)), d) for d in folder.iterdir()
                    if d.is_dir() and (m := _CHECKPOINT.match(d.name))), reverse=True)
    for _, d in found:
        problem = checkpoint_problem(d)  # files exist, are whole and parse (registry.py)
        if problem is None:
            return str(d)
        warnings.warn(f"{d}: incomplete checkpoint ({problem}; probably interrupted while "
                      "saving); resuming from an earlier one.", GeneMaskWarning, stacklevel=2)
    return None


def _score_table(config: PretrainConfig, corpus_file: str, run_dir: Path, is_main: bool):
    """Load the given table, or count the corpus (only strategies that rank k-mers need it)."""
    from ..ngrams import compute_table, load_table, save_table
    if config.strategy not in TABLE_STRATEGIES:
        return None, None
    if config.table:
        return load_table(config.table), str(config.table)
    max_n = config.table_max_n if config.strategy == "pmi-span" else max(config.k, 2)
    table = compute_table(corpus_file, max_n=max_n, min_count=config.table_min_count)
    path = run_dir / "ngram_table.csv"
    if is_main:
        save_table(table, path)
    return table, f"counted from the corpus (max_n={max_n}, min_count={config.table_min_count})"


def pretrain(config: PretrainConfig, run_dir: str | os.PathLike, progress: bool = True,
             callbacks=(), resume: bool = True) -> PretrainResult:
    """Pretrain (or resume) in ``run_dir``: checkpoints/, metrics.jsonl, model/, eval.json.

    ``progress``: a progress bar on stderr; False: no bars at all (also none of
    ``transformers``' own, e.g. "Writing model shards"). Nothing is printed to stdout.
    See :func:`_pretrain`.
    """
    from transformers.utils import logging as hf_logging
    bars = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        return _pretrain(config, run_dir, progress=progress, callbacks=callbacks, resume=resume)
    finally:
        if bars and not progress:
            hf_logging.enable_progress_bar()


def _pretrain(config: PretrainConfig, run_dir: str | os.PathLike, progress: bool = True,
              callbacks=(), resume: bool = True) -> PretrainResult:
    """Pretrain (or resume) in ``run_dir``: checkpoints/, metrics.jsonl, model/, eval.json.

    ``run_dir`` should be a registry run folder (see :mod:`.registry`); this
    function does not change its state, :func:`genemask_viz.training.worker.execute_run`
    does.
    """
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from .callbacks import StderrProgress
    from .fastmlm import LengthGroupedSampler, dataset_lengths

    run_dir = Path(run_dir)
    torch.set_num_threads(int(config.threads or default_threads()))
    is_main = int(os.environ.get("RANK", "0")) == 0
    source = resolve_model(config.model, k=config.k)
    info = device_info(config.precision, hidden_size=_hidden_size(source))
    tokenizer = load_tokenizer(source)
    if source.path is not None and tokenizer.k != config.k:
        config.k = tokenizer.k  # the checkpoint decides the k-mer size
    from ..sequences import SegmentSpec
    spec = SegmentSpec(max_len=config.max_length - 2 + config.k - 1,
                       min_len=config.k, p_full=config.full_length_fraction)
    per_step = config.batch_size * config.grad_accum * info["world_size"]
    n_train = config.steps * per_step  # drawn from the whole genome; each used once (corpus.json)
    if config.max_segments is not None and n_train > config.max_segments:
        raise GeneMaskInputError(
            f"the run needs {n_train:,} training segments ({config.steps} steps x {per_step} per "
            f"step) but max_segments is {config.max_segments:,}.",
            fix="drop max_segments: segments are drawn from the whole genome on the fly, so "
                "memory does not grow with the run (12 bytes per segment).")
    corpus = pretraining_corpus(config.corpus, n_train=n_train, n_val=config.n_val, seed=config.seed,
                                k=config.k, max_length=config.max_length, segment_spec=spec,
                                val_records=config.val_records, val_fraction=config.val_fraction,
                                progress=progress and is_main)
    if is_main:
        write_json_atomic(run_dir / "corpus.json", corpus.report())
    table, table_source = _score_table(config, corpus.source, run_dir, is_main)
    masker = make_collator(config.strategy, tokenizer, table=table, seed=config.seed,
                           mlm_probability=config.mlm_probability)
    collator = BatchCollator(masker, seed=config.seed)
    curriculum_collator, curriculum = setup_curriculum(config, tokenizer, table, run_dir,
                                                       make_collator, BatchCollator)
    collator = curriculum_collator or collator

    args = TrainingArguments(
        output_dir=str(run_dir / "checkpoints"), max_steps=config.steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate,
        warmup_steps=config.warmup, weight_decay=config.weight_decay, adam_beta1=config.adam_beta1,
        adam_beta2=config.adam_beta2, adam_epsilon=config.adam_epsilon,
        max_grad_norm=config.max_grad_norm, lr_scheduler_type="linear",
        logging_steps=config.logging_steps, logging_first_step=True,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=config.save_total_limit,
        eval_strategy="steps" if config.eval_steps else "no", eval_steps=config.eval_steps,
        seed=config.seed, data_seed=config.seed, bf16=info["bf16"], use_cpu=not info["cuda"],
        dataloader_num_workers=config.num_workers, remove_unused_columns=False,
        label_names=["labels"], report_to="none", disable_tqdm=not progress,
        torch_compile=config.torch_compile, ddp_find_unused_parameters=False,
        # BertForMaskedLM averages its loss itself; Trainer's cross-device token averaging would
        # then multiply loss and gradients by the number of processes
        average_tokens_across_devices=False)
    logger = RunLogger(run_dir)
    model = build_mlm(source, seed=config.seed, attention_dropout=config.attention_dropout,
                      hidden_dropout=config.hidden_dropout, fast_dropout=config.fast_dropout)

    class PretrainTrainer(CurriculumTrainerMixin, Trainer):
        def _get_train_sampler(self, train_dataset=None):
            dataset = self.train_dataset if train_dataset is None else train_dataset
            if not config.group_by_length:
                return super()._get_train_sampler(train_dataset)
            return LengthGroupedSampler(dataset_lengths(dataset), self.args.train_batch_size,
                                        seed=config.seed)

    trainer = PretrainTrainer(model=model, args=args, train_dataset=corpus.train,
                              eval_dataset=corpus.val, data_collator=collator,
                              compute_metrics=masked_accuracy,
                              preprocess_logits_for_metrics=_argmax_logits,
                              callbacks=[logger, *callbacks])
    if curriculum is not None:  # cm-gems: stage switches (curriculum.py)
        trainer.curriculum = curriculum
        trainer.add_callback(curriculum)
    # no log dicts on stdout (metrics.jsonl has them); progress bar on stderr, or none
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if progress:
        trainer.add_callback(StderrProgress())
    last = last_complete_checkpoint(run_dir / "checkpoints") if resume else None
    train_out = trainer.train(resume_from_checkpoint=last)
    result = PretrainResult(run_dir, None, train=dict(train_out.metrics), cancelled=logger.cancelled,
                            resumed_from=last)
    if logger.cancelled:
        return result
    ev = trainer.evaluate()
    ev["perplexity"] = float(math.exp(min(ev["eval_loss"], 50)))
    mean_tokens = corpus.train.n_tokens() / len(corpus.train)
    runtime = train_out.metrics.get("train_runtime") or float("nan")
    ev.update(train_runtime=runtime, tokens_per_second=config.steps * per_step * mean_tokens / runtime
              if last is None else None, steps=trainer.state.global_step)
    result.eval = ev
    if trainer.is_world_process_zero():
        write_json_atomic(run_dir / "eval.json", ev)
        record = {"kind": "pretrain", "config": asdict(config), "device": info,
                  "strategy": config.strategy, "table": table_source, "corpus": corpus.source,
                  "train_segments": corpus.n_train_segments, "val_segments": corpus.n_val_segments,
                  "sequences_per_step": per_step, "global_step": trainer.state.global_step,
                  "resumed_from": last, "eval": ev,
                  "mean_tokens_per_sequence": float(np.round(mean_tokens, 2)),
                  "base_model": source.label, "versions": _versions(torch)}
        if curriculum is not None:
            record["curriculum"] = curriculum.state()
        result.model_dir = save_model(trainer.model, tokenizer, run_dir / "model", record)
    return result


def _versions(torch) -> dict:
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__}


#: the package-level name (``genemask_viz.training.pretrain`` is this module)
run_pretraining = pretrain
