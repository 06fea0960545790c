"""Interactive plotly figures of a study (the report's HTML files and the Study page)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["metric_figure", "forest_figure", "pretraining_figure", "strategy_colours"]

_PALETTE = ["#4c4c4c", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
            "#e377c2", "#17becf", "#bcbd22"]


def strategy_colours(strategies) -> dict:
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(strategies)}


def metric_figure(cells: pd.DataFrame, metric: str, reference: str | None = None):
    """``metric`` against shots per task (one panel per task), one line per strategy with its
    interval as error bars; the chance level dotted; collapsed fine-tunes in the hover."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    tasks = list(dict.fromkeys(cells["task"]))
    strategies = list(dict.fromkeys(cells["strategy"]))
    colours = strategy_colours(strategies)
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=tasks, shared_yaxes=False)
    for col, task in enumerate(tasks, start=1):
        sub = cells[cells["task"] == task]
        for s in strategies:
            d = sub[sub["strategy"] == s].sort_values("shots")
            if not len(d):
                continue
            up = (d[f"{metric}_high"] - d[metric]).fillna(0)
            down = (d[metric] - d[f"{metric}_low"]).fillna(0)
            fig.add_trace(go.Scatter(
                x=d["shots"], y=d[metric], mode="lines+markers", name=s, legendgroup=s,
                showlegend=col == 1, line=dict(color=colours[s], width=3 if s == reference else 1.5),
                error_y=dict(type="data", array=up, arrayminus=down, visible=True),
                customdata=np.stack([d["n"], d["n_collapsed"]], axis=1),
                hovertemplate=f"{s}<br>shots %{{x}}<br>{metric} %{{y:.3f}}<br>n %{{customdata[0]}}, "
                              "collapsed %{customdata[1]}<extra></extra>"), row=1, col=col)
        if f"{metric}_chance" in sub:
            ch = sub.groupby("shots")[f"{metric}_chance"].mean()
            fig.add_trace(go.Scatter(x=ch.index, y=ch.values, mode="lines", name="chance",
                                     legendgroup="chance", showlegend=col == 1,
                                     line=dict(color="black", dash="dot", width=1)), row=1, col=col)
        fig.update_xaxes(type="log", title_text="shots per class", row=1, col=col)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(title=f"{metric} against shots (mean and 95% interval over pretraining "
                            "seeds x fine-tuning seeds)", height=420, template="plotly_white")
    return fig


def forest_figure(paired: pd.DataFrame, metric: str):
    """Paired differences (strategy - reference) with bootstrap intervals, one row per
    (task, shots, strategy); Holm-adjusted p in the hover."""
    import plotly.graph_objects as go
    d = paired[paired["metric"] == metric].copy()
    d["label"] = d["task"] + " | " + d["shots"].astype(str) + " shots | " + d["strategy"]
    d = d.iloc[::-1]
    colours = strategy_colours(list(dict.fromkeys(paired["strategy"])))
    fig = go.Figure(go.Scatter(
        x=d["diff"], y=d["label"], mode="markers",
        marker=dict(color=[colours[s] for s in d["strategy"]], size=9),
        error_x=dict(type="data", array=(d["diff_high"] - d["diff"]).fillna(0),
                     arrayminus=(d["diff"] - d["diff_low"]).fillna(0)),
        customdata=np.stack([d["n"], d["p_wilcoxon"], d["p_holm"], d["n_both_collapsed"]], axis=1),
        hovertemplate="%{y}<br>difference %{x:.3f}<br>n %{customdata[0]}, Wilcoxon p "
                      "%{customdata[1]:.3g}, Holm p %{customdata[2]:.3g}<br>both collapsed "
                      "%{customdata[3]}<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="black", dash="dot"))
    ref = paired["reference"].iloc[0] if len(paired) else "reference"
    fig.update_layout(title=f"{metric}: strategy minus {ref}, paired over (pretraining seed, "
                            "fine-tuning seed), 95% bootstrap interval",
                      xaxis_title=f"difference in {metric}", height=max(320, 26 * len(d) + 120),
                      template="plotly_white", margin=dict(l=260))
    return fig


def pretraining_curves(study_dir, plan) -> pd.DataFrame:
    """Training loss (and validation loss where logged) per pretraining run and step."""
    from ..training.registry import read_metrics
    from .plan import run_dir
    frames = []
    for e in plan:
        if e["kind"] != "pretrain":
            continue
        m = read_metrics(run_dir(study_dir, e["name"]))
        if not len(m) or "step" not in m:
            continue
        cols = [c for c in ("step", "loss", "eval_loss") if c in m]
        frames.append(m[cols].assign(strategy=e["strategy"], pretrain_seed=e["pretrain_seed"],
                                     run=e["name"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["step", "loss", "strategy", "pretrain_seed", "run"])


def pretraining_figure(study_dir: str | Path, plan):
    """Training MLM loss against step, one line per pretraining run (each under its own
    masking, so levels differ between strategies by construction)."""
    import plotly.graph_objects as go
    curves = pretraining_curves(study_dir, plan)
    colours = strategy_colours(list(dict.fromkeys(e["strategy"] for e in plan)))
    fig = go.Figure()
    for run, d in curves.groupby("run", sort=False):
        d = d.dropna(subset=["loss"]) if "loss" in d else d.iloc[:0]
        s = d["strategy"].iloc[0] if len(d) else None
        if not len(d):
            continue
        fig.add_trace(go.Scatter(x=d["step"], y=d["loss"], mode="lines", name=run,
                                 legendgroup=s, line=dict(color=colours[s])))
    fig.update_layout(title="Pretraining: training MLM loss (each run under its own masking)",
                      xaxis_title="step", yaxis_title="loss", height=420, template="plotly_white")
    return fig
