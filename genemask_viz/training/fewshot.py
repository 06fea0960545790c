"""Few-shot fine-tuning and evaluation (spec section 5): shots x seeds, one row per run.

Fine-tuning settings per shot count k (:func:`paper_settings`), two schemes:

- ``"paper"`` (default): the release's **two groups** (its README, 5c): the 10-shot
  settings (lr 1e-4, 20 epochs, batch 5) for 10, 50 and 100 shots, the 1000-shot
  settings (lr 5e-5, 5 epochs, batch 15) for 500 and 1000. A k between the groups
  takes the group of the nearer release shot count in log k (k < sqrt(100 x 500) ~ 224:
  10-shot settings), our choice as the release is silent.
- ``"interpolate"``: our earlier scheme, between the paper's two anchors in log k:
  with t = (ln k - ln 10) / (ln 1000 - ln 10), clipped to [0, 1],
  ``lr = exp((1 - t) ln 1e-4 + t ln 5e-5)`` (3 significant digits),
  ``epochs = round(20 - 15 t)``, ``batch = round(5 + 10 t)``; so k=50: 7.85e-5, 15, 8;
  k=100: 7.07e-5, 13, 10; k=500: 5.55e-5, 7, 13.

Both: warmup 10% of the steps (``ceil(0.1 x steps)``, linear, then linear decay),
dropout 0.1, weight decay 0.01, no dev set, the test set evaluated once. Every value can
be overridden. Steps = ceil(n_train / batch) x epochs.

Each run: draw (:func:`~genemask_viz.training.tasks.draw_shots`; the task's test set is
fixed, the same rows for every k and seed), a fresh classification head on the model
(seeded), Trainer fine-tuning, one prediction pass over the test set, metrics
(:mod:`.metrics`). A model that predicts one class for every test row is **collapsed**
(accuracy = that class's share, MCC 0): flagged per seed and counted per setting, since
identical collapsed seeds (sd 0) must not read as a stable result.

:func:`run_cell` runs one (task, shots, seeds) cell and returns per-seed rows (the
study grid's entry point); :func:`run_fewshot` runs a whole config and writes
``results.csv`` (one row per run) and ``summary.json`` (per shot count: the settings,
steps, the test set's size and hash, the draw's source, and mean/sd per metric).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import GeneMaskInputError
from .metrics import METRICS, classification_metrics, softmax

__all__ = ["FinetuneSettings", "paper_settings", "settings_group", "SETTINGS_SCHEMES",
           "FewShotConfig", "FewShotResult", "finetune_and_evaluate", "run_cell", "run_fewshot",
           "summarise", "collapse_notes"]

_ANCHORS = ((10, 1e-4, 20, 5), (1000, 5e-5, 5, 15))  # (shots, lr, epochs, batch), the paper's
SETTINGS_SCHEMES = ("paper", "interpolate")
_GROUP_EDGE = math.sqrt(100 * 500)  # between the release's 10-shot (<=100) and 1000-shot (>=500) groups


@dataclass
class FinetuneSettings:
    learning_rate: float
    epochs: int
    batch_size: int
    warmup_ratio: float = 0.1
    dropout: float = 0.1
    weight_decay: float = 0.01


def settings_group(shots: int, scheme: str = "paper") -> str:
    """Which settings ``shots`` gets: "10-shot settings", "1000-shot settings" or "interpolated"."""
    if scheme not in SETTINGS_SCHEMES:
        raise GeneMaskInputError(f"unknown fine-tuning settings {scheme!r}.", source="--settings",
                                 fix=f"use one of {', '.join(SETTINGS_SCHEMES)}.")
    if scheme == "interpolate":
        return "interpolated"
    return "10-shot settings" if shots < _GROUP_EDGE else "1000-shot settings"


def paper_settings(shots: int, scheme: str = "paper") -> FinetuneSettings:
    """The fine-tuning settings for ``shots`` per class under ``scheme`` (see module doc)."""
    (k0, lr0, ep0, b0), (k1, lr1, ep1, b1) = _ANCHORS
    group = settings_group(shots, scheme)
    if group == "10-shot settings":
        return FinetuneSettings(learning_rate=lr0, epochs=ep0, batch_size=b0)
    if group == "1000-shot settings":
        return FinetuneSettings(learning_rate=lr1, epochs=ep1, batch_size=b1)
    t = min(max((math.log(shots) - math.log(k0)) / (math.log(k1) - math.log(k0)), 0.0), 1.0)
    t = round(t, 9)  # k=100 is exactly halfway, not 0.4999...
    lr = math.exp((1 - t) * math.log(lr0) + t * math.log(lr1))
    return FinetuneSettings(learning_rate=float(f"{lr:.3g}"),  # 3 significant digits
                            epochs=int(math.floor(ep0 + t * (ep1 - ep0) + 0.5)),
                            batch_size=int(math.floor(b0 + t * (b1 - b0) + 0.5)))


def _given(value, default):
    """``value`` unless it is None (0 is a value, not "use the default")."""
    return default if value is None else value


@dataclass
class FewShotConfig:
    """A few-shot experiment (JSON-able; stored in the run's config.json)."""

    data: str | None = "demo"          # folder, file or "demo"; or use train/test
    train: str | None = None
    test: str | None = None
    shots: list[int] = field(default_factory=lambda: [10])
    seeds: int = 3                      # seeds 0..seeds-1 per setting
    model: str = "tiny"                 # tiny|logo|dnabert-base (fresh) or a run / checkpoint folder
    settings_scheme: str = "paper"      # paper (the release's two groups) | interpolate
    learning_rate: float | None = None  # None: paper_settings(shots, settings_scheme)
    epochs: int | None = None
    batch_size: int | None = None
    warmup_ratio: float = 0.1
    dropout: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 512
    test_fraction: float = 0.2          # held-out share where no test file exists (Cohn-enh, one file)
    from_pool: bool = False             # ignore the data set's own shot files
    max_test: int | None = None         # cap on test rows (quick looks)
    eval_batch_size: int = 128
    precision: str = "auto"
    threads: int | None = None
    keep_models: int = 1                # seeds 0..n-1 per shot count keep their fine-tuned model
                                        # (models/shots-K_seed-S/, safetensors; 0: none)

    def __post_init__(self):
        if isinstance(self.shots, (int, str)):
            self.shots = [int(s) for s in str(self.shots).split(",") if s.strip()]
        self.shots = [int(s) for s in self.shots]
        if not self.shots or min(self.shots) < 1:
            raise GeneMaskInputError(f"shots must be positive integers, got {self.shots}.",
                                     fix="e.g. --shots 10,50")
        settings_group(10, self.settings_scheme)  # a known scheme
        if int(self.seeds) < 1:
            raise GeneMaskInputError(f"seeds must be at least 1, got {self.seeds}.")
        # None means "the paper's value"; anything given must be usable
        if self.learning_rate is not None and not float(self.learning_rate) > 0:
            raise GeneMaskInputError(f"learning rate must be positive, got {self.learning_rate}.",
                                     source="--lr", fix="e.g. --lr 1e-4, or leave it out for the "
                                                        "paper's value.")
        for name, flag in (("epochs", "--epochs"), ("batch_size", "--batch-size"),
                           ("max_test", "--max-test")):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise GeneMaskInputError(f"{name} must be at least 1, got {value}.", source=flag,
                                         fix=f"give a positive {flag}, or leave it out "
                                             + ("(all test rows)." if name == "max_test"
                                                else "for the paper's value."))
        if not 0 < float(self.test_fraction) < 1:
            raise GeneMaskInputError(f"test_fraction must be between 0 and 1 (exclusive), got "
                                     f"{self.test_fraction}.", source="--test-fraction",
                                     fix="e.g. --test-fraction 0.2")

    def settings(self, shots: int) -> FinetuneSettings:
        base = paper_settings(shots, self.settings_scheme)
        return FinetuneSettings(learning_rate=_given(self.learning_rate, base.learning_rate),
                                epochs=_given(self.epochs, base.epochs),
                                batch_size=_given(self.batch_size, base.batch_size),
                                warmup_ratio=self.warmup_ratio, dropout=self.dropout,
                                weight_decay=self.weight_decay)


@dataclass
class FewShotResult:
    results: pd.DataFrame
    summary: dict
    out_dir: Path | None
    cancelled: bool = False


def _steps(n_train: int, s: FinetuneSettings) -> int:
    return math.ceil(n_train / s.batch_size) * s.epochs


def _warmup_steps(steps: int, s: FinetuneSettings) -> int:
    return math.ceil(steps * s.warmup_ratio) if s.warmup_ratio < 1 else int(s.warmup_ratio)


def finetune_and_evaluate(source, draw, settings: FinetuneSettings, classes: list[int],
                          max_length: int = 512, eval_batch_size: int = 128, progress: bool = False,
                          callbacks=(), precision: str = "auto", save_to=None) -> dict:
    """Fine-tune ``source`` (a :class:`ModelSource`) on ``draw.train``, evaluate on ``draw.test``.

    Labels are mapped to ``0..C-1`` by their position in ``classes``. Returns the
    metrics (with ``collapsed``/``predicted_classes``) plus timings, sizes and the optimizer
    steps taken, and ``cancelled`` when a callback stopped it.
    """
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from .corpus import BatchCollator, SequenceDataset
    from .models import build_classifier, load_tokenizer
    from .pretrain import device_info

    info = device_info(precision)
    tokenizer = load_tokenizer(source)
    lookup = {c: i for i, c in enumerate(classes)}
    y_train = draw.train["label"].map(lookup).to_numpy()
    y_test = draw.test["label"].map(lookup).to_numpy()
    train_ds = SequenceDataset(draw.train["sequence"].tolist(), k=tokenizer.k, max_length=max_length,
                               labels=y_train)
    test_ds = SequenceDataset(draw.test["sequence"].tolist(), k=tokenizer.k, max_length=max_length,
                              labels=y_test)
    model = build_classifier(source, num_labels=len(classes), seed=draw.seed, dropout=settings.dropout)
    with tempfile.TemporaryDirectory(prefix="genemask-ft-") as tmp:
        args = TrainingArguments(
            output_dir=tmp, num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            per_device_eval_batch_size=eval_batch_size, learning_rate=settings.learning_rate,
            warmup_steps=settings.warmup_ratio, weight_decay=settings.weight_decay,
            lr_scheduler_type="linear", seed=draw.seed, data_seed=draw.seed, save_strategy="no",
            eval_strategy="no", logging_steps=max(1, _steps(len(train_ds), settings) // 10),
            report_to="none", use_cpu=not info["cuda"], bf16=info["bf16"],
            remove_unused_columns=False, label_names=["labels"], disable_tqdm=not progress,
            average_tokens_across_devices=False)
        trainer = Trainer(model=model, args=args, train_dataset=train_ds,
                          data_collator=BatchCollator(None), callbacks=list(callbacks))
        trainer.remove_callback(PrinterCallback)
        t0 = time.perf_counter()
        trainer.train()
        t1 = time.perf_counter()
        cancelled = any(getattr(cb, "cancelled", False) for cb in callbacks)
        if cancelled:
            return {"cancelled": True}
        logits = trainer.predict(test_ds).predictions
        t2 = time.perf_counter()
        steps = int(trainer.state.global_step)
    logits = logits[0] if isinstance(logits, tuple) else logits
    out = classification_metrics(y_test, softmax(logits))
    if save_to is not None:  # keep the fine-tuned model (something to attribute; issue 17)
        from .models import save_model
        save_model(trainer.model, tokenizer, save_to, {
            "kind": "fewshot", "base_model": source.label, "shots": draw.shots, "seed": draw.seed,
            "classes": list(classes), "settings": asdict(settings),
            **{m: out[m] for m in METRICS}})
    out.update(n_train=len(train_ds), n_test=len(test_ds), steps=steps,
               warmup_steps=_warmup_steps(steps, settings), train_s=round(t1 - t0, 3),
               eval_s=round(t2 - t1, 3), cancelled=False)
    return out


def _run_one(task, source, draw, settings: FinetuneSettings, group: str, *, max_length=512,
             eval_batch_size=128, precision="auto", callbacks=(), save_to=None) -> dict | None:
    """One fine-tuning run -> its results row (None when cancelled)."""
    from .tasks import table_hash
    m = finetune_and_evaluate(source, draw, settings, task.classes, max_length, eval_batch_size,
                              progress=False, callbacks=callbacks, precision=precision,
                              save_to=save_to)
    if m.pop("cancelled"):
        return None
    return {"dataset": task.name, "model": source.label, "shots": draw.shots, "seed": draw.seed,
            **{k: m[k] for k in METRICS}, "collapsed": m["collapsed"],
            "predicted_classes": m["predicted_classes"], "n_train": m["n_train"],
            "n_test": m["n_test"], "test_hash": table_hash(draw.test),
            "learning_rate": settings.learning_rate, "epochs": settings.epochs,
            "batch_size": settings.batch_size, "warmup_ratio": settings.warmup_ratio,
            "warmup_steps": m["warmup_steps"], "steps": m["steps"], "settings": group,
            "train_s": m["train_s"], "eval_s": m["eval_s"], "train_source": draw.train_source,
            "shot_file_role": draw.shot_file_role, "test_source": draw.test_source}


def run_cell(task, shots: int, seeds, model="tiny", settings: FinetuneSettings | None = None, *,
             scheme: str = "paper", from_pool: bool = False, max_test: int | None = None,
             max_length: int = 512, eval_batch_size: int = 128, precision: str = "auto",
             callbacks=()) -> list[dict]:
    """One study-grid cell: fine-tune ``model`` on ``shots`` per class of ``task``, once per seed.

    ``task``: a :class:`~.tasks.FewShotTask` or what :func:`~.tasks.load_task` takes (a
    folder, a file, ``"demo"``). ``seeds``: an int n (seeds 0..n-1) or an iterable of
    seeds. ``model``: a name, run/checkpoint folder or :class:`~.models.ModelSource`.
    ``settings``: None = :func:`paper_settings` (``shots``, ``scheme``). Returns one
    dict per finished seed: ``seed``, accuracy, macro_f1, mcc, auroc, ``collapsed``
    (one class predicted for every test row), ``predicted_classes``, n_train, n_test,
    ``test_hash`` (identical for every shots and seed of a task), learning_rate, epochs,
    batch_size, warmup_ratio, warmup_steps, steps, settings (the group), train_s, eval_s,
    train_source, shot_file_role, test_source, dataset, model, shots. A cancel request
    (a callback with ``cancelled``) stops early: fewer rows come back.
    """
    from .models import ModelSource, resolve_model
    from .tasks import FewShotTask, draw_shots, load_task
    if not isinstance(task, FewShotTask):
        task = load_task(task)
    source = model if isinstance(model, ModelSource) else resolve_model(model)
    seeds = range(int(seeds)) if isinstance(seeds, int) else [int(x) for x in seeds]
    settings = settings or paper_settings(int(shots), scheme)
    group = settings_group(int(shots), scheme) if settings == paper_settings(int(shots), scheme) \
        else "custom"
    draws = [draw_shots(task, int(shots), seed, from_pool=from_pool, max_test=max_test)
             for seed in seeds]  # every draw first: bad shot counts fail before any training
    rows = []
    for draw in draws:
        row = _run_one(task, source, draw, settings, group, max_length=max_length,
                       eval_batch_size=eval_batch_size, precision=precision, callbacks=callbacks)
        if row is None:
            break
        rows.append(row)
    return rows


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof=1; 0 for one seed) per data set, model and shots,
    and ``n_collapsed``: seeds whose model predicted one class for every test row."""
    keys = [c for c in ("dataset", "model", "shots") if c in results]
    rows = []
    for key, group in results.groupby(keys, sort=True):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row["n_seeds"] = len(group)
        if "collapsed" in group:
            row["n_collapsed"] = int(group["collapsed"].astype(bool).sum())
        for m in METRICS:
            values = group[m].astype(float)
            row[f"{m}_mean"] = float(values.mean())
            row[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def collapse_notes(summary: dict) -> list[str]:
    """Warnings for shot counts whose fine-tuned models collapsed to one class."""
    notes = []
    for row in summary.get("settings", []):
        n = int(row.get("n_collapsed", 0) or 0)
        if n:
            notes.append(f"WARNING: {row.get('dataset')} k={row['shots']}: {n} of {row['n_seeds']} "
                         "seed(s) collapsed (one class predicted for every test row: accuracy = "
                         "that class's share, MCC 0); their mean and sd do not measure stability.")
    return notes


def _shot_entry(draw, settings: FinetuneSettings, group: str) -> dict:
    from .tasks import table_hash
    steps = _steps(len(draw.train), settings)
    return {**asdict(settings), "settings": group, "steps": steps,
            "warmup_steps": _warmup_steps(steps, settings), "n_train": len(draw.train),
            "test_rows": len(draw.test), "test_hash": table_hash(draw.test),
            "shot_file_role": draw.shot_file_role, "train_source": draw.train_source}


def run_fewshot(config: FewShotConfig, out_dir: str | os.PathLike | None = None,
                progress: bool = True, callbacks=()) -> FewShotResult:
    """All shots x seeds of ``config``; writes ``results.csv`` and ``summary.json`` to ``out_dir``.

    ``out_dir`` may be a registry run folder: progress then goes to its
    ``status.json``/``metrics.jsonl`` and a cancel request stops the runs (the rows
    finished so far are kept).
    """
    import sys

    import torch
    from tqdm.auto import tqdm

    from .callbacks import RunLogger
    from .models import resolve_model
    from .registry import write_json_atomic, write_text_atomic
    from .tasks import draw_shots, load_task

    if config.threads:
        torch.set_num_threads(int(config.threads))
    task = load_task(config.data, train=config.train, test=config.test,
                     test_fraction=config.test_fraction)
    source = resolve_model(config.model)
    plan = [(k, seed) for k in config.shots for seed in range(int(config.seeds))]
    draws = {(k, s): draw_shots(task, k, s, from_pool=config.from_pool, max_test=config.max_test)
             for k, s in plan}  # every draw first: bad shot counts fail before any training
    groups = {k: settings_group(k, config.settings_scheme) if config.settings(k) ==
              paper_settings(k, config.settings_scheme) else "custom" for k in config.shots}
    total = sum(_steps(len(draws[p].train), config.settings(p[0])) for p in plan)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rows, offset, cancelled = [], 0, False
    bar = tqdm(plan, desc="few-shot runs", file=sys.stderr, disable=not progress)
    for k, seed in bar:
        draw, settings = draws[(k, seed)], config.settings(k)
        bar.set_postfix(shots=k, seed=seed)
        cbs = list(callbacks)
        if out is not None and (out / "status.json").exists():
            cbs.append(RunLogger(out, step_offset=offset, max_steps=total,
                                 extra={"shots": k, "seed": seed}))
        row = _run_one(task, source, draw, settings, groups[k], max_length=config.max_length,
                       eval_batch_size=config.eval_batch_size, precision=config.precision,
                       callbacks=cbs, save_to=(out / "models" / f"shots-{k}_seed-{seed}"
                                               if out is not None and seed < config.keep_models
                                               else None))
        if row is None:
            cancelled = True
            break
        offset += _steps(len(draw.train), settings)
        rows.append(row)
        if progress:
            flag = "  COLLAPSED: one class predicted for every test row" if row["collapsed"] else ""
            print(f"  shots={k} seed={seed}: accuracy {row['accuracy']:.3f}, "
                  f"MCC {row['mcc']:.3f}, AUROC {row['auroc']:.3f} "
                  f"({row['train_s']:.1f} s train, {row['eval_s']:.1f} s test){flag}", file=sys.stderr)
    results = pd.DataFrame(rows)
    summary_table = summarise(results) if len(results) else pd.DataFrame()
    first = {k: draws[(k, 0)] for k in config.shots}
    summary = {"dataset": task.name, "source": task.source, "model": source.label,
               "classes": task.classes, "test": task.test_note, "split_file": task.split_file,
               "cancelled": cancelled, "settings_scheme": config.settings_scheme,
               "settings": summary_table.to_dict(orient="records"),
               "finetune": {str(k): _shot_entry(first[k], config.settings(k), groups[k])
                            for k in config.shots},
               "n_collapsed": int(results["collapsed"].sum()) if len(results) else 0,
               "config": asdict(config)}
    if out is not None:
        write_text_atomic(out / "results.csv", results.to_csv(index=False))
        write_json_atomic(out / "summary.json", summary)
    return FewShotResult(results, summary, out, cancelled)
