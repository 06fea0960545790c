"""A study's report: tables recomputed from the runs' own files, figures, ``report.md``.

Everything here is read from the study folder (``plan.json`` and each run's
``results.csv``, ``eval.json``, ``metrics.jsonl``), so a report can be written for a study
that is still running (it covers the runs done so far) or one run from the command line.
Outputs in ``DIR/report/``: ``report.md``, ``results.csv`` (every fine-tune, with task,
strategy and pretraining seed), ``cells.csv``, ``paired.csv``, ``pretraining.csv`` and the
interactive figures ``*.html``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .plan import init_dir, run_dir
from .runner import load_study_dir
from .spec import NONE
from .stats import cell_summary, chance_levels, paired_table, pooled_differences

__all__ = ["collect_results", "chance_table", "pretraining_table", "study_tables", "write_report"]

REPORT = "report"


def collect_results(study_dir: str | os.PathLike, plan: list | None = None) -> pd.DataFrame:
    """Every finished fine-tune of the study: the rows of each few-shot run's ``results.csv``
    with ``task``, ``strategy``, ``pretrain_seed`` and ``run`` added. ``collapsed`` comes from
    the run (one class predicted for every test row); results without it count MCC == 0 as
    collapsed."""
    if plan is None:
        _, plan = load_study_dir(study_dir)
    frames = []
    for entry in plan:
        path = run_dir(study_dir, entry["name"]) / "results.csv"
        if entry["kind"] != "fewshot" or not path.exists():
            continue
        status = json.loads((path.parent / "status.json").read_text())
        if status.get("state") != "done":
            continue
        frame = pd.read_csv(path)
        if not len(frame):
            continue
        frame = frame.assign(task=entry["task"], strategy=entry["strategy"],
                             pretrain_seed=entry["pretrain_seed"], run=entry["name"])
        if "collapsed" not in frame:
            frame["collapsed"] = frame["mcc"].astype(float) == 0.0
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["task", "shots", "strategy", "pretrain_seed", "seed",
                                     "accuracy", "macro_f1", "mcc", "auroc", "collapsed", "run"])
    out = pd.concat(frames, ignore_index=True)
    out["collapsed"] = out["collapsed"].astype(str).str.lower().isin(["true", "1", "1.0"])
    return out


def chance_table(spec, results: pd.DataFrame, cache: Path | None = None) -> pd.DataFrame:
    """Per (task, shots, seed): the test set's class count and most common class's share,
    from the same draw the fine-tune used."""
    from ..training.tasks import draw_shots, load_task
    keys = results[["task", "shots", "seed"]].drop_duplicates()
    old = pd.read_csv(cache) if cache is not None and cache.exists() else None
    if old is not None and len(keys.merge(old, on=["task", "shots", "seed"])) == len(keys):
        return old
    fine = spec.finetune
    rows = []
    for task in spec.tasks:
        wanted = keys[keys["task"] == task.name]
        if not len(wanted):
            continue
        loaded = load_task(task.data, train=task.train, test=task.test,
                           test_fraction=fine.get("test_fraction", 0.2))
        for shots, seed in wanted[["shots", "seed"]].itertuples(index=False):
            draw = draw_shots(loaded, int(shots), int(seed), from_pool=fine.get("from_pool", False),
                              max_test=fine.get("max_test"))
            shares = draw.test["label"].value_counts(normalize=True)
            rows.append({"task": task.name, "shots": int(shots), "seed": int(seed),
                         "n_classes": len(loaded.classes), "majority_share": float(shares.max())})
    table = pd.DataFrame(rows, columns=["task", "shots", "seed", "n_classes", "majority_share"])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(cache, index=False)
    return table


def _with_chance(cells: pd.DataFrame, results: pd.DataFrame, chance: pd.DataFrame, metrics):
    if not len(cells):
        return cells
    merged = results.merge(chance, on=["task", "shots", "seed"], how="left")
    rows = []
    for (task, shots), group in merged.groupby(["task", "shots"]):
        levels = chance_levels(group["majority_share"].mean(), int(group["n_classes"].iloc[0]))
        rows.append({"task": task, "shots": shots, **{f"{m}_chance": levels[m] for m in metrics}})
    return cells.merge(pd.DataFrame(rows), on=["task", "shots"], how="left")


def pretraining_table(study_dir, spec, plan, hidden: bool = True, progress: bool = False):
    """One row per pretrained (or untrained, strategy ``none``) model: steps, validation MLM
    loss and masked-token accuracy under its **own** masking (``eval.json``), training time,
    and, with ``hidden``, the hidden-nucleotide accuracy and MLM loss under the study's
    common masking (cached in ``report/hidden/``)."""
    from ..training.registry import read_json, write_json_atomic
    study_dir = Path(study_dir)
    models = [(e["strategy"], e["pretrain_seed"], run_dir(study_dir, e["name"]), e["name"])
              for e in plan if e["kind"] == "pretrain"]
    if NONE in spec.strategies:
        models += [(NONE, s, init_dir(study_dir, s), f"{NONE}-s{s}") for s in spec.pretrain_seeds]
    val = None
    rows = []
    for strategy, seed, folder, name in models:
        row = {"strategy": strategy, "pretrain_seed": seed, "model": name}
        done = strategy == NONE and (folder / "config.json").exists() or (
            (read_json(folder / "status.json", {}) or {}).get("state") == "done")
        ev = read_json(folder / "eval.json", {}) or {}
        row.update(steps=ev.get("steps", 0 if strategy == NONE else None),
                   own_val_loss=ev.get("eval_loss"), own_val_accuracy=ev.get("eval_accuracy"),
                   train_s=ev.get("train_runtime"))
        if hidden and done:
            key = {"strategy": spec.hidden_strategy, "n": spec.hidden_sequences,
                   "seed": spec.hidden_seed, "method": "interpret.reconstruction_score/1"}
            cache = study_dir / REPORT / "hidden" / f"{name}.json"
            found = read_json(cache)
            if not found or found.get("key") != key:
                from transformers.utils import logging as hf_logging

                from ..interpret import reconstruction_score
                from .hidden import common_validation
                hf_logging.disable_progress_bar()  # a "Loading weights" bar per model: noise
                if val is None:
                    val = common_validation(spec.pretrain, spec.hidden_sequences, spec.hidden_seed)
                if progress:
                    print(f"hidden-nucleotide accuracy of {name} ...", flush=True)
                found = {"key": key, **reconstruction_score(
                    folder, val, strategy=spec.hidden_strategy, seed=spec.hidden_seed,
                    max_length=int(spec.pretrain.get("max_length", 512)))}
                write_json_atomic(cache, found)
            n, acc = int(found["n_hidden"]), found["hidden_accuracy"]
            low = high = np.nan
            if n:  # Wilson 95% interval of a proportion of n hidden nucleotides
                from scipy.stats import binomtest
                ci = binomtest(int(round(acc * n)), n).proportion_ci(0.95, method="wilson")
                low, high = ci.low, ci.high
            row.update(common_mlm_loss=found["mlm_loss"], hidden_accuracy=acc,
                       hidden_low=low, hidden_high=high, n_hidden=n,
                       common_token_accuracy=found["masked_token_accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def study_tables(study_dir, hidden: bool = True, progress: bool = False) -> dict:
    """All tables of the report (DataFrames): results, cells, paired, pretraining, chance."""
    spec, plan = load_study_dir(study_dir)
    results = collect_results(study_dir, plan)
    chance = chance_table(spec, results, Path(study_dir) / REPORT / "chance.csv") \
        if len(results) else pd.DataFrame()
    cells = cell_summary(results, spec.metrics, spec.confidence) if len(results) else pd.DataFrame()
    cells = _with_chance(cells, results, chance, spec.metrics)
    paired = paired_table(results, spec.reference, spec.metrics, spec.bootstrap, spec.confidence) \
        if len(results) else pd.DataFrame()
    untrained = paired_table(results, NONE, spec.metrics, spec.bootstrap, spec.confidence) \
        if len(results) and NONE in set(results["strategy"]) else pd.DataFrame()
    pooled = pd.concat([pooled_differences(results, ref, spec.metrics, spec.bootstrap,
                                           spec.confidence)
                        for ref in dict.fromkeys([spec.reference, NONE])
                        if len(results) and ref in set(results["strategy"])] or [pd.DataFrame()],
                       ignore_index=True)
    pre = pretraining_table(study_dir, spec, plan, hidden=hidden, progress=progress)
    return {"spec": spec, "plan": plan, "results": results, "cells": cells, "paired": paired,
            "untrained": untrained, "pooled": pooled, "pretraining": pre, "chance": chance}


def write_report(study_dir: str | os.PathLike, hidden: bool = True, progress: bool = False) -> Path:
    """Write ``DIR/report/report.md``, the CSV tables and the HTML figures; return the
    report's path."""
    from .figures import forest_figure, metric_figure, pretraining_figure
    from .markdown import report_markdown
    study_dir = Path(study_dir)
    out = study_dir / REPORT
    out.mkdir(parents=True, exist_ok=True)
    tables = study_tables(study_dir, hidden=hidden, progress=progress)
    for name in ("results", "cells", "paired", "untrained", "pooled", "pretraining"):
        tables[name].to_csv(out / f"{name}.csv", index=False)
    figures = {}
    spec = tables["spec"]
    if len(tables["cells"]):
        for m in spec.metrics:
            figures[f"{m}_vs_shots.html"] = metric_figure(tables["cells"], m, spec.reference)
            if len(tables["paired"]):
                figures[f"paired_{m}.html"] = forest_figure(tables["paired"], m)
    figures["pretraining_curves.html"] = pretraining_figure(study_dir, tables["plan"])
    for name, fig in figures.items():
        fig.write_html(out / name, include_plotlyjs="directory", full_html=True)
    text = report_markdown(study_dir, tables, sorted(figures))
    from ..training.registry import write_text_atomic
    return write_text_atomic(out / "report.md", text)

