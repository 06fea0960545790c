"""Curriculum masking (CM-GEMS, Roy, Sural, Ganguly, ECAI 2024) as a pretraining schedule.

A curriculum (:data:`~genemask_viz.masking.names.CURRICULA`) is a list of masking
stages. ``cm-gems`` = ``genemask``, then ``global-pmi``; ``cm-gems-released`` = the
follow-up's released stages with their bugs (:mod:`genemask_viz.masking.global_pmi`).
Training starts in stage 0 and switches, once and for good, when the training
perplexity stops falling.

Switch rule (:class:`SwitchRule`)
    Trainer logs the mean training loss every ``logging_steps`` steps; each log row
    (step s, loss L_s) stands for the steps since the previous row. The smoothed
    training perplexity at step s over a window of w steps is

        P_w(s) = exp( sum_{rows r with s-w < step_r <= s} n_r L_r / sum n_r ),

    n_r the number of steps row r covers. At a logged step s >= 2w the improvement is
    ``P_w(s-w) - P_w(s)`` (the previous window against the last one); when it is below
    ``threshold`` the curriculum moves to the next stage. Defaults: w = 5% of the run's
    steps rounded to whole logging intervals (= 500 of the paper's 10,000 steps, the
    release's evaluation interval), threshold 1.0 perplexity (the release's
    ``--threshold_perplexity_drop`` default).

    Where the release differs, and what we chose: the release reads the *evaluation*
    perplexity file written at every logging step and switches when the smallest
    absolute change between any two consecutive evaluations ever falls below the
    threshold; the issue asks for the smoothed *training* perplexity (no evaluation set
    needed, and noise is averaged over a window instead of caught in one pair), so both
    ``cm-gems`` and ``cm-gems-released`` use the rule above; the three bugs of the
    release are in the masking, not in the switch.

Exact step semantics
    Batches are collated ahead of the step that uses them (the data loader looks one
    batch ahead; worker processes prefetch several), so a collator that switched its
    strategy would switch a few batches late, by an amount that changes with workers and
    on resume. Instead :class:`CurriculumBatchCollator` masks every batch once per stage
    (each stage with the seed a plain run of that strategy would use, so ``cm-gems``
    before its switch is exactly a ``genemask`` run), and the trainer keeps the stage that
    is current when the step *starts* (:class:`CurriculumTrainerMixin`). A switch decided
    at the log of step s applies from step s+1 on.

Resume
    The stage, the switch record and the log rows the rule still needs go to
    ``curriculum.json`` in every checkpoint folder (and, current, in the run folder);
    a resumed run reads the one of its checkpoint, so a killed run resumes in the right
    stage and decides the switch at the same step as an uninterrupted run. (Equal
    decisions need the checkpoint on a logging step: ``save_steps`` a multiple of
    ``logging_steps``, as the defaults are; otherwise the first log after resume averages
    fewer steps, and a warning says so.) The switch is recorded in ``metrics.jsonl`` as a
    row ``{"step", "event": "curriculum_switch", "from", "to", "reason", ...}``.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainerCallback

from ..errors import GeneMaskInputError, GeneMaskWarning
from ..masking.names import CURRICULA
from .registry import append_metrics, write_json_atomic

__all__ = ["SwitchRule", "CurriculumCallback", "CurriculumBatchCollator", "CurriculumTrainerMixin",
           "default_window", "setup_curriculum", "STATE_FILE", "DEFAULT_THRESHOLD"]

#: the curriculum's state, in each checkpoint folder and in the run folder
STATE_FILE = "curriculum.json"
#: perplexity improvement per window below which the curriculum switches (release default)
DEFAULT_THRESHOLD = 1.0
#: default window: this share of the run's steps (500 of the paper's 10,000)
DEFAULT_WINDOW_FRACTION = 0.05
_MAX_EXP = 50.0


def default_window(steps: int, logging_steps: int) -> int:
    """5% of ``steps``, rounded to a whole number (>= 1) of logging intervals."""
    n = max(1, round(DEFAULT_WINDOW_FRACTION * steps / logging_steps))
    return int(n * logging_steps)


@dataclass
class SwitchRule:
    """When the smoothed training perplexity stops improving (module docstring).

    Feed it each logged ``(step, loss)`` with :meth:`update`; it returns True once, at
    the step where the improvement over the last window falls below ``threshold``.
    """

    window: int
    threshold: float = DEFAULT_THRESHOLD
    rows: list = field(default_factory=list)     # [step, loss, n_steps] of recent log rows
    last: dict | None = None                     # the latest comparison, for the record

    def __post_init__(self):
        if int(self.window) < 1:
            raise GeneMaskInputError(f"switch window must be at least 1 step, got {self.window}.",
                                     source="--switch-window", fix="e.g. --switch-window 500")
        if not math.isfinite(float(self.threshold)):
            raise GeneMaskInputError(f"switch threshold must be a number, got {self.threshold}.",
                                     source="--switch-threshold", fix="e.g. --switch-threshold 1.0")
        self.window = int(self.window)

    def _perplexity(self, a: int, b: int) -> float | None:
        """exp of the step-weighted mean loss of the rows with a < step <= b."""
        sel = [(loss, n) for step, loss, n in self.rows if a < step <= b]
        if not sel:
            return None
        mean = sum(loss * n for loss, n in sel) / sum(n for _, n in sel)
        return math.exp(min(mean, _MAX_EXP))

    def update(self, step: int, loss: float) -> bool:
        """Record a logged loss; True when the curriculum should switch now."""
        step = int(step)
        if not math.isfinite(float(loss)):
            return False                         # a NaN/inf log says nothing about progress
        prev = self.rows[-1][0] if self.rows else 0
        if self.rows and step <= prev:           # a repeated log (e.g. the final one)
            return False
        self.rows.append([step, float(loss), step - prev])
        w = self.window
        self.rows = [r for r in self.rows if r[0] > step - 2 * w]
        if step < 2 * w:
            return False
        before, now = self._perplexity(step - 2 * w, step - w), self._perplexity(step - w, step)
        if before is None or now is None:
            return False
        self.last = {"step": step, "window": w, "threshold": self.threshold,
                     "perplexity_before": before, "perplexity_now": now,
                     "improvement": before - now}
        return before - now < self.threshold

    def state(self) -> dict:
        return {"window": self.window, "threshold": self.threshold, "rows": self.rows,
                "last": self.last}


class CurriculumCallback(TrainerCallback):
    """Keeps the current stage of a curriculum, switches it, records and persists it."""

    def __init__(self, curriculum: str, rule: SwitchRule, run_dir=None):
        if curriculum not in CURRICULA:
            raise GeneMaskInputError(f"{curriculum!r} is not a curriculum; choose one of "
                                     f"{', '.join(CURRICULA)}.")
        self.curriculum, self.stages, self.rule = curriculum, CURRICULA[curriculum], rule
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.stage = 0
        self.switches: list[dict] = []

    # --- state -------------------------------------------------------------------
    def state(self) -> dict:
        return {"curriculum": self.curriculum, "stages": list(self.stages), "stage": self.stage,
                "strategy": self.stages[self.stage], "switches": self.switches,
                "rule": self.rule.state()}

    def load(self, state: dict) -> None:
        if state.get("curriculum") != self.curriculum:
            raise GeneMaskInputError(
                f"the checkpoint's curriculum is {state.get('curriculum')!r}, this run's "
                f"{self.curriculum!r}.", fix="resume with the strategy the run started with.")
        self.stage = int(state["stage"])
        self.switches = list(state.get("switches", []))
        self.rule.rows = [list(r) for r in state["rule"]["rows"]]
        self.rule.last = state["rule"].get("last")

    def select(self, batch: dict) -> dict:
        """The batch as the current stage masked it (drops the other stages' tensors)."""
        if "stage_input_ids" not in batch:
            return batch
        batch = dict(batch)
        ids, labels = batch.pop("stage_input_ids"), batch.pop("stage_labels")
        batch["input_ids"], batch["labels"] = ids[self.stage], labels[self.stage]
        return batch

    # --- Trainer hooks -------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step > 0:   # resumed: the checkpoint's curriculum state
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}" / STATE_FILE
            if path.is_file():
                self.load(json.loads(path.read_text()))
                return
            # killed between Trainer's save and ours: replay the rule over the checkpoint's
            # logged losses (trainer_state.json), which gives the same decisions
            warnings.warn(f"{path} is missing; replaying the switch rule over the checkpoint's "
                          "log history.", GeneMaskWarning, stacklevel=2)
            for row in state.log_history:
                if "loss" in row and self.stage + 1 < len(self.stages):
                    if self.rule.update(row["step"], row["loss"]):
                        self._switch(row["step"], state, write=False)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs or self.stage + 1 >= len(self.stages):
            return
        if self.rule.update(state.global_step, logs["loss"]):
            self._switch(state.global_step, state, write=True)

    def _switch(self, step: int, state, write: bool) -> None:
        last = self.rule.last
        record = {"step": step, "event": "curriculum_switch",
                  "from": self.stages[self.stage], "to": self.stages[self.stage + 1],
                  "reason": (f"smoothed training perplexity improved by {last['improvement']:.4g} "
                             f"({last['perplexity_before']:.4g} -> {last['perplexity_now']:.4g}) "
                             f"over the last {last['window']} steps, less than the threshold "
                             f"{last['threshold']:g}"),
                  **{key: last[key] for key in ("perplexity_before", "perplexity_now",
                                                 "improvement", "window", "threshold")}}
        self.stage += 1
        self.switches.append(record)
        if write and state.is_world_process_zero and self.run_dir is not None:
            append_metrics(self.run_dir, record)
            write_json_atomic(self.run_dir / STATE_FILE, self.state())

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_json_atomic(folder / STATE_FILE, self.state())
            if self.run_dir is not None:
                write_json_atomic(self.run_dir / STATE_FILE, self.state())

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.run_dir is not None:
            write_json_atomic(self.run_dir / STATE_FILE, self.state())


