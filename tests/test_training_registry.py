"""Run registry: files, status transitions, background runs, queueing, cancel; and the
2-process Accelerate run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
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


#: relaunches allowed when a rank dies of SIGABRT in gloo (see the tests below)
GLOO_ABORT_RETRIES = 2


def _rank_errors(stderr: str) -> str:
    """The lines of a launch's stderr that say where each rank stopped (the launcher's
    own summary, at the end, names only the signal)."""
    keys = ("Error", "error", "terminate", "what()", "Traceback", "File ", "gloo", "Gloo", "abort")
    return "\n".join(line for line in stderr.splitlines() if any(k in line for k in keys))[-6000:]


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = (int(x) for x in fh.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free port OUTSIDE the kernel's ephemeral range, for the launcher to bind.

    A port from ``bind(('', 0))`` is ephemeral: once the probe closes it, the kernel may
    hand it to any socket bound to port 0 (gloo's own pair listeners, other tests'
    clients) before the launcher binds it. Ports below the range are only ever taken by
    an explicit bind, so the probe-then-launch window is safe from that."""
    import random
    low, high = _ephemeral_range()
    ports = list(range(20000, min(low, 32768))) or list(range(high + 1, 65536))
    random.shuffle(ports)
    for port in ports[:200]:
        with socket.socket() as sock:
            try:
                sock.bind(("", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def test_free_port_is_outside_the_ephemeral_range():
    low, high = _ephemeral_range()
    ports = {free_port() for _ in range(5)}
    assert all(not low <= p <= high for p in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("", port))  # and free


def _accelerate_argv(launcher, run):
    port = free_port()  # not 29500: others may be using it on a shared machine
    return [launcher, "launch", "--multi_gpu", "--num_processes", "2",
            "--main_process_port", str(port), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", "genemask_viz.training.worker", str(run)]


@pytest.mark.slow
def test_two_process_accelerate_run(tmp_path):
    """``accelerate launch`` with 2 CPU processes (gloo): one run, 2x sequences per step."""
    launcher = shutil.which("accelerate")
    if launcher is None:
        pytest.skip("the accelerate command is not on PATH")
    run = reg.create_run("pretrain", cfg(steps=2, batch_size=2), run_dir=tmp_path / "ddp")
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def launch():
        return subprocess.run(_accelerate_argv(launcher, run), env=env, capture_output=True,
                              text=True, timeout=240)

    proc = launch()
    for _ in range(GLOO_ABORT_RETRIES):
        if proc.returncode == 0 or "(SIGABRT)" not in proc.stderr:
            break
        # Seen in about one launch in five inside the full suite on a loaded 2-core machine
        # (rarely alone): a rank aborts inside the gloo transport, a signal, not a Python
        # error. Relaunching resumes the same run folder; a genuine bug fails every time.
        warnings.warn("accelerate: a rank died of SIGABRT; relaunching:\n" + _rank_errors(proc.stderr))
        proc = launch()
    # on failure show where each rank stopped (the launcher's summary alone hides it)
    assert proc.returncode == 0, _rank_errors(proc.stderr)
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


def test_a_reused_pid_is_not_taken_for_the_run_process(tmp_path):
    """After a reboot or container restart an unrelated process may hold a run's recorded
    pid: the recorded start time and boot id tell them apart."""
    from genemask_viz.training import procs
    run = reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
    reg.set_status(run, state="running", pid=os.getpid())  # the real current process
    status = reg.run_status(run)
    start = procs.process_start(os.getpid())
    assert start is not None and status["pid_start"] == start and status["boot_id"] == procs.boot_id()
    assert status["state"] == "running" and reg._status_alive(status)
    # the same pid, but another process start (pid reuse): dead, its run failed
    reg.set_status(run, state="running", pid=os.getpid(), pid_start=start + 1)
    status = reg.run_status(run)
    assert status["state"] == "failed" and "ended without reporting" in status["error"]
    assert reg.list_runs(tmp_path).set_index("id").loc["r", "state"] == "failed"
    # the same pid and start, recorded in an earlier boot: dead too
    reg.set_status(run, state="running", pid=os.getpid(), pid_start=start, boot_id="earlier-boot")
    assert reg.run_status(run)["state"] == "failed"
    # a stale 'running' run does not hold the only slot: a queued sibling starts
    reg.set_status(run, state="running", pid=os.getpid(), pid_start=start + 1)
    other = reg.create_run("pretrain", cfg(strategy="random"), root=tmp_path, name="other")
    got = []
    waiter = threading.Thread(target=lambda: got.append(reg.wait_for_slot(other, 1, poll_s=0.05)),
                              daemon=True)
    waiter.start()
    waiter.join(timeout=10)
    assert got == [True] and reg.run_status(other)["state"] == "running"
    # a status file written before these fields existed compares the pid only
    old = {"state": "running", "pid": os.getpid(), "step": 1, "max_steps": 3}
    reg.write_json_atomic(run / "status.json", old)
    status = reg.run_status(run)
    assert status["state"] == "running" and reg._status_alive(status)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    reg.write_json_atomic(run / "status.json", dict(old, pid=dead.pid))
    assert reg.run_status(run)["state"] == "failed"


def test_cancel_never_signals_a_process_that_reused_the_pid(tmp_path):
    """cancel_run kills the recorded process group after a timeout: with a reused pid that
    would hit an unrelated process. It must mark the run cancelled and leave it alone."""
    run = reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    try:
        from genemask_viz.training import procs
        start = procs.process_start(other.pid)
        assert start is not None
        reg.set_status(run, state="queued", pid=other.pid, pid_start=start - 1)
        t0 = time.monotonic()
        assert reg.cancel_run(run, timeout_s=5)["state"] == "cancelled"
        assert time.monotonic() - t0 < 2.0  # not waited for as if it were the run
        assert other.poll() is None  # still running: not signalled
    finally:
        other.kill()
        other.wait()


def test_pid_alive_falls_back_to_the_pid_without_proc(monkeypatch):
    from genemask_viz.training import procs
    start = procs.process_start(os.getpid())
    assert procs.pid_alive(os.getpid(), start, procs.boot_id())
    assert not procs.pid_alive(os.getpid(), start + 1, procs.boot_id())
    assert not procs.pid_alive(None) and not procs.pid_alive(2 ** 22 + 1)
    monkeypatch.setattr(procs, "_stat_fields", lambda pid: None)  # no /proc (e.g. macOS)
    monkeypatch.setattr(procs, "boot_id", lambda: None)
    assert procs.process_identity(os.getpid()) == {"pid_start": None, "boot_id": None}
    assert procs.pid_alive(os.getpid(), start + 1, "some-boot")  # nothing to compare but the pid
    assert not procs.pid_alive(2 ** 22 + 1)


@pytest.mark.slow
def test_two_process_accelerate_run_is_cancelled_on_both_ranks(tmp_path):
    """A cancel request during a 2-process run stops both ranks after the same step (rank 0
    decides, an all-reduce shares it): no rank is left waiting in a collective."""
    launcher = shutil.which("accelerate")
    if launcher is None:
        pytest.skip("the accelerate command is not on PATH")

    def attempt(run):
        proc = subprocess.Popen(_accelerate_argv(launcher, run),
                                env=dict(os.environ, OMP_NUM_THREADS="1"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: reg.run_status(run).get("step", 0) >= 1 or proc.poll() is not None,
                       timeout=120, poll=0.1)
            (run / reg.CANCEL_FILE).write_text("now")
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, err

    run = reg.create_run("pretrain", cfg(steps=100000, save_steps=100000), run_dir=tmp_path / "ddp")
    code, err = attempt(run)
    for retry in range(GLOO_ABORT_RETRIES):  # the gloo abort (see test_two_process_accelerate_run)
        if code == 0 or "(SIGABRT)" not in err:
            break
        warnings.warn("accelerate: a rank died of SIGABRT; trying again:\n" + _rank_errors(err))
        run = reg.create_run("pretrain", cfg(steps=100000, save_steps=100000),
                             run_dir=tmp_path / f"ddp_retry{retry}")
        code, err = attempt(run)
    assert code == 0, err[-3000:]
    status = reg.run_status(run)
    assert status["state"] == "cancelled" and 1 <= status["step"] < 100000
    assert any((run / "checkpoints").iterdir())  # the work so far was saved, by both ranks


# --- issue 14: the registry survives tampering and interruptions ----------------------------

@pytest.mark.parametrize("bad", ["{", "[1, 2]", "\xff\xfe", '"text"', '{"state": "running", "pid": -1}',
                                 '{"state": "running", "pid": "x", "step": "many"}'])
def test_one_malformed_run_does_not_break_the_listing(tmp_path, bad, capsys):
    """Item 7: one malformed status.json or config.json made `runs ls` fail for every run."""
    from genemask_viz.cli import main
    good = reg.create_run("pretrain", cfg(), root=tmp_path, name="good")
    broken_status = reg.create_run("pretrain", cfg(strategy="random"), root=tmp_path, name="bs")
    broken_config = reg.create_run("pretrain", cfg(strategy="pmi-span"), root=tmp_path, name="bc")
    (broken_status / "status.json").write_text(bad)
    if not bad.startswith('{"state"'):
        (broken_config / "config.json").write_text(bad)
    table = reg.list_runs(tmp_path).set_index("id")
    assert table.loc["good", "state"] == "queued"
    assert set(table.index) == {"good", "bs", "bc"}
    assert main(["runs", "--root", str(tmp_path), "ls"]) == 0
    assert "good" in capsys.readouterr().out
    # show: the run with the broken status file reads as unreadable (or failed: the pid is no
    # process), never a traceback; a broken config is one clear line, exit 2
    assert main(["runs", "--root", str(tmp_path), "show", "bs"]) == 0
    assert re.search(r"state: (unreadable|failed|running)", capsys.readouterr().out)
    code = main(["runs", "--root", str(tmp_path), "show", "bc"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err and len(err.strip().splitlines()) <= 1
    # setting the status of a run with a malformed status file replaces it
    reg.set_status(broken_status, state="cancelled")
    assert reg.run_status(broken_status)["state"] == "cancelled"
    assert reg.run_status(good)["state"] == "queued"


def _fake_checkpoint(folder, step, weights=b"", state=None):
    """A checkpoint folder with a real (tiny) safetensors file and a trainer_state.json."""
    from safetensors.numpy import save_file
    import numpy as np
    d = folder / f"checkpoint-{step}"
    d.mkdir(parents=True)
    save_file({"w": np.arange(6, dtype=np.float32)}, str(d / "model.safetensors"))
    (d / "trainer_state.json").write_text(json.dumps({"global_step": step}) if state is None else state)
    import torch
    torch.save({"step": step}, d / "optimizer.pt")
    return d


def test_half_written_checkpoint_files_fall_back_to_the_previous_one(tmp_path):
    """Item 8: a half-written trainer_state.json in the newest checkpoint made every rerun fail
    with JSONDecodeError; now it (and a truncated weights or optimizer file) is skipped."""
    from genemask_viz.errors import GeneMaskWarning
    from genemask_viz.training.pretrain import last_complete_checkpoint
    good = _fake_checkpoint(tmp_path, 2)
    assert reg.checkpoint_problem(good) is None
    assert last_complete_checkpoint(tmp_path) == str(good)
    half_state = _fake_checkpoint(tmp_path, 4, state='{"global_step": 4, "log_hi')
    with pytest.warns(GeneMaskWarning, match="checkpoint-4: incomplete checkpoint .*trainer_state"):
        assert last_complete_checkpoint(tmp_path) == str(good)
    shutil.rmtree(half_state)
    cut_weights = _fake_checkpoint(tmp_path, 6)
    data = (cut_weights / "model.safetensors").read_bytes()
    (cut_weights / "model.safetensors").write_bytes(data[:-5])
    assert "model.safetensors is incomplete" in reg.checkpoint_problem(cut_weights)
    shutil.rmtree(cut_weights)
    cut_opt = _fake_checkpoint(tmp_path, 8)
    data = (cut_opt / "optimizer.pt").read_bytes()
    (cut_opt / "optimizer.pt").write_bytes(data[: len(data) // 2])
    assert "optimizer.pt is incomplete" in reg.checkpoint_problem(cut_opt)
    wrong_step = _fake_checkpoint(tmp_path, 10, state=json.dumps({"global_step": 3}))
    assert "says step 3" in reg.checkpoint_problem(wrong_step)
    with pytest.warns(GeneMaskWarning):
        assert last_complete_checkpoint(tmp_path) == str(good)


def test_metrics_are_truncated_when_a_run_restarts_from_step_zero(tmp_path):
    """Item 10: a run killed before its first checkpoint restarted from step 0 but kept the
    old metrics rows (steps 1/10/20 three times)."""
    from transformers import TrainerControl, TrainerState
    from genemask_viz.training.callbacks import RunLogger
    run = reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
    for step in (1, 10, 20):
        reg.append_metrics(run, {"step": step, "loss": 8.0, "elapsed": step / 10})
    (run / "metrics.jsonl").open("a").write('{"step": 2')  # the line being written when killed
    state = TrainerState()
    state.global_step, state.max_steps, state.is_world_process_zero = 0, 30, True
    logger = RunLogger(run)
    logger.on_train_begin(None, state, TrainerControl())
    assert len(reg.read_metrics(run)) == 0 and logger.elapsed_before == 0.0
    # resumed from a checkpoint at step 10: the rows up to it are kept, the clock goes on
    for step in (1, 10, 20):
        reg.append_metrics(run, {"step": step, "loss": 8.0, "elapsed": step / 10})
    state.global_step = 10
    logger = RunLogger(run)
    logger.on_train_begin(None, state, TrainerControl())
    assert list(reg.read_metrics(run)["step"]) == [1, 10] and logger.elapsed_before == 1.0
    logger.on_train_end(None, state, TrainerControl())


def test_a_failed_run_with_a_typo_is_replaced_by_the_corrected_command(tmp_path, capsys):
    """Item 12: pretrain/fewshot created the run folder before checking their inputs; a typo
    left a failed run and the corrected rerun with the same --out was refused."""
    from genemask_viz.cli import main
    out = tmp_path / "run"
    for argv in (["pretrain", "--corpus", str(tmp_path / "typo.fa"), "--out", str(out)],
                 ["pretrain", "--corpus", "demo", "--model", str(tmp_path / "no-model"),
                  "--out", str(out)],
                 ["pretrain", "--corpus", "demo", "--table", str(tmp_path / "no.csv"),
                  "--out", str(out)],
                 ["fewshot", "--data", str(tmp_path / "typo.tsv"), "--out", str(out)],
                 ["fewshot", "--data", "demo", "--model", "tinyy", "--out", str(out)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and ("typo" in err or "no-model" in err
                                                        or "no.csv" in err or "tinyy" in err)
        assert not out.exists()  # checked before the folder is made
    # a run that failed before its first step (killed, or an error inside training) is
    # replaced by a run with other settings; one that made progress is not
    failed = reg.create_run("pretrain", cfg(corpus="typo.fa"), run_dir=out)
    reg.set_status(failed, state="failed", error="GeneMaskInputError: corpus 'typo.fa' is not a file.")
    (failed / "log.txt").write_text("old log")
    again = reg.create_run("pretrain", cfg(), run_dir=out)
    assert again == out and reg.read_json(out / "config.json")["params"]["corpus"] == "demo"
    assert reg.run_status(out)["state"] == "queued" and not (out / "log.txt").exists()
    reg.set_status(out, state="failed", step=2)
    (out / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    with pytest.raises(GeneMaskInputError, match="other settings"):
        reg.create_run("pretrain", cfg(strategy="random"), run_dir=out)


def test_cancel_never_signals_a_pid_without_a_start_time(tmp_path):
    """Item 13: a status file with a pid but no start time fell back to the pid alone, and
    cancel killed an unrelated process group. Only a proven identity is signalled."""
    from genemask_viz.training import procs
    run = reg.create_run("pretrain", cfg(), root=tmp_path, name="r")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    try:
        reg.write_json_atomic(run / "status.json", {"state": "running", "pid": other.pid, "step": 1})
        status = reg.cancel_run(run, timeout_s=0.5)
        time.sleep(0.3)
        assert other.poll() is None  # untouched
        assert status["state"] == "cancelled" and "not signalled" in status["message"]
        assert not procs.identity_proven(other.pid, None)
        assert (run / reg.CANCEL_FILE).exists()  # the worker, if it was ours, stops by itself
        # with a proven identity the process is stopped
        assert procs.identity_proven(other.pid, procs.process_start(other.pid), procs.boot_id())
        reg.set_status(run, state="running", pid=other.pid)
        assert reg.cancel_run(run, timeout_s=0.5)["state"] == "cancelled"
        other.wait(timeout=10)
        assert other.returncode == -signal.SIGTERM
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    for bad in (-1, 0, True, "12", [1]):
        assert not procs.pid_alive(bad) and not procs.identity_proven(bad, 1)


def test_progress_eta_uses_the_logged_rows_own_step(tmp_path):
    """status.json's step runs ahead of metrics.jsonl: the time left comes from the rate of
    the last logged row (elapsed / its step), times the steps still to go."""
    run = reg.create_run("pretrain", {"steps": 3000}, run_dir=tmp_path / "r")
    reg.set_status(run, state="running", step=22, max_steps=3000)
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 8.3, "elapsed": 0.5}) + "\n")
    p = reg.run_progress(run)
    assert p["eta"] == pytest.approx(0.5 * (3000 - 22))        # not 0.5 * (1 - f) / f = 67.7 s
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 20, "loss": 8.2, "elapsed": 2.6}) + "\n")
        f.write(json.dumps({"step": 20, "eval_loss": 8.25}) + "\n")  # an eval row has no elapsed
    assert reg.run_progress(run)["eta"] == pytest.approx(0.13 * (3000 - 22))
    reg.set_status(run, state="done", step=3000, max_steps=3000)
    assert reg.run_progress(run)["eta"] is None
