"""The run registry: every pretraining or few-shot run is a folder.

Layout of a run folder (``RUNS_ROOT/<id>/`` or any ``--out`` folder)::

    config.json     what to run: {"kind": "pretrain"|"fewshot", "id", "created", "params": {...}}
    status.json     {"state": queued|running|done|failed|cancelled, "error", "pid", "pid_start",
                     "boot_id", "step", "max_steps", "created", "started", "finished",
                     "updated", "message"}  (pid_start/boot_id: see procs.py)
    metrics.jsonl   one JSON object per log event, appended while training
                    (step, loss, lr, elapsed, and eval_* at evaluations)
    checkpoints/    Trainer checkpoints (pretraining), used to resume
    model/          the final model (save_pretrained + tokenizer + training_record.json)
    results.csv, summary.json   few-shot results; eval.json   final pretraining metrics
    log.txt         stdout/stderr of a background run

Every JSON file is written atomically (temporary file in the same folder, then
``os.replace``), so a reader never sees half a file. Background runs are started as
``python -m genemask_viz.training.worker RUN_DIR`` in a new session, so they outlive
the caller (an app page reload, a closed terminal). At most ``max_concurrent`` runs
of one root are running at a time; the others wait as ``queued`` (a file lock makes
the check-and-start atomic).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import GeneMaskInputError
from ..jsonsafe import json_safe
from .procs import pid_alive as _pid_alive
from .procs import process_identity

__all__ = ["STATES", "runs_root", "write_json_atomic", "write_text_atomic", "read_json", "create_run", "start_run",
           "run_status", "set_status", "run_progress", "cancel_run", "list_runs", "compare_runs",
           "read_metrics", "load_results", "resolve_run", "wait_for_slot", "append_metrics",
           "is_cancel_requested"]

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")
DEFAULT_MAX_CONCURRENT = 1  # 2 shared CPU cores: one training run at a time by default
CANCEL_FILE = "cancel.request"


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """Folder holding runs: ``root``, else ``$GENEMASK_RUNS``, else ``./runs``."""
    return Path(root or os.environ.get("GENEMASK_RUNS") or "runs").expanduser()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to a temporary file in the same folder, then rename it over ``path``
    (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, data) -> Path:
    """Write JSON to a temporary file in the same folder, then rename it over ``path``."""
    return write_text_atomic(path, json.dumps(json_safe(data), indent=2, default=str))


def read_json(path: str | os.PathLike, default=None):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default


def append_metrics(run_dir: str | os.PathLike, row: dict) -> None:
    """Append one line to ``metrics.jsonl`` (one write call: a line is never split)."""
    with open(Path(run_dir) / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(json_safe(row), default=float) + "\n")


def create_run(kind: str, params: dict, root: str | os.PathLike | None = None,
               run_dir: str | os.PathLike | None = None, name: str | None = None) -> Path:
    """Make a run folder with ``config.json`` and a ``queued`` status; return its path.

    ``run_dir`` places it anywhere (the CLI's ``--out``); otherwise it goes under
    :func:`runs_root` as ``<date>-<time>-<kind>-<random>`` (or ``name``). An existing
    folder that already holds a run of the same kind and parameters is reused (that
    is how an interrupted run is resumed); different parameters are refused.
    """
    if kind not in ("pretrain", "fewshot"):
        raise GeneMaskInputError(f"unknown run kind {kind!r}.", fix="use 'pretrain' or 'fewshot'.")
    if run_dir is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = runs_root(root) / (name or f"{stamp}-{kind}-{secrets.token_hex(2)}")
    run_dir = Path(run_dir)
    old = read_json(run_dir / "config.json")
    if old is not None:
        if old.get("kind") != kind or old.get("params") != json.loads(json.dumps(params, default=str)):
            raise GeneMaskInputError(
                "folder already holds a run with other settings.", source=run_dir,
                fix="choose a new --out folder, or repeat the original command to resume it.")
        status = run_status(run_dir)
        state, pid = status.get("state"), status.get("pid")
        if state in ("queued", "running") and _status_alive(status) and int(pid) != os.getpid():
            raise GeneMaskInputError(
                f"this run is already {state} (process {pid}).", source=run_dir,
                fix=f"wait for it, or cancel it first (genemask runs cancel {run_dir}).")
        (run_dir / CANCEL_FILE).unlink(missing_ok=True)  # an old cancel must not stop the rerun
        set_status(run_dir, state="queued", error=None, finished=None, message="resuming")
        return run_dir
    if run_dir.exists() and any(run_dir.iterdir()):
        raise GeneMaskInputError("output folder exists and is not a run folder.", source=run_dir,
                                 fix="give a new or empty folder.")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "config.json", {"kind": kind, "id": run_dir.name,
                                                "created": _now(), "params": params})
    write_json_atomic(run_dir / "status.json", {"state": "queued", "error": None, "pid": None,
                                                "created": _now(), "updated": _now(),
                                                "step": 0, "max_steps": None})
    return run_dir


def run_status(run_dir: str | os.PathLike) -> dict:
    """``status.json`` of a run; a ``running`` run whose process died reads as ``failed``."""
    status = read_json(Path(run_dir) / "status.json", default={}) or {}
    if status.get("state") == "running" and status.get("pid") and not _status_alive(status):
        status = dict(status, state="failed",
                      error=status.get("error") or "the run's process ended without reporting "
                                                   "(killed or out of memory).")
    return status


def set_status(run_dir: str | os.PathLike, **fields) -> dict:
    """Update fields of ``status.json`` atomically (``state`` must be one of :data:`STATES`).

    Setting ``pid`` also records that process's start time and boot id (``pid_start``,
    ``boot_id``; None when unknown), so a reused pid is not taken for the run's process."""
    if "state" in fields and fields["state"] not in STATES:
        raise ValueError(f"state must be one of {STATES}, got {fields['state']!r}")
    if "pid" in fields and "pid_start" not in fields:
        fields = {**process_identity(fields["pid"]), **fields}
    path = Path(run_dir) / "status.json"
    status = read_json(path, default={}) or {}
    status.update(fields, updated=_now())
    write_json_atomic(path, status)
    return status


