"""Run registry: files, status transitions, background runs, queueing, cancel; and the
2-process Accelerate run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import asdict

import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.training import registry as reg
from genemask_viz.training.pretrain import PretrainConfig


def cfg(**kw):
    base = dict(corpus="demo", strategy="dnabert", model="tiny", steps=3, batch_size=2,
                max_length=64, n_val=4, save_steps=2, logging_steps=1, threads=1)
    base.update(kw)
    return asdict(PretrainConfig(**base))


def wait_until(predicate, timeout=120.0, poll=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out")


def test_files_are_written_atomically_and_states_checked(tmp_path):
    run = reg.create_run("pretrain", cfg(), root=tmp_path)
    assert run.parent == tmp_path and "-pretrain-" in run.name
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "pretrain" and config["params"]["steps"] == 3
    assert reg.run_status(run)["state"] == "queued"
    reg.set_status(run, state="running", pid=os.getpid(), step=1, max_steps=3)
    assert reg.run_progress(run)["fraction"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="state must be one of"):
        reg.set_status(run, state="paused")
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]  # no temp files left
    reg.append_metrics(run, {"step": 1, "loss": 8.3, "lr": 1e-4, "elapsed": 0.5})
    (run / "metrics.jsonl").open("a").write('{"step": 2, "lo')  # a line being written
    m = reg.read_metrics(run)
    assert list(m["step"]) == [1] and reg.run_progress(run)["loss"] == 8.3
    # a "running" run whose process is gone reads as failed
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    reg.set_status(run, state="running", pid=dead.pid)
    status = reg.run_status(run)
    assert status["state"] == "failed" and "ended without reporting" in status["error"]
    with pytest.raises(Exception, match="unknown run kind"):
        reg.create_run("train", {}, root=tmp_path)


def test_list_and_compare_runs(tmp_path):
    a = reg.create_run("pretrain", cfg(strategy="genemask"), root=tmp_path, name="a")
    reg.create_run("pretrain", cfg(strategy="random"), root=tmp_path, name="b")
    reg.write_json_atomic(a / "eval.json", {"eval_loss": 7.5, "eval_accuracy": 0.02})
    reg.set_status(a, state="done")
    table = reg.list_runs(tmp_path).set_index("id")
    assert set(table.index) == {"a", "b"}
    assert table.loc["a", "state"] == "done" and table.loc["b", "state"] == "queued"
    assert table.loc["a", "eval_loss"] == 7.5 and table.loc["a", "strategy"] == "genemask"
    cmp = reg.compare_runs(["a", "b"], root=tmp_path)
    assert list(cmp["param.strategy"]) == ["genemask", "random"]
    assert "param.steps" not in cmp  # identical settings are left out
    with pytest.raises(Exception, match="no run 'zzz'"):
        reg.resolve_run("zzz", root=tmp_path)


def test_background_runs_queue_and_cancel(tmp_path):
    """A long run starts in the background; a second waits (limit 1) and is cancelled while
    queued; the first is cancelled while running and keeps a checkpoint."""
    long = reg.create_run("pretrain", cfg(steps=100000, save_steps=100000), root=tmp_path, name="long")
    queued = reg.create_run("pretrain", cfg(), root=tmp_path, name="queued")
    pid = reg.start_run(long, max_concurrent=1)
    wait_until(lambda: reg.run_status(long)["state"] == "running")
    reg.start_run(queued, max_concurrent=1)
    wait_until(lambda: reg.run_status(long).get("step", 0) >= 2, timeout=180)
    time.sleep(2.0)
    assert reg.run_status(queued)["state"] == "queued"  # the slot is taken
    assert reg.cancel_run(queued)["state"] == "cancelled"
    status = reg.cancel_run(long, timeout_s=60)
    assert status["state"] == "cancelled"
    wait_until(lambda: not reg._pid_alive(pid), timeout=30)
    assert (long / "checkpoints").is_dir() and any((long / "checkpoints").iterdir())
    progress = reg.run_progress(long)
    assert progress["max_steps"] == 100000 and progress["step"] >= 2 and progress["loss"] is not None
    assert not (queued / "metrics.jsonl").exists()  # never started


@pytest.mark.slow
def test_two_process_accelerate_run(tmp_path):
    """``accelerate launch`` with 2 CPU processes (gloo): one run, 2x sequences per step."""
    launcher = shutil.which("accelerate")
    if launcher is None:
        pytest.skip("the accelerate command is not on PATH")
    run = reg.create_run("pretrain", cfg(steps=2, batch_size=2), run_dir=tmp_path / "ddp")
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def launch():
        with socket.socket() as sock:  # a free port: others may be using 29500 on a shared machine
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return subprocess.run([launcher, "launch", "--multi_gpu", "--num_processes", "2",
                               "--main_process_port", str(port), "--num_machines", "1",
                               "--mixed_precision", "no", "--dynamo_backend", "no",
                               "-m", "genemask_viz.training.worker", str(run)],
                              env=env, capture_output=True, text=True, timeout=240)

    proc = launch()
    if proc.returncode != 0 and "(SIGABRT)" in proc.stderr:
        # Seen once in ~10 CI-like runs on a loaded 2-core machine: a rank aborted inside
        # the gloo transport (a signal, not a Python error). Relaunching resumes the same
        # run folder; a genuine bug fails both times.
        warnings.warn("accelerate: a rank died of SIGABRT; relaunching once:\n"
                      + proc.stderr[-1500:])
        proc = launch()
    # on failure show where each rank stopped (the launcher's summary alone hides it)
    assert proc.returncode == 0, "\n".join(
        line for line in proc.stderr.splitlines()
        if any(w in line for w in ("Error", "error", "terminate", "what()", "Traceback", "File "))
    )[-6000:]
    assert reg.run_status(run)["state"] == "done"
    record = json.loads((run / "model" / "training_record.json").read_text())
    assert record["device"]["world_size"] == 2 and record["sequences_per_step"] == 4
    losses = reg.read_metrics(run)["loss"].dropna()
    assert len(losses) == 2 and all(7.8 < v < 8.8 for v in losses)  # ~ln(4101), not doubled


def test_write_text_atomic_replaces_the_whole_file(tmp_path):
    path = tmp_path / "sub" / "results.csv"
    reg.write_text_atomic(path, "a,b\n1,2\n")
    reg.write_text_atomic(path, "a,b\n3,4\n")
    assert path.read_text() == "a,b\n3,4\n"
    assert [p.name for p in path.parent.iterdir()] == ["results.csv"]  # no temp file left


def test_a_queued_run_with_a_live_worker_is_not_reset(tmp_path):
    """create_run on a folder whose queued (or running) worker is alive is refused; the
    current process's own run, or one whose worker died, is reused."""
    run = reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for state in ("queued", "running"):
            reg.set_status(run, state=state, pid=worker.pid)
            with pytest.raises(GeneMaskInputError, match=f"already {state}.*runs cancel"):
                reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
            assert reg.run_status(run)["state"] == state and reg.run_status(run)["pid"] == worker.pid
    finally:
        worker.kill()
        worker.wait()
    reg.set_status(run, state="queued", pid=worker.pid)  # its worker is gone now
    assert reg.create_run("pretrain", cfg(), root=tmp_path, name="r") == run
    reg.set_status(run, state="running", pid=os.getpid())  # this process: a foreground rerun
    assert reg.create_run("pretrain", cfg(), root=tmp_path, name="r") == run
    assert reg.run_status(run)["state"] == "queued"


