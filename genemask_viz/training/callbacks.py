"""Trainer callbacks that feed the run registry: metrics.jsonl, status progress, cancel."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from transformers import TrainerCallback

from .registry import append_metrics, is_cancel_requested, set_status

__all__ = ["RunLogger", "cancel_requested", "StderrProgress"]


def cancel_requested(run_dir, local: bool = False, dist=None) -> bool:
    """Should training stop now? The same answer on every process.

    One process: the cancel request file, or ``local`` (a SIGTERM seen by this process).
    Under torch.distributed with more than one process, process 0 alone reads the file
    and the decision (OR-ed with each process's ``local`` flag) is shared with an
    all-reduce (MAX), so all ranks stop after the same step: a rank that stopped on its
    own would leave the others waiting in a collective forever. Every rank must call
    this once per step. ``dist`` defaults to ``torch.distributed`` (tests pass a stub).
    """
    if dist is None:
        import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return bool(local) or is_cancel_requested(run_dir)
    import torch
    decided = bool(local) or (dist.get_rank() == 0 and is_cancel_requested(run_dir))
    # the tensor lives where the backend can reduce it: the rank's GPU for NCCL (as Trainer
    # places its own tensors), the CPU for gloo
    device = (torch.device("cuda", torch.cuda.current_device())
              if str(dist.get_backend()).lower() == "nccl" else torch.device("cpu"))
    flag = torch.tensor([1 if decided else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


class RunLogger(TrainerCallback):
    """Append Trainer logs to ``metrics.jsonl`` and keep ``status.json`` progress current.

    Rows: ``{"step", "loss", "lr", "grad_norm", "epoch", "elapsed", ...}``; evaluations
    add ``eval_loss``/``eval_accuracy``. On resume, rows logged after the checkpoint's
    step (by the interrupted process) are dropped first, so the file reads as one
    uninterrupted run. A cancel request (file or SIGTERM) stops training at the next
    step, on all processes at once (see :func:`cancel_requested`); only the main
    process writes.

    ``step_offset``/``max_steps`` let several Trainer runs (few-shot seeds) report one
    overall progress.
    """

    def __init__(self, run_dir, step_offset: int = 0, max_steps: int | None = None,
                 extra: dict | None = None, status_every_s: float = 1.0):
        self.run_dir = Path(run_dir)
        self.step_offset, self.max_steps, self.extra = step_offset, max_steps, extra or {}
        self.status_every_s = status_every_s
        self.t0 = time.perf_counter()
        self.elapsed_before = 0.0
        self._last_status = 0.0
        self.cancelled = False
        self._previous_handler = None

    # --- helpers ---------------------------------------------------------------
    def _total(self, state) -> int:
        return self.max_steps or state.max_steps

    def _on_sigterm(self, signum, frame):
        self.cancelled = True

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.t0

    # --- Trainer hooks ---------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()
        if not state.is_world_process_zero:
            return
        try:
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread
            self._previous_handler = None
        path = self.run_dir / "metrics.jsonl"
        if path.exists():  # (re)started: drop rows past the step training starts from
            # (also at step 0: a run killed before its first checkpoint starts over, and
            # its old rows must not be repeated)
            kept = []
            for line in path.read_text(errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    step = int(row.get("step", 0)) - self.step_offset
                except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
                    continue
                if step <= state.global_step:
                    kept.append(line)
                    if state.global_step > 0:  # resumed: the clock goes on from the checkpoint
                        elapsed = row.get("elapsed")
                        if isinstance(elapsed, (int, float)):
                            self.elapsed_before = max(self.elapsed_before, float(elapsed))
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(x + "\n" for x in kept))
            tmp.replace(path)
        set_status(self.run_dir, step=self.step_offset + state.global_step,
                   max_steps=self._total(state))

    def on_step_end(self, args, state, control, **kwargs):
        if cancel_requested(self.run_dir, local=self.cancelled):
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = True  # keep the work done so far
        now = time.perf_counter()
        if state.is_world_process_zero and now - self._last_status >= self.status_every_s:
            self._last_status = now
            set_status(self.run_dir, step=self.step_offset + state.global_step,
                       max_steps=self._total(state))
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": self.step_offset + state.global_step}
        for key, value in logs.items():
            if key == "learning_rate":
                key = "lr"
            if key in ("total_flos",):
                continue
            row[key] = value
        row["elapsed"] = round(self.elapsed(), 3)
        row.update(self.extra)
        append_metrics(self.run_dir, row)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            set_status(self.run_dir, step=self.step_offset + state.global_step,
                       max_steps=self._total(state))
            if self._previous_handler is not None:
                signal.signal(signal.SIGTERM, self._previous_handler)


class StderrProgress(TrainerCallback):
    """Trainer's progress bar, on stderr only: the latest loss as the bar's postfix.

    Replaces ``transformers``' ``ProgressCallback``, whose ``on_log`` writes the
    ``{'loss': ...}`` dicts to stdout (they belong in metrics.jsonl, not in a pipe).
    """

    def __init__(self):
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            import sys

            from tqdm.auto import tqdm
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, unit="step",
                            dynamic_ncols=True, file=sys.stderr, desc="pretraining")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs:
            shown = {key: f"{logs[key]:.4g}" for key in ("loss", "eval_loss")
                     if isinstance(logs.get(key), (int, float))}
            if shown:
                self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
