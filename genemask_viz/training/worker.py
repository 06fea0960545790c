"""Run one registry run folder: ``python -m genemask_viz.training.worker RUN_DIR``.

:func:`execute_run` is what both the background worker and the foreground
command line call: it reads ``config.json``, marks the run ``running``, runs it,
and leaves ``done``, ``cancelled`` or ``failed`` (with the error message) in
``status.json``. Under ``accelerate launch`` only process 0 writes the status.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from pathlib import Path

from .registry import CANCEL_FILE, _now, read_config, read_json, set_status, wait_for_slot

__all__ = ["execute_run", "main", "close_distributed"]

#: how long process 0 waits at the final barrier for the other processes (seconds)
FINAL_BARRIER_S = 300.0


def close_distributed(ok: bool = True) -> None:
    """End this process's part in a torch.distributed job cleanly (no-op without one).

    Under ``accelerate launch`` Trainer creates the process group and nobody destroys
    it: the group (held by the finished Trainer's DDP wrapper, often in a reference
    cycle) then dies during interpreter finalization, where gloo's worker threads
    releasing tensors need a GIL that no longer exists: SIGABRT, now and then. So every
    rank first waits for the others (``ok``: only when this rank finished normally; a
    failed rank must not wait for peers that may be stuck), then the group is destroyed
    and the garbage collected while the interpreter is fully alive.
    """
    try:
        import torch.distributed as dist
    except ImportError:
        return
    if not (dist.is_available() and dist.is_initialized()):
        return
    if ok and dist.get_world_size() > 1:
        import datetime
        try:
            if str(dist.get_backend()).lower() == "gloo":
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=FINAL_BARRIER_S))
            else:
                dist.barrier()
        except Exception as exc:  # a peer died: tear down anyway
            print(f"genemask worker: final barrier failed ({exc}); closing anyway.",
                  file=sys.stderr)
    gc.collect()  # the Trainer and its DDP wrapper (which hold the group) go first
    dist.destroy_process_group()
    gc.collect()


def execute_run(run_dir: str | os.PathLike, progress: bool = True, queue: bool = False,
                callbacks=()) -> dict:
    """Run the job described by ``RUN_DIR/config.json``; returns the final status.

    ``queue=True`` waits for a free slot first (background workers); the error of
    a failed run is recorded and re-raised.
    """
    run_dir = Path(run_dir)
    cfg = read_config(run_dir)  # missing or malformed: a GeneMaskInputError naming it
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        if queue:
            if not wait_for_slot(run_dir):
                return read_json(run_dir / "status.json")
        else:
            # a foreground (re)run is what the user asked for now: an old cancel request
            # (e.g. from cancelling the previous attempt) must not stop it after one step
            (run_dir / CANCEL_FILE).unlink(missing_ok=True)
            set_status(run_dir, state="running", pid=os.getpid(), started=_now(), error=None,
                       message=None)
    try:
        if cfg["kind"] == "pretrain":
            from .pretrain import PretrainConfig, pretrain
            result = pretrain(PretrainConfig(**cfg["params"]), run_dir, progress=progress,
                              callbacks=callbacks)
            cancelled = result.cancelled
        else:
            from .fewshot import FewShotConfig, run_fewshot
            result = run_fewshot(FewShotConfig(**cfg["params"]), run_dir, progress=progress,
                                 callbacks=callbacks)
            cancelled = result.cancelled
    except BaseException as exc:
        if is_main:
            cancelled = isinstance(exc, KeyboardInterrupt)
            set_status(run_dir, state="cancelled" if cancelled else "failed",
                       error=None if cancelled else f"{type(exc).__name__}: {exc}",
                       finished=_now(), traceback=traceback.format_exc(limit=8))
        raise
    if is_main:
        set_status(run_dir, state="cancelled" if cancelled else "done", finished=_now(),
                   message="cancelled; the last checkpoint is kept" if cancelled else None)
    return read_json(run_dir / "status.json")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m genemask_viz.training.worker RUN_DIR", file=sys.stderr)
        return 2
    try:
        status = execute_run(argv[0], progress=False, queue=True)
    except Exception:
        traceback.print_exc()
        close_distributed(ok=False)
        return 1
    close_distributed(ok=True)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # other accelerate processes: process 0 reports the state
    return 0 if status.get("state") in ("done", "cancelled") else 1


def _exit(code: int) -> None:
    """Leave the process. Under torch.distributed (group destroyed above) without
    interpreter finalization: the status is written and the streams are flushed, and no
    native thread (gloo, OpenMP) is left to run into a finalizing interpreter."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
