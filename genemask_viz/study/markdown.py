"""The text of ``report.md`` from a study's tables (see :mod:`.report`)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .plan import run_dir
from .stats import min_wilcoxon_p
from .spec import NONE

__all__ = ["report_markdown", "compute_times", "fmt"]


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    try:
        if np.isnan(float(x)):
            return "-"
    except (TypeError, ValueError):
        return str(x)
    return f"{float(x):.{digits}f}"


def _p(x) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    return f"{x:.3g}"


def _table(frame: pd.DataFrame) -> str:
    if not len(frame):
        return "_(none yet)_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def compute_times(study_dir, plan) -> dict:
    """Wall time (first run started to last run finished) and summed run times, in seconds."""
    starts, ends, pre, fine = [], [], 0.0, 0.0
    for e in plan:
        d = run_dir(study_dir, e["name"])
        try:
            st = json.loads((d / "status.json").read_text())
        except FileNotFoundError:
            continue
        if st.get("started"):
            starts.append(_dt.datetime.fromisoformat(st["started"]))
        if st.get("finished") and st.get("state") == "done":
            ends.append(_dt.datetime.fromisoformat(st["finished"]))
        if e["kind"] == "pretrain" and (d / "eval.json").exists():
            pre += float(json.loads((d / "eval.json").read_text()).get("train_runtime") or 0)
        if e["kind"] == "fewshot" and (d / "results.csv").exists():
            r = pd.read_csv(d / "results.csv")
            fine += float(r.get("train_s", pd.Series(dtype=float)).sum()
                          + r.get("eval_s", pd.Series(dtype=float)).sum())
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    return {"wall_s": wall, "pretrain_s": pre, "finetune_s": fine,
            "first_start": min(starts).isoformat() if starts else None,
            "last_finish": max(ends).isoformat() if ends else None}


def _cell_text(row, m) -> str:
    if row["n_collapsed"] == row["n"]:  # identical collapsed runs: sd 0 is no stability
        return f"{fmt(row[m])} (all {int(row['n'])} collapsed)"
    text = f"{fmt(row[m])} [{fmt(row[f'{m}_low'])}, {fmt(row[f'{m}_high'])}]"
    if row["n_collapsed"]:
        text += f" ({int(row['n_collapsed'])}/{int(row['n'])} collapsed)"
    return text


def _cells_section(cells: pd.DataFrame, metric: str, strategies) -> str:
    out = []
    for task, sub in cells.groupby("task", sort=False):
        shots = sorted(sub["shots"].unique())
        rows = []
        for s in strategies:
            d = sub[sub["strategy"] == s].set_index("shots")
            if len(d):
                rows.append({"strategy": s, **{f"{k} shots": _cell_text(d.loc[k], metric)
                                               if k in d.index else "-" for k in shots}})
        chance = sub.groupby("shots")[f"{metric}_chance"].mean() if f"{metric}_chance" in sub else {}
        rows.append({"strategy": "_chance_", **{f"{k} shots": fmt(chance.get(k)) for k in shots}})
        out.append(f"**{task}**\n\n" + _table(pd.DataFrame(rows)))
    return "\n".join(out)


def _paired_rows(paired: pd.DataFrame, metric: str) -> pd.DataFrame:
    d = paired[paired["metric"] == metric]
    return pd.DataFrame({
        "task": d["task"], "shots": d["shots"], "strategy": d["strategy"],
        "difference [95% CI]": ["no matched units yet" if n == 0 else
                                f"{fmt(a, 3)} [{fmt(b, 3)}, {fmt(c, 3)}]" if k < n else
                                "no information (both collapsed in every unit)"
                                for a, b, c, k, n in zip(d["diff"], d["diff_low"], d["diff_high"],
                                                         d["n_both_collapsed"], d["n"])],
        "n": d["n"], "Wilcoxon p": [_p(x) for x in d["p_wilcoxon"]],
        "Holm p": [_p(x) for x in d["p_holm"]], "both collapsed": d["n_both_collapsed"]})


def _pooled_rows(pooled: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "strategy": pooled["strategy"], "vs": pooled["reference"], "metric": pooled["metric"],
        "mean difference [95% CI]": [f"{fmt(a)} [{fmt(b)}, {fmt(c)}]" for a, b, c in
                                     zip(pooled["diff"], pooled["diff_low"], pooled["diff_high"])],
        "units": pooled["n"], "cells": pooled["cells"],
        "Wilcoxon p": [_p(x) for x in pooled["p_wilcoxon"]],
        "Holm p": [_p(x) for x in pooled["p_holm"]]})


def _verdicts(paired: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    lines = []
    for (ref, m), d in paired.groupby(["reference", "metric"], sort=False):
        up = d[(d["p_holm"] < alpha) & (d["diff"] > 0)]
        down = d[(d["p_holm"] < alpha) & (d["diff"] < 0)]
        tested = int(d["p_wilcoxon"].notna().sum())
        floor = tested * min_wilcoxon_p(int(d["n"].max())) if tested else 1.0
        power = (f" With {int(d['n'].max())} units a cell's Wilcoxon p is at least "
                 f"{min_wilcoxon_p(int(d['n'].max())):.3g}, so after Holm over {tested} cells at least "
                 f"{min(1.0, floor):.3g}: no single cell can be significant at {alpha}; read the "
                 "pooled differences below." if floor >= alpha else "")
        lines.append(f"- {m}, against `{ref}`: {len(d)} cells; significantly higher after Holm "
                     f"in {len(up)}, lower in {len(down)}"
                     + (f" ({', '.join(up['strategy'] + '@' + up['task'] + '/' + up['shots'].astype(str))})"
                        if len(up) else "") + "." + power)
    return lines


def report_markdown(study_dir, tables: dict, figures: list[str]) -> str:
    spec, plan = tables["spec"], tables["plan"]
    results, cells, pre = tables["results"], tables["cells"], tables["pretraining"]
    states = [json.loads((run_dir(study_dir, e["name"]) / "status.json").read_text()).get("state")
              if (run_dir(study_dir, e["name"]) / "status.json").exists() else "pending" for e in plan]
    done = sum(s == "done" for s in states)
    times = compute_times(study_dir, plan)
    p = spec.pretrain
    per_step = int(p.get("batch_size", 16)) * int(p.get("grad_accum", 1))
    lines = [f"# Study `{spec.name}`", "", spec.description, "",
             f"{done} of {len(plan)} runs done"
             + ("" if done == len(plan) else " (**incomplete**: tables cover the runs done so far)")
             + f". Report written {_dt.datetime.now():%Y-%m-%d %H:%M}.", "",
             "## Setup", "",
             f"- Pretraining: model `{p.get('model', 'tiny')}`, corpus `{Path(str(p.get('corpus', 'demo'))).name}`, "
             f"{p.get('steps', 200)} steps x {per_step} sequences, max length {p.get('max_length', 512)}, "
             f"peak lr {p.get('learning_rate', 8e-4)}; pretraining seeds {spec.pretrain_seeds}.",
             f"- Strategies: {', '.join(f'`{s}`' for s in spec.strategies)} (`none` = the same "
             f"model untrained); reference `{spec.reference}`."
             + (f" Not available in this version: {spec.skipped_strategies}." if spec.skipped_strategies else ""),
             f"- Tasks: " + "; ".join(f"{t.name} ({Path(str(t.data or t.train)).name})" for t in spec.tasks) + ".",
             f"- Fine-tuning: shots {spec.shots} per class, {spec.finetune_seeds} fine-tuning seeds "
             f"(each seed also picks the shot draw), settings "
             + (", ".join(f"{k}={v}" for k, v in spec.finetune.items()) or "the paper's") + ".",
             f"- Units per cell: {len(spec.pretrain_seeds)} pretraining seeds x "
             f"{spec.finetune_seeds} fine-tuning seeds = {len(spec.pretrain_seeds) * spec.finetune_seeds}.",
             f"- Compute: wall {fmt(times['wall_s'] / 60, 1)} min ({times['first_start']} to "
             f"{times['last_finish']}); pretraining {fmt(times['pretrain_s'] / 60, 1)} min and "
             f"fine-tuning + testing {fmt(times['finetune_s'] / 60, 1)} min of run time.", ""]
    if len(results) and "learning_rate" in results:
        used = results.groupby(["task", "shots"])[["learning_rate", "epochs", "batch_size"]].first()
        lines += ["Fine-tuning settings used (from the runs' results.csv):", "",
                  _table(used.reset_index()), ""]
    lines += ["## Pretrained models", "",
              f"Own-masking columns are each run's validation under its own strategy (not "
              f"comparable across strategies). Common columns score every model on the same "
              f"{spec.hidden_sequences} held-out segments masked by `{spec.hidden_strategy}` "
              f"(seed {spec.hidden_seed}): MLM loss, and accuracy of reconstructing the **hidden** "
              "nucleotides (chance about 0.25-0.3; hidden_low/high: Wilson 95% interval).", ""]
    if len(pre):
        cols = [c for c in ("strategy", "pretrain_seed", "steps", "own_val_loss", "own_val_accuracy",
                            "common_mlm_loss", "common_token_accuracy", "hidden_accuracy",
                            "hidden_low", "hidden_high", "n_hidden")
                if c in pre]
        lines += [_table(pre[cols].map(lambda v: fmt(v) if isinstance(v, float) else v)), ""]
    for m in spec.metrics:
        lines += [f"## {m}: mean [95% interval] per task, strategy and shots", ""]
        lines += [_cells_section(cells, m, spec.strategies) if len(cells) else "_(no results yet)_", ""]
    for key, title in (("paired", f"against the reference `{spec.reference}`"),
                       ("untrained", "against the untrained model (`none`)")):
        paired = tables.get(key)
        if paired is None or not len(paired):
            continue
        lines += [f"## Paired differences {title}", "",
                  "Strategy minus reference over matched (pretraining seed, fine-tuning seed) units; "
                  "95% percentile bootstrap interval of the mean difference; two-sided Wilcoxon "
                  "signed-rank test; Holm across all cells of the metric.", ""]
        for m in spec.metrics:
            lines += [f"**{m}**", "", _table(_paired_rows(paired, m)), ""]
        lines += _verdicts(paired) + [""]
    pooled = tables.get("pooled")
    if pooled is not None and len(pooled):
        lines += ["## Over the whole study", "",
                  "Per unit, the mean paired difference over all (task, shots) cells; then the "
                  "mean, bootstrap interval and Wilcoxon test over units, Holm across strategies.",
                  "", _table(_pooled_rows(pooled)), ""]
    if len(results):
        coll = results.groupby(["task", "strategy"], sort=False)["collapsed"].agg(["sum", "count"])
        total = int(coll["sum"].sum())
        lines += ["## Collapsed fine-tunes", "",
                  f"{total} of {len(results)} fine-tunes predicted one class for every test row "
                  "(accuracy = that class's share, MCC 0). They are counted in the means above, "
                  "flagged per cell, and a cell whose runs all collapsed is no stable result: it "
                  "measures nothing about the pretrained model.", ""]
        if total:
            t = coll[coll["sum"] > 0].reset_index()
            t["collapsed"] = t["sum"].astype(int).astype(str) + "/" + t["count"].astype(str)
            lines += [_table(t[["task", "strategy", "collapsed"]]), ""]
    lines += ["## Figures", ""] + [f"- [{f}]({f})" for f in figures] + ["",
              "## Methods", "",
              "Cell intervals: Student-t interval of the mean over units. Paired differences: "
              f"percentile bootstrap ({spec.bootstrap} resamples of the units), Wilcoxon signed-rank "
              "test (zero differences dropped; all zero gives p = 1), Holm step-down correction. "
              "Chance: the score of predicting the test set's most common class for every row. "
              "Every table is recomputed from the runs' own results.csv / eval.json "
              f"(`genemask study report {Path(study_dir).name}`)."]
    return "\n".join(lines) + "\n"