def test_resuming_a_run_clears_an_old_cancel_request(tmp_path):
    run = reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
    (run / reg.CANCEL_FILE).write_text("earlier")
    reg.set_status(run, state="cancelled")
    reg.create_run("pretrain", cfg(), root=tmp_path, name="r")  # the same command again
    assert not (run / reg.CANCEL_FILE).exists()
    assert reg.run_status(run)["state"] == "queued"


class FakePopen:
    """Stands in for the worker process; ``running=True`` acts as a worker that marks itself
    running before start_run gets to record its pid."""

    seen: list = []
    running = False
    pid = 2 ** 22 + 1  # above the largest pid_max: never a real process

    def __init__(self, argv, **kwargs):
        run_dir = argv[-1]
        FakePopen.seen.append(dict(reg.read_json(os.path.join(run_dir, "status.json"))))
        if FakePopen.running:
            reg.set_status(run_dir, state="running", pid=os.getpid(), message=None)


def test_start_run_never_downgrades_a_running_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(reg.subprocess, "Popen", FakePopen)
    FakePopen.seen = []
    slow = reg.create_run("pretrain", cfg(), root=tmp_path, name="slow")
    reg.set_status(slow, pid=123)  # a stale pid from an earlier attempt
    assert reg.start_run(slow) == FakePopen.pid
    # queued (without the stale pid) was written before the worker started ...
    assert FakePopen.seen[-1]["state"] == "queued" and FakePopen.seen[-1]["pid"] is None
    status = reg.run_status(slow)  # ... and its pid recorded after
    assert status["state"] == "queued" and status["pid"] == FakePopen.pid
    monkeypatch.setattr(FakePopen, "running", True)
    fast = reg.create_run("pretrain", cfg(), root=tmp_path, name="fast")
    reg.start_run(fast)
    status = reg.run_status(fast)
    assert status["state"] == "running" and status["pid"] == os.getpid()
