"""``genemask study run FILE --out DIR | status DIR | report DIR | presets [NAME]``.

A study (a TOML file or a preset name: smoke, laptop, paper, ...) is a grid of ordinary
registry runs: every strategy pretrained with every pretraining seed, every model
fine-tuned on every task. ``run`` works through the grid in the foreground, or with
``--background`` in a process that outlives the terminal; rerun it after a kill and it
continues without redoing finished runs. ``report`` writes ``DIR/report/report.md`` and
interactive figures.
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("study", help="equal-budget replication studies: run, status, report",
                       description="Run a study (a grid of pretraining and few-shot runs), watch its "
                                   "grid, and report paired statistics across strategies.")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    run = verbs.add_parser("run", help="run (or resume) a study")
    run.add_argument("study", help="study file (.toml) or preset name (see 'genemask study presets')")
    run.add_argument("--out", required=True, help="study folder (rerun with the same folder to resume)")
    run.add_argument("--jobs", type=int, default=None,
                     help="runs at a time (default: the study file's, else 1; 1 runs them in this "
                          "process, more as background registry workers)")
    run.add_argument("--background", action="store_true",
                     help="start the scheduler in the background and return (log: DIR/study.log)")
    run.add_argument("--nice", type=int, default=0, help="with --background: niceness of the scheduler")
    status = verbs.add_parser("status", help="the grid of runs and their states")
    status.add_argument("dir")
    report = verbs.add_parser("report", help="write DIR/report/report.md and figures")
    report.add_argument("dir")
    report.add_argument("--no-hidden", action="store_true",
                        help="skip the hidden-nucleotide accuracy of the pretrained models")
    presets = verbs.add_parser("presets", help="list the presets, or print one")
    presets.add_argument("name", nargs="?")
    p.set_defaults(func=main)


def main(args) -> int:
    return {"run": _run, "status": _status, "report": _report, "presets": _presets}[args.verb](args)


def _run(args) -> int:
    from ..study.runner import load_study_dir, prepare_study, run_study, start_study
    out = Path(args.out).expanduser().resolve()
    if Path(args.study).expanduser().resolve() == out / "study.toml":
        load_study_dir(out)  # the folder's own copy: resume as it is
    else:
        prepare_study(args.study, out)
    if args.background:
        pid = start_study(out, jobs=args.jobs, nice=args.nice)
        print(f"started study {out} (pid {pid}); log {out / 'study.log'}; "
              f"watch it with: genemask study status {out}")
        return 0
    counts = run_study(out, jobs=args.jobs)
    print(f"next: genemask study report {out}", file=sys.stderr)
    return 0 if counts["failed"] == 0 and counts["blocked"] == 0 else 1


def _status(args) -> int:
    import pandas as pd

    from ..study.plan import plan_states, study_grid
    from ..study.runner import load_study_dir, scheduler_info
    spec, _ = load_study_dir(args.dir)
    info = scheduler_info(args.dir)
    states = plan_states(args.dir)
    done = sum(s["state"] == "done" for s in states)
    who = (f"scheduler running (pid {info['pid']})" if info["alive"]
           else f"no scheduler running (last: {info.get('state', 'never started')})")
    print(f"study {spec.name}: {done}/{len(states)} runs done; {who}")
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(study_grid(args.dir).to_string(index=False))
    for s in states:
        if s["state"] in ("failed", "cancelled") and s.get("error"):
            print(f"{s['name']}: {s['state']}: {s['error']}")
    return 0


def _report(args) -> int:
    from ..study.report import write_report
    path = write_report(args.dir, hidden=not args.no_hidden, progress=True)
    print(f"wrote {path} and figures in {path.parent}")
    return 0


def _presets(args) -> int:
    from ..study.spec import PRESETS, preset_path
    if args.name:
        print(preset_path(args.name).read_text(), end="")
        return 0
    import tomllib
    for name in PRESETS:  # descriptions straight from the files: no data needs to be present
        about = tomllib.loads(preset_path(name).read_text()).get("study", {}).get("description", "")
        print(f"{name:18s} {about}")
    return 0
