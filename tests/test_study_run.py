"""The smoke study end to end: background start, kill, resume without redoing finished runs,
report tables recomputed from the runs' own results.csv, status and the Study page."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[1]


def _done(out: Path) -> dict:
    found = {}
    for d in (out / "runs").glob("*"):
        st = json.loads((d / "status.json").read_text()) if (d / "status.json").exists() else {}
        if st.get("state") == "done":
            found[d.name] = st["finished"]
    return found


def _wait_for_lock_free(out, timeout_s: float = 60.0) -> None:
    import fcntl
    from genemask_viz.study.runner import LOCK
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with open(out / LOCK, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.5)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
            return
    raise AssertionError(f"the killed scheduler's lock on {out} was still held after {timeout_s} s")


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    """Start the smoke preset in the background, kill its scheduler after two finished runs,
    then resume it in the foreground with 2 runs at a time (background registry workers, the
    path a laptop study takes). Returns (folder, runs done before the kill, counts)."""
    from genemask_viz.study.runner import run_study
    out = tmp_path_factory.mktemp("study") / "smoke"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = subprocess.run([sys.executable, "-m", "genemask_viz.cli", "study", "run", "smoke",
                              "--out", str(out), "--background"], capture_output=True, text=True,
                             env=env, cwd=REPO, timeout=120)
    assert started.returncode == 0, started.stderr
    pid = json.loads((out / "scheduler.json").read_text())["pid"] if (out / "scheduler.json").exists() \
        else int(started.stdout.split("pid ")[1].split(")")[0])
    deadline = time.monotonic() + 300
    while len(_done(out)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(pid, signal.SIGKILL)  # the scheduler and the run it was executing
    from genemask_viz.training.procs import pid_alive
    deadline = time.monotonic() + 60
    while pid_alive(pid) and time.monotonic() < deadline:  # a big process takes a moment to go
        time.sleep(0.2)
    _wait_for_lock_free(out)  # a forked child of the killed scheduler may hold it a moment
    before = _done(out)
    assert len(before) >= 2
    counts = run_study(out, jobs=2, poll_s=0.5, log=lambda msg: None)
    return out, before, counts


def test_killed_study_resumes_without_redoing_finished_runs(smoke_study):
    out, before, counts = smoke_study
    plan = json.loads((out / "plan.json").read_text())
    after = _done(out)
    assert len(after) == len(plan) == 7 and counts["failed"] == 0
    assert counts["skipped"] == len(before)
    assert counts["executed"] == len(plan) - len(before)
    assert all(after[name] == stamp for name, stamp in before.items())  # not run again
    # a rerun of a finished study does nothing
    from genemask_viz.study.runner import run_study
    assert run_study(out, log=lambda msg: None)["executed"] == 0


def test_report_tables_recomputed_from_results_csv(smoke_study):
    from genemask_viz.study.report import write_report
    out, _, _ = smoke_study
    path = write_report(out)
    text = path.read_text()
    assert "Paired differences against the reference `dnabert`" in text
    assert (out / "report" / "accuracy_vs_shots.html").exists()
    assert (out / "report" / "paired_mcc.html").exists()
    plan = json.loads((out / "plan.json").read_text())
    rows = []
    for e in plan:
        if e["kind"] == "fewshot":
            r = pd.read_csv(out / "runs" / e["name"] / "results.csv")
            rows.append(r.assign(strategy=e["strategy"], task=e["task"],
                                 pretrain_seed=e["pretrain_seed"]))
    raw = pd.concat(rows)
    cells = pd.read_csv(out / "report" / "cells.csv")
    for (task, shots, strategy), g in raw.groupby(["task", "shots", "strategy"]):
        c = cells[(cells.task == task) & (cells.shots == shots) & (cells.strategy == strategy)]
        assert len(c) == 1
        assert c["accuracy"].iloc[0] == pytest.approx(g["accuracy"].mean())
        assert c["n"].iloc[0] == len(g) == 2
        assert c["n_collapsed"].iloc[0] == g["collapsed"].astype(bool).sum()
        for m in ("accuracy", "mcc"):
            if g[m].std() > 0:
                lo, hi = stats.t.interval(0.95, len(g) - 1, loc=g[m].mean(), scale=stats.sem(g[m]))
                assert (c[f"{m}_low"].iloc[0], c[f"{m}_high"].iloc[0]) == pytest.approx((lo, hi))
            else:
                assert c[f"{m}_low"].iloc[0] == pytest.approx(g[m].mean())
    paired = pd.read_csv(out / "report" / "paired.csv")
    p = paired[(paired.strategy == "genemask") & (paired.metric == "mcc") & (paired.shots == 8)]
    a = raw[(raw.strategy == "genemask") & (raw.shots == 8)].sort_values("seed")["mcc"].to_numpy()
    b = raw[(raw.strategy == "dnabert") & (raw.shots == 8)].sort_values("seed")["mcc"].to_numpy()
    assert p["diff"].iloc[0] == pytest.approx(np.mean(a - b))
    pre = pd.read_csv(out / "report" / "pretraining.csv")
    assert set(pre["strategy"]) == {"none", "random", "dnabert", "genemask"}
    assert pre["hidden_accuracy"].between(0, 1).all() and (pre["n_hidden"] > 0).all()


def test_status_command_and_study_page(smoke_study):
    out, _, _ = smoke_study
    if not (out / "report" / "report.md").exists():  # run alone: the page shows a report's figures
        from genemask_viz.study.report import write_report
        write_report(out, hidden=False)
    res = subprocess.run([sys.executable, "-m", "genemask_viz.cli", "study", "status", str(out)],
                         capture_output=True, text=True, cwd=REPO, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert res.returncode == 0, res.stderr
    assert "7/7 runs done" in res.stdout and "genemask" in res.stdout
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(REPO / "pages" / "5_Study.py"), default_timeout=120)
    at.session_state["study_root"] = str(out.parent)
    at.run()
    assert not at.exception
    assert at.selectbox(key="study_pick").value == str(out)
    assert [p.proto.text for p in at.get("progress")] == ["7 of 7 runs done — no scheduler running"]
    assert len(at.get("plotly_chart")) >= 3  # metric vs shots, forest plot(s), pretraining curves
