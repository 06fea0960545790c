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

from .._lazy import lazy_exports

_EXPORTS = {
    "spec": ["StudySpec", "TaskSpec", "load_study", "parse_study", "PRESETS", "preset_path"],
    "plan": ["build_plan", "study_grid", "plan_states"],
    "runner": ["prepare_study", "run_study", "start_study", "scheduler_info", "load_study_dir"],
    "stats": ["mean_interval", "paired_difference", "holm", "bootstrap_mean_interval",
              "cell_summary", "paired_table"],
    "hidden": ["common_validation"],
    "report": ["collect_results", "write_report", "pretraining_table"],
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
