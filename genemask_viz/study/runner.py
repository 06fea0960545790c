"""Run a study: hand its runs to the registry, in dependency order, and resume after a kill.

The scheduler never trains by itself. With ``jobs == 1`` it executes one registry run at a
time in its own process (:func:`genemask_viz.training.worker.execute_run`: no second
start-up of torch per run); with ``jobs > 1`` it starts up to ``jobs`` background registry
workers (:func:`~genemask_viz.training.registry.start_run`) and polls them. A run whose
state is ``done`` is never redone; a killed or failed run is created again with the same
parameters, which the registry resumes (pretraining from its last checkpoint). Few-shot
runs wait for their pretraining run. One scheduler per study folder (a file lock).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from ..errors import GeneMaskInputError
from .plan import build_plan, ensure_untrained, run_dir
from .spec import NONE, StudySpec, load_study

__all__ = ["prepare_study", "run_study", "start_study", "scheduler_info", "load_study_dir"]

LOCK = ".scheduler.lock"


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def prepare_study(source, out: str | os.PathLike, text: str | None = None) -> tuple[StudySpec, list]:
    """Write ``study.toml``, ``study.json`` and ``plan.json`` into ``out`` (a new folder, or the
    folder of the same study, which is then resumed). Returns the spec and the plan."""
    from ..training.registry import read_json, write_json_atomic, write_text_atomic
    spec, text = load_study(source, text=text)
    out = Path(out).expanduser().resolve()
    old = read_json(out / "study.json")
    if old is not None:
        if old != spec.to_dict():
            raise GeneMaskInputError("this folder holds a different study.", source=out,
                                     fix="use a new --out folder, or the study file it was started "
                                         "with (its copy is study.toml there).")
    elif out.exists() and any(out.iterdir()):
        raise GeneMaskInputError("output folder exists and is not a study folder.", source=out,
                                 fix="give a new or empty folder.")
    plan = build_plan(spec, out)
    out.mkdir(parents=True, exist_ok=True)
    if old is None:
        write_text_atomic(out / "study.toml", text)
        write_json_atomic(out / "study.json", spec.to_dict())
    write_json_atomic(out / "plan.json", plan)
    return spec, plan


def load_study_dir(study_dir: str | os.PathLike) -> tuple[StudySpec, list]:
    from ..training.registry import read_json
    study_dir = Path(study_dir)
    data, plan = read_json(study_dir / "study.json"), read_json(study_dir / "plan.json")
    if data is None or plan is None:
        raise GeneMaskInputError("not a study folder (no study.json / plan.json).", source=study_dir,
                                 fix="start one with 'genemask study run FILE --out DIR'.")
    return StudySpec.from_dict(data), plan


def scheduler_info(study_dir: str | os.PathLike) -> dict:
    """``scheduler.json`` with ``alive``: is a scheduler working on this study now?"""
    from ..training.procs import pid_alive
    from ..training.registry import read_json
    info = read_json(Path(study_dir) / "scheduler.json", default={}) or {}
    info["alive"] = bool(info.get("pid")) and info.get("state") == "running" and pid_alive(
        info.get("pid"), info.get("pid_start"), info.get("boot_id"))
    return info


def _alive(status: dict) -> bool:
    from ..training.procs import pid_alive
    return status.get("state") in ("queued", "running") and bool(status.get("pid")) and pid_alive(
        status.get("pid"), status.get("pid_start"), status.get("boot_id"))


def run_study(study_dir: str | os.PathLike, jobs: int | None = None, poll_s: float = 2.0,
              log=None) -> dict:
    """Work through the study's plan until every run is done or cannot go on.

    Returns counts ``{"done", "failed", "blocked", "skipped", "executed"}``; ``skipped`` are
    runs that were already done when this call began.
    """
    from ..training.procs import process_identity
    from transformers.utils import logging as hf_logging

    from ..training.registry import create_run, read_json, run_status, start_run, write_json_atomic
    from ..training.worker import execute_run

    hf_logging.disable_progress_bar()  # one "Loading weights" bar per run would fill the log

    study_dir = Path(study_dir).resolve()
    spec, plan = load_study_dir(study_dir)
    jobs = int(jobs or spec.jobs)
    say = log or (lambda msg: print(f"[{_dt.datetime.now():%H:%M:%S}] {msg}", flush=True))
    lock = open(study_dir / LOCK, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise GeneMaskInputError("a scheduler is already working on this study.", source=study_dir,
                                 fix="watch it with 'genemask study status DIR'.") from None
    me = {"pid": os.getpid(), **process_identity(os.getpid()), "jobs": jobs}
    write_json_atomic(study_dir / "scheduler.json", {**me, "state": "running", "started": _now()})
    by_name = {e["name"]: e for e in plan}
    tried, executed = set(), 0
    skipped = sum(1 for e in plan if run_status(run_dir(study_dir, e["name"])).get("state") == "done")
    say(f"study {spec.name}: {len(plan)} runs, {skipped} already done; {jobs} at a time")
    try:
        stop = False
        while not stop:
            states = {n: run_status(run_dir(study_dir, n)) for n in by_name}
            pending = [n for n in by_name if states[n].get("state") != "done"]
            if not pending:
                break
            busy = sum(1 for n in pending if _alive(states[n]))
            started = False
            for name in pending:
                if busy >= jobs:
                    break
                entry, st = by_name[name], states[name]
                if _alive(st) or name in tried:
                    continue
                need = entry["needs"]
                if need and states[need].get("state") != "done":
                    continue
                tried.add(name)
                d = run_dir(study_dir, name)
                # a run started before is resumed as it was created (its folder is its identity),
                # even if a newer version of the training code has more config fields
                params = (read_json(d / "config.json") or {}).get("params") or entry["params"]
                try:
                    if entry["strategy"] == NONE and entry["kind"] == "fewshot":
                        ensure_untrained(spec, study_dir, entry["pretrain_seed"])
                    create_run(entry["kind"], params, run_dir=d)
                except GeneMaskInputError as exc:
                    if _alive(run_status(d)):  # its old process is still ending: wait for it
                        tried.discard(name)
                    else:
                        say(f"cannot start {name}: {exc}")
                    continue
                started = True
                if jobs == 1:
                    say(f"run {name} ({len(by_name) - len(pending)} of {len(by_name)} done)")
                    t0 = time.monotonic()
                    try:
                        status = execute_run(d, progress=False)
                    except Exception as exc:  # recorded in the run's status.json
                        say(f"FAILED {name}: {type(exc).__name__}: {exc}")
                        continue
                    executed += 1
                    say(f"{status.get('state')} {name} in {time.monotonic() - t0:.0f} s")
                    if status.get("state") == "cancelled":
                        stop = True  # a cancel request or SIGTERM: the user wants the study to stop
                    break  # fresh states: the plan's order holds (runs that waited may go now)
                else:
                    pid = start_run(d, max_concurrent=jobs)
                    busy += 1
                    executed += 1
                    say(f"started {name} (pid {pid})")
            if stop:
                say("a run was cancelled: the study stops here (rerun it to continue)")
                break
            if not started and not any(_alive(states[n]) for n in pending):
                break  # the rest failed in this session or wait for a run that failed
            if not started or jobs > 1:
                time.sleep(poll_s)
    finally:
        states = {n: run_status(run_dir(study_dir, n)).get("state") for n in by_name}
        counts = {"done": sum(s == "done" for s in states.values()),
                  "failed": sum(s in ("failed", "cancelled") for s in states.values()),
                  "skipped": skipped, "executed": executed}
        counts["blocked"] = len(states) - counts["done"] - counts["failed"]
        write_json_atomic(study_dir / "scheduler.json",
                          {**me, "state": "finished", "finished": _now(), **counts})
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    say(f"study {spec.name}: {counts['done']}/{len(plan)} runs done, {counts['failed']} failed, "
        f"{counts['blocked']} waiting on failed runs")
    return counts


def start_study(study_dir: str | os.PathLike, jobs: int | None = None, nice: int = 0) -> int:
    """Start the scheduler of a prepared study folder in a background process that outlives
    the caller (output in ``DIR/study.log``); returns its pid."""
    study_dir = Path(study_dir).resolve()
    load_study_dir(study_dir)
    if scheduler_info(study_dir).get("alive"):
        raise GeneMaskInputError("a scheduler is already working on this study.", source=study_dir,
                                 fix="watch it with 'genemask study status DIR'.")
    cmd = [sys.executable, "-m", "genemask_viz.cli", "study", "run", str(study_dir / "study.toml"),
           "--out", str(study_dir)] + (["--jobs", str(jobs)] if jobs else [])
    if nice:
        cmd = ["nice", "-n", str(int(nice))] + cmd
    with open(study_dir / "study.log", "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(study_dir))
    return proc.pid