def _status_alive(status: dict) -> bool:
    """Is the process recorded in ``status`` still running? A pid alone may have been reused
    (after a reboot or container restart): the recorded start time and boot id must match
    too. Status files written before these fields existed compare the pid only."""
    return _pid_alive(status.get("pid"), status.get("pid_start"), status.get("boot_id"))


@contextmanager
def _root_lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def wait_for_slot(run_dir: str | os.PathLike, max_concurrent: int | None = None,
                  poll_s: float = 1.0) -> bool:
    """Block until fewer than ``max_concurrent`` sibling runs are running, then mark this one
    ``running`` (under a lock). Returns False when it was cancelled while queued."""
    run_dir = Path(run_dir).resolve()
    cfg = read_json(run_dir / "config.json", default={}) or {}
    limit = int(max_concurrent or cfg.get("max_concurrent") or DEFAULT_MAX_CONCURRENT)
    while True:
        if is_cancel_requested(run_dir) or run_status(run_dir).get("state") == "cancelled":
            set_status(run_dir, state="cancelled", finished=_now(), message="cancelled while queued")
            return False
        with _root_lock(run_dir.parent):
            busy = sum(1 for d in run_dir.parent.iterdir()
                       if d.is_dir() and d != run_dir and run_status(d).get("state") == "running")
            if busy < limit:
                set_status(run_dir, state="running", pid=os.getpid(), started=_now(),
                           error=None, message=None)
                return True
        time.sleep(poll_s)


def start_run(run_dir: str | os.PathLike, max_concurrent: int = DEFAULT_MAX_CONCURRENT) -> int:
    """Start a queued run in a background process that outlives the caller; return its pid.

    The worker waits (``queued``) while ``max_concurrent`` runs of the same root
    are running. Output goes to ``RUN_DIR/log.txt``.
    """
    run_dir = Path(run_dir).resolve()
    cfg = read_json(run_dir / "config.json")
    if cfg is None:
        raise GeneMaskInputError("not a run folder (no config.json).", source=run_dir,
                                 fix="create it with create_run first.")
    cfg["max_concurrent"] = int(max_concurrent)
    write_json_atomic(run_dir / "config.json", cfg)
    (run_dir / CANCEL_FILE).unlink(missing_ok=True)
    # queued before the worker exists: the worker may mark itself running at once, and
    # that must not be overwritten afterwards
    set_status(run_dir, state="queued", pid=None, message="waiting for a free slot")
    with open(run_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "genemask_viz.training.worker", str(run_dir)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(run_dir))
    with _root_lock(run_dir.parent):  # the lock wait_for_slot marks a run running under
        status = read_json(run_dir / "status.json", default={}) or {}
        if status.get("state") == "queued" and not status.get("pid"):
            set_status(run_dir, pid=proc.pid)
    return proc.pid


def is_cancel_requested(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / CANCEL_FILE).exists()


def cancel_run(run_dir: str | os.PathLike, timeout_s: float = 30.0) -> dict:
    """Cancel a queued or running run; returns its final status.

    A cancel request file is written; a running worker stops at its next step,
    keeps its last checkpoint and writes ``cancelled``. After ``timeout_s`` the
    process group is killed (SIGTERM, then SIGKILL) and the run marked cancelled.
    """
    run_dir = resolve_run(run_dir)
    status = run_status(run_dir)
    if status.get("state") in FINAL_STATES:
        return status
    (run_dir / CANCEL_FILE).write_text(_now())
    pid = status.get("pid")
    if not _status_alive(status):
        return set_status(run_dir, state="cancelled", finished=_now(), message="cancelled")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _status_alive(status) or run_status(run_dir).get("state") in FINAL_STATES:
            break
        time.sleep(0.2)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _status_alive(status):
            break
        try:
            os.killpg(int(pid), sig)
        except (ProcessLookupError, PermissionError):
            pass
        time.sleep(1.0)
    if run_status(run_dir).get("state") not in FINAL_STATES:
        set_status(run_dir, state="cancelled", finished=_now(), message="cancelled (killed)")
    return run_status(run_dir)


