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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import GeneMaskInputError
from ..jsonsafe import json_safe
from .procs import identity_proven as _identity_proven
from .procs import pid_alive as _pid_alive
from .procs import process_identity

__all__ = ["STATES", "runs_root", "write_json_atomic", "write_text_atomic", "read_json", "create_run", "start_run",
           "run_status", "set_status", "run_progress", "cancel_run", "list_runs", "compare_runs",
           "read_metrics", "load_results", "resolve_run", "wait_for_slot", "append_metrics",
           "is_cancel_requested", "checkpoint_problem", "read_config"]

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
    """The JSON in ``path``; ``default`` when the file does not exist. A malformed file
    (tampered with, or not ours) is a :class:`GeneMaskInputError` naming the file and line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except IsADirectoryError:
        raise GeneMaskInputError("is a folder, expected a JSON file.", source=path,
                                 fix="remove or rename the folder.") from None
    except json.JSONDecodeError as exc:
        raise GeneMaskInputError(f"is not valid JSON ({exc.msg}, column {exc.colno}).",
                                 source=path, line=exc.lineno,
                                 fix="restore or delete the file (a run folder's JSON files are "
                                     "only ever written whole by genemask).") from None
    except UnicodeDecodeError as exc:
        raise GeneMaskInputError(f"is not UTF-8 text ({exc.reason}).", source=path,
                                 fix="restore or delete the file.") from None


def read_config(run_dir: str | os.PathLike) -> dict:
    """A run's ``config.json`` as a dict; a missing, malformed or non-object file is a
    :class:`GeneMaskInputError` naming it."""
    path = Path(run_dir) / "config.json"
    cfg = read_json(path)
    if not isinstance(cfg, dict):
        raise GeneMaskInputError("does not hold a run configuration (a JSON object).", source=path,
                                 fix="restore it, or delete the run folder.")
    return cfg


def _read_dict(path: Path) -> tuple[dict | None, str | None]:
    """``(data, None)`` for a JSON object file, ``(None, None)`` when absent,
    ``(None, problem)`` when malformed or not an object (for listings that must go on)."""
    try:
        data = read_json(path)
    except (GeneMaskInputError, OSError) as exc:
        return None, str(exc)
    if data is not None and not isinstance(data, dict):
        return None, f"{path}: holds a JSON {type(data).__name__}, expected an object."
    return data, None


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
    if old is not None and not isinstance(old, dict):
        raise GeneMaskInputError("config.json does not hold a JSON object.", source=run_dir,
                                 fix="choose a new --out folder, or delete this one.")
    if old is not None and _failed_before_first_step(run_dir, old, kind, params):
        shutil.rmtree(run_dir)  # nothing in it worth keeping: the corrected command starts over
        old = None
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


def _failed_before_first_step(run_dir: Path, old: dict, kind: str, params: dict) -> bool:
    """Did the run in ``run_dir`` (with other settings than ``kind``/``params``) fail before
    its first step, leaving nothing to resume? Such a run may be replaced by a new one."""
    if old.get("kind") == kind and old.get("params") == json.loads(json.dumps(params, default=str)):
        return False  # the same run: resume it instead
    status = run_status(run_dir)
    if status.get("state") != "failed" or (_count(status.get("step")) or 0) > 0:
        return False
    checkpoints, model = run_dir / "checkpoints", run_dir / "model"
    if (checkpoints.is_dir() and any(checkpoints.iterdir())) or model.exists():
        return False
    return not len(read_metrics(run_dir))


#: model weight files of a Trainer checkpoint (one of them must be there)
CHECKPOINT_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                      "pytorch_model.bin.index.json")
#: torch's zip-format files a checkpoint may hold (optimizer, scheduler, RNG states, ...)
_ZIP_SUFFIXES = (".pt", ".pth", ".bin")


def _safetensors_problem(path: Path) -> str | None:
    """Is ``path`` a whole safetensors file? (header JSON parses; data ends at the file end)"""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or n > size - 8:
                return "header length beyond the file end"
            header = json.loads(fh.read(n))
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return f"unreadable header ({type(exc).__name__})"
    if 8 + n + max(ends, default=0) != size:
        return f"{size:,} bytes where the header promises {8 + n + max(ends, default=0):,}"
    return None


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why a Trainer ``checkpoint-N`` folder cannot be resumed from, or None when it can.

    Checked (cheaply: no tensor is loaded): ``trainer_state.json`` is a JSON object whose
    ``global_step`` is N; model weights exist, and a ``model.safetensors`` is whole; every
    torch file (optimizer, scheduler, RNG states) is a complete zip archive. A process
    killed while saving leaves one of these half-written.
    """
    import zipfile
    folder = Path(folder)
    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        return "no trainer_state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        step = int(state["global_step"])
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return f"trainer_state.json is unreadable ({type(exc).__name__})"
    name_step = folder.name.rpartition("-")[2]
    if name_step.isdigit() and int(name_step) != step:
        return f"trainer_state.json says step {step}, the folder name {name_step}"
    weights = [folder / w for w in CHECKPOINT_WEIGHTS if (folder / w).is_file()]
    if not weights:
        return "no model weights"
    for w in weights:
        if w.name == "model.safetensors" and (why := _safetensors_problem(w)):
            return f"model.safetensors is incomplete ({why})"
        if w.name.endswith(".json"):
            try:
                json.loads(w.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                return f"{w.name} is unreadable ({type(exc).__name__})"
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in _ZIP_SUFFIXES and not zipfile.is_zipfile(f):
            return f"{f.name} is incomplete (not a whole torch archive)"
    return None


def run_status(run_dir: str | os.PathLike) -> dict:
    """``status.json`` of a run; a ``running`` run whose process died reads as ``failed``."""
    status, problem = _read_dict(Path(run_dir) / "status.json")
    if problem:  # a tampered status file: report it, never fail a listing over it
        return {"state": "unreadable", "error": problem}
    status = status or {}
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
    status = _read_dict(path)[0] or {}  # a malformed status file is replaced
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
    process is killed (SIGTERM, then SIGKILL; its process group when it leads one),
    but only when its identity is proven (the recorded start time matches, see
    :func:`.procs.identity_proven`): a status file with a bare pid (old format, no
    ``/proc``) or a pid that was reused is never signalled, only marked cancelled.
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
    proven = _identity_proven(pid, status.get("pid_start"), status.get("boot_id"))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not proven or not _status_alive(status):
            break
        try:
            if os.getpgid(pid) == pid:  # a background worker leads its own session
                os.killpg(pid, sig)
            else:  # a foreground run shares its group with the shell: only the process
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        time.sleep(1.0)
    stored = _read_dict(run_dir / "status.json")[0] or {}  # not run_status: a killed run
    if stored.get("state") not in FINAL_STATES:            # reads as failed there
        message = "cancelled (killed)" if proven else (
            f"cancelled; process {pid} was not signalled (its identity could not be proven: "
            "no recorded start time); it stops at its next step if it is the run's worker")
        set_status(run_dir, state="cancelled", finished=_now(), message=message)
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
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line being written right now
            continue
        if isinstance(row, dict):
            rows.append(row)
    return pd.DataFrame(rows)


def _count(value) -> int | None:
    """A step count from a status file: a non-negative int, else None (tampered values)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number >= 0 else None


def run_progress(run_dir: str | os.PathLike) -> dict:
    """What a progress bar needs: state, step / max_steps, fraction, last loss, elapsed, eta."""
    import pandas as pd
    run_dir = Path(run_dir)
    status = run_status(run_dir)
    step, total = _count(status.get("step")) or 0, _count(status.get("max_steps"))
    metrics = read_metrics(run_dir)
    loss = elapsed = per_step = None
    if len(metrics) and "loss" in metrics:
        losses = pd.to_numeric(metrics["loss"], errors="coerce").dropna()
        loss = float(losses.iloc[-1]) if len(losses) else None
    if len(metrics) and "elapsed" in metrics:
        rows = metrics.assign(elapsed=pd.to_numeric(metrics["elapsed"], errors="coerce"),
                              step=pd.to_numeric(metrics.get("step"), errors="coerce"))
        rows = rows.dropna(subset=["elapsed"])
        if len(rows):
            elapsed = float(rows["elapsed"].iloc[-1])
            logged = rows["step"].iloc[-1]
            # the rate of the logged row's own step: status.json's step runs ahead of the log
            per_step = elapsed / float(logged) if logged and logged > 0 else None
    fraction = min(step / total, 1.0) if total else (1.0 if status.get("state") == "done" else 0.0)
    eta = per_step * (total - step) if per_step and total and 0 < fraction < 1 else None
    return {"state": status.get("state"), "step": step, "max_steps": total, "fraction": fraction,
            "loss": loss, "elapsed": elapsed, "eta": eta, "error": status.get("error"),
            "message": status.get("message")}


def load_results(run_dir: str | os.PathLike):
    """A finished run's results: few-shot ``results.csv`` as a DataFrame, or the
    pretraining ``eval.json`` as a dict (None when not written yet)."""
    import pandas as pd
    run_dir = resolve_run(run_dir)
    if (run_dir / "results.csv").exists():
        try:
            return pd.read_csv(run_dir / "results.csv")
        except (ValueError, OSError) as exc:  # tampered with: say so instead of a traceback
            raise GeneMaskInputError(f"cannot be read as a table ({type(exc).__name__}).",
                                     source=run_dir / "results.csv",
                                     fix="restore or delete the file.") from None
    return read_json(run_dir / "eval.json")


def _headline(run_dir: Path) -> dict:
    """Final metrics of a run for listings: eval loss/accuracy or mean few-shot metrics."""
    ev = _read_dict(run_dir / "eval.json")[0]
    if ev:
        return {k: ev.get(k) for k in ("eval_loss", "eval_accuracy")}
    summary = _read_dict(run_dir / "summary.json")[0]
    settings = summary.get("settings") if summary else None
    if isinstance(settings, list) and settings and isinstance(settings[0], dict):
        return {k: settings[0].get(k) for k in ("accuracy_mean", "mcc_mean", "auroc_mean")}
    return {}


def _params(cfg: dict) -> dict:
    params = cfg.get("params")
    return params if isinstance(params, dict) else {}


def list_runs(root: str | os.PathLike | None = None):
    """One row per run under the root: id, kind, state, step, max_steps, created, key settings,
    headline metrics. Newest first."""
    import pandas as pd
    root = runs_root(root)
    rows = []
    if root.exists():
        for d in sorted(root.iterdir()):
            if not d.is_dir() or not (d / "config.json").exists():
                continue
            cfg, problem = _read_dict(d / "config.json")
            if problem or not cfg or "kind" not in cfg:  # listed, so that it can be found
                rows.append({"id": d.name, "kind": None, "state": "unreadable",
                             "error": problem or f"{d / 'config.json'}: no run kind in it.",
                             "path": str(d)})
                continue
            status, params = run_status(d), _params(cfg)
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
        cfg = _read_dict(d / "config.json")[0] or {}
        rows.append({"id": d.name, "kind": cfg.get("kind"), "state": run_status(d).get("state"),
                     **{f"param.{k}": (json.dumps(v) if isinstance(v, (list, dict)) else v)
                        for k, v in _params(cfg).items()},
                     **_headline(d)})
    frame = pd.DataFrame(rows)
    same = [c for c in frame.columns if c.startswith("param.") and frame[c].nunique(dropna=False) <= 1]
    return frame.drop(columns=same) if len(frame) > 1 else frame