@dataclass
class CurriculumBatchCollator:
    """Masks each batch once per stage: ``stage_input_ids`` / ``stage_labels`` are
    ``[n_stages, B, T]``; ``input_ids`` / ``labels`` are stage 0's (module docstring)."""

    stages: list      # one BatchCollator per stage

    def __call__(self, examples: list[dict]) -> dict:
        outs = [c(examples) for c in self.stages]
        batch = dict(outs[0])
        batch["stage_input_ids"] = torch.stack([o["input_ids"] for o in outs])
        batch["stage_labels"] = torch.stack([o["labels"] for o in outs])
        return batch


class CurriculumTrainerMixin:
    """For a ``Trainer`` subclass: with ``self.curriculum`` (a :class:`CurriculumCallback`)
    set, every batch is reduced to the current stage's masks when its step starts (before
    Trainer counts the masked tokens) and before evaluation. Without one: no change."""

    curriculum: CurriculumCallback | None = None

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        if self.curriculum is not None:
            epoch_iterator = map(self.curriculum.select, epoch_iterator)
        return super().get_batch_samples(epoch_iterator, num_batches, device)

    def prediction_step(self, model, inputs, *args, **kwargs):
        if self.curriculum is not None:
            inputs = self.curriculum.select(inputs)
        return super().prediction_step(model, inputs, *args, **kwargs)