def resolve_run(run: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """A run folder path, or a run id under :func:`runs_root`."""
    path = Path(run).expanduser()
    if (path / "config.json").exists():
        return path
    candidate = runs_root(root) / str(run)
    if (candidate / "config.json").exists():
        return candidate
    raise GeneMaskInputError(f"no run {str(run)!r} (looked for {path} and {candidate}).",
                             fix="see the ids with 'genemask runs ls'.")


def read_metrics(run_dir: str | os.PathLike):
    """``metrics.jsonl`` as a DataFrame (empty when nothing was logged yet)."""
    import pandas as pd
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return pd.DataFrame(columns=["step", "loss", "lr", "elapsed"])
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            continue
    return pd.DataFrame(rows)


def run_progress(run_dir: str | os.PathLike) -> dict:
    """What a progress bar needs: state, step / max_steps, fraction, last loss, elapsed, eta."""
    run_dir = Path(run_dir)
    status = run_status(run_dir)
    step, total = int(status.get("step") or 0), status.get("max_steps")
    metrics = read_metrics(run_dir)
    loss = elapsed = None
    if len(metrics) and "loss" in metrics:
        losses = metrics["loss"].dropna()
        loss = float(losses.iloc[-1]) if len(losses) else None
    if len(metrics) and "elapsed" in metrics:
        elapsed = float(metrics["elapsed"].dropna().iloc[-1]) if metrics["elapsed"].notna().any() else None
    fraction = min(step / total, 1.0) if total else (1.0 if status.get("state") == "done" else 0.0)
    eta = elapsed * (1 - fraction) / fraction if elapsed and 0 < fraction < 1 else None
    return {"state": status.get("state"), "step": step, "max_steps": total, "fraction": fraction,
            "loss": loss, "elapsed": elapsed, "eta": eta, "error": status.get("error"),
            "message": status.get("message")}


def load_results(run_dir: str | os.PathLike):
    """A finished run's results: few-shot ``results.csv`` as a DataFrame, or the
    pretraining ``eval.json`` as a dict (None when not written yet)."""
    import pandas as pd
    run_dir = resolve_run(run_dir)
    if (run_dir / "results.csv").exists():
        return pd.read_csv(run_dir / "results.csv")
    return read_json(run_dir / "eval.json")


def _headline(run_dir: Path) -> dict:
    """Final metrics of a run for listings: eval loss/accuracy or mean few-shot metrics."""
    ev = read_json(run_dir / "eval.json")
    if ev:
        return {k: ev.get(k) for k in ("eval_loss", "eval_accuracy")}
    summary = read_json(run_dir / "summary.json")
    if summary and summary.get("settings"):
        first = summary["settings"][0]
        return {k: first.get(k) for k in ("accuracy_mean", "mcc_mean", "auroc_mean")}
    return {}


def list_runs(root: str | os.PathLike | None = None):
    """One row per run under the root: id, kind, state, step, max_steps, created, key settings,
    headline metrics. Newest first."""
    import pandas as pd
    root = runs_root(root)
    rows = []
    if root.exists():
        for d in sorted(root.iterdir()):
            cfg = read_json(d / "config.json") if d.is_dir() else None
            if not cfg or "kind" not in cfg:
                continue
            status, params = run_status(d), cfg.get("params", {})
            rows.append({"id": d.name, "kind": cfg["kind"], "state": status.get("state"),
                         "step": status.get("step"), "max_steps": status.get("max_steps"),
                         "created": cfg.get("created"), "model": params.get("model"),
                         "strategy": params.get("strategy"),
                         "data": params.get("corpus") or params.get("data") or params.get("train"),
                         "error": status.get("error"), **_headline(d), "path": str(d)})
    columns = ["id", "kind", "state", "step", "max_steps", "created", "model", "strategy", "data",
               "error", "path"]
    frame = pd.DataFrame(rows, columns=columns + sorted({k for r in rows for k in r} - set(columns)))
    return frame.sort_values("created", ascending=False, ignore_index=True) if len(frame) else frame


def compare_runs(runs, root: str | os.PathLike | None = None):
    """Runs side by side: one row per run with every parameter that differs and final metrics."""
    import pandas as pd
    rows = []
    for run in runs:
        d = resolve_run(run, root)
        cfg = read_json(d / "config.json", default={})
        rows.append({"id": d.name, "kind": cfg.get("kind"), "state": run_status(d).get("state"),
                     **{f"param.{k}": (json.dumps(v) if isinstance(v, (list, dict)) else v)
                        for k, v in cfg.get("params", {}).items()},
                     **_headline(d)})
    frame = pd.DataFrame(rows)
    same = [c for c in frame.columns if c.startswith("param.") and frame[c].nunique(dropna=False) <= 1]
    return frame.drop(columns=same) if len(frame) > 1 else frame
