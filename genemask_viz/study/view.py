"""What the Study page shows, computed here so that tests reach it (the page only draws)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

__all__ = ["list_studies", "study_progress", "report_tables", "launch_study"]


def list_studies(root: str | os.PathLike) -> list[Path]:
    """Study folders (holding ``study.json``) directly under ``root``, newest first."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    found = [d for d in root.iterdir() if (d / "study.json").exists()]
    return sorted(found, key=lambda d: (d / "study.json").stat().st_mtime, reverse=True)


def study_progress(study_dir: str | os.PathLike) -> dict:
    """Runs done / total, their states, whether a scheduler is working, and the grid."""
    from .plan import plan_states, study_grid
    from .runner import scheduler_info
    states = plan_states(study_dir)
    counts = pd.Series([s["state"] for s in states]).value_counts().to_dict()
    total = len(states)
    done = int(counts.get("done", 0))
    running = [s["name"] for s in states if s["state"] == "running"]
    info = scheduler_info(study_dir)
    return {"total": total, "done": done, "fraction": done / total if total else 0.0,
            "counts": counts, "running": running, "scheduler_alive": info["alive"],
            "scheduler": info, "grid": study_grid(study_dir),
            "failed": [s for s in states if s["state"] in ("failed", "cancelled")]}


def report_tables(study_dir: str | os.PathLike) -> dict:
    """The tables of the last written report (``DIR/report/*.csv``); empty when none yet."""
    out = {}
    folder = Path(study_dir) / "report"
    for name in ("cells", "paired", "untrained", "pooled", "pretraining", "results"):
        path = folder / f"{name}.csv"
        try:
            out[name] = pd.read_csv(path) if path.exists() else pd.DataFrame()
        except pd.errors.EmptyDataError:
            out[name] = pd.DataFrame()
    md = folder / "report.md"
    out["markdown"] = md.read_text() if md.exists() else None
    return out


def launch_study(source: str, out: str | os.PathLike, text: str | None = None,
                 jobs: int | None = None) -> int:
    """Prepare ``out`` from a preset / file (or uploaded ``text``) and start its scheduler in the
    background; returns the scheduler's pid. A folder of the same study is resumed."""
    from .runner import prepare_study, start_study
    prepare_study(source, out, text=text)
    return start_study(out, jobs=jobs)