def setup_curriculum(config, tokenizer, table, run_dir, make_collator, batch_collator):
    """``(collator, callback)`` for a curriculum strategy, else ``(None, None)``.

    ``make_collator`` / ``batch_collator``: :func:`.corpus.make_collator` and
    :class:`.corpus.BatchCollator` (passed in, so that this module does not import
    the corpus code). ``config`` is a :class:`.pretrain.PretrainConfig`.
    """
    if config.strategy not in CURRICULA:
        if config.switch_window is not None or config.switch_threshold is not None:
            raise GeneMaskInputError(
                f"switch window / threshold apply to curricula only; {config.strategy!r} is one "
                "masking strategy.", source="--switch-window/--switch-threshold",
                fix=f"use --strategy {' or '.join(CURRICULA)}, or drop the switch options.")
        return None, None
    window = config.switch_window or default_window(config.steps, config.logging_steps)
    if config.save_steps % config.logging_steps or window % config.logging_steps:
        warnings.warn(f"save_steps={config.save_steps} / switch window={window} are not multiples "
                      f"of logging_steps={config.logging_steps}: a resumed run may switch at "
                      "another step than an uninterrupted one.", GeneMaskWarning, stacklevel=2)
    threshold = DEFAULT_THRESHOLD if config.switch_threshold is None else config.switch_threshold
    rule = SwitchRule(window=window, threshold=threshold)
    collators = [batch_collator(make_collator(stage, tokenizer, table=table, seed=config.seed,
                                              mlm_probability=config.mlm_probability),
                                seed=config.seed)
                 for stage in CURRICULA[config.strategy]]
    return CurriculumBatchCollator(collators), CurriculumCallback(config.strategy, rule, run_dir)
