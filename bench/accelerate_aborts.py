"""How often does a 2-process ``accelerate launch`` (gloo, CPU) die of SIGABRT? (issue 14)

Launches the same 2-step pretraining run as ``tests/test_training_registry.py::
test_two_process_accelerate_run`` ``--launches`` times, each in a fresh run folder on a
fresh port outside the kernel's ephemeral range, and counts exit codes and launches
whose stderr names SIGABRT. Run it niced on a shared machine:

    nice -n 19 python bench/accelerate_aborts.py --launches 50
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--launches", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=1200.0,
                    help="seconds per launch (a starved niced launch is slow, not aborted)")
    ap.add_argument("--keep-stderr", default=None,
                    help="folder for the full stderr of every failed launch")
    args = ap.parse_args()
    from genemask_viz.training import registry as reg
    from genemask_viz.training.pretrain import PretrainConfig
    from test_training_registry import _accelerate_argv

    launcher = shutil.which("accelerate")
    if launcher is None:
        print("the accelerate command is not on PATH")
        return 1
    params = asdict(PretrainConfig(corpus="demo", strategy="dnabert", model="tiny", steps=2,
                                   batch_size=2, max_length=64, n_val=4, save_steps=2,
                                   logging_steps=1, threads=1))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    import hashlib
    worker = REPO / "genemask_viz" / "training" / "worker.py"
    print(f"worker.py sha1 {hashlib.sha1(worker.read_bytes()).hexdigest()[:10]}", flush=True)
    outcomes = collections.Counter()
    aborts = 0
    with tempfile.TemporaryDirectory(prefix="accelerate_aborts_") as tmp:
        for i in range(args.launches):
            run = reg.create_run("pretrain", params, run_dir=Path(tmp) / f"run{i}")
            t0 = time.perf_counter()
            # a session of its own: on a timeout the launcher AND its ranks are stopped
            proc = subprocess.Popen(_accelerate_argv(launcher, run), env=env, text=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True)
            try:
                _, err = proc.communicate(timeout=args.timeout)
                code = proc.returncode
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                _, err = proc.communicate()
                code = "timeout"
            abort = "SIGABRT" in err
            aborts += abort
            state = reg.run_status(run).get("state")
            outcomes[(code, state)] += 1
            print(f"launch {i + 1}/{args.launches}: exit {code}, state {state}, "
                  f"SIGABRT {'yes' if abort else 'no'}, {time.perf_counter() - t0:.1f} s", flush=True)
            if code != 0 and args.keep_stderr:
                Path(args.keep_stderr).mkdir(parents=True, exist_ok=True)
                (Path(args.keep_stderr) / f"launch{i + 1}.stderr").write_text(err)
            if code != 0:
                from test_training_registry import _rank_errors
                print(_rank_errors(err)[-3000:], flush=True)
            shutil.rmtree(run, ignore_errors=True)
    print(f"SUMMARY: {aborts} SIGABRT in {args.launches} launches; outcomes "
          + ", ".join(f"exit {c}/state {s}: {n}" for (c, s), n in sorted(outcomes.items(), key=str)),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
