"""Equal-budget replication studies: a study file, the grid of registry runs, statistics, reports.

A study is only a plan of ordinary registry runs plus statistics over their results; it
never trains by itself (``docs/REPLICATION.md`` holds one study's answer)::

    from genemask_viz.study import prepare_study, run_study, write_report
    prepare_study("smoke", "studies/smoke")      # study.toml, study.json, plan.json
    run_study("studies/smoke")                   # resumable; skips finished runs
    write_report("studies/smoke")                # report/report.md + plotly figures

Sub-modules load on use: importing this package does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "spec": ["StudySpec", "TaskSpec", "load_study", "parse_study", "PRESETS", "preset_path"],
    "plan": ["build_plan", "study_grid", "plan_states"],
    "runner": ["prepare_study", "run_study", "start_study", "scheduler_info", "load_study_dir"],
    "stats": ["mean_interval", "paired_difference", "holm", "bootstrap_mean_interval",
              "cell_summary", "paired_table"],
    "hidden": ["common_validation"],
    "report": ["collect_results", "write_report", "pretraining_table"],
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
