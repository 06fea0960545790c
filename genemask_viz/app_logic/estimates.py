"""What to expect from a lab run: its duration from measured step rates, and whether a
result is distinguishable from chance.

Durations come, in this order, from (1) the finished runs in the runs folder (their own
``metrics.jsonl`` / ``results.csv`` timings, same model, scaled by sequences per step),
else (2) :data:`DEFAULT_RATES`, measured once on a 2-core CPU (see its comment). The
source is always reported with the estimate, so a user can tell a measurement from a
guess. Nothing here trains.

Chance: a few-shot setting is *indistinguishable from chance* when the 95 % t-interval
of its mean AUROC over seeds contains 0.5, or when every seed's model collapsed to one
class (the ``collapsed`` column of ``results.csv``, when present).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

#: seconds per training sequence (one sequence of a step) when no finished run gives a
#: measurement, on a 2-core CPU in fp32 (a GPU is far faster). Pretraining: the fast path
#: on an idle 2-core VM in fp32, 16 sequences of the spec's lengths per step
#: (``python bench/pretrain_throughput.py --steps 30``, docs/BENCHMARKS.md issue 11: tiny
#: 0.085-0.099 s/step, LOGO 0.64-0.69 s/step; LOGO in bf16 on a CPU with AMX: 0.42 s/step). The
#: others: one short run each on a heavily loaded 2-core machine
#: divided by its 2.5x slow-down: few-shot fine-tuning on the 70-nt demo task (per sequence
#: and epoch) tiny 0.033, LOGO 1.9; test prediction tiny 0.008, LOGO 0.28. Replaced by the
#: runs' own rates once any exist.
DEFAULT_RATES = {
    ("pretrain", "tiny"): 0.0058, ("pretrain", "logo"): 0.042,
    ("fewshot", "tiny"): 0.013, ("fewshot", "logo"): 0.76,
    ("predict", "tiny"): 0.003, ("predict", "logo"): 0.11,
}
#: fixed cost of a pretraining run before its first step (imports, corpus, PMI table, model)
DEFAULT_PRETRAIN_SETUP_S = 25.0
#: fixed cost of a few-shot run besides fine-tuning and prediction (worker start, data, model)
DEFAULT_FEWSHOT_SETUP_S = 20.0


def _model_kind(model) -> str:
    """``tiny``/``logo`` for presets; a checkpoint or run folder counts by its width."""
    text = str(model)
    if text in ("tiny", "logo"):
        return text
    import json
    for cfg in (Path(text) / "model" / "config.json", Path(text) / "config.json"):
        try:
            hidden = json.loads(cfg.read_text()).get("hidden_size")
        except (OSError, ValueError, AttributeError):
            continue
        if hidden:
            return "tiny" if int(hidden) <= 128 else "logo"
    return "logo"


def pretrain_rate(root: str | os.PathLike | None, model: str) -> tuple[float, float, str]:
    """``(seconds per sequence, setup seconds, source)`` for pretraining ``model``.

    Measured from the finished or running pretraining runs of ``root`` with that model:
    the slope of ``elapsed`` against ``step`` in ``metrics.jsonl`` divided by the run's
    sequences per step; setup is the run's wall time before its first step."""
    from .labs import run_overview
    from ..training.registry import read_json, read_metrics
    runs = run_overview(root, "pretrain")
    per_seq, setups, used = [], [], []
    for row in runs.itertuples() if len(runs) else ():
        if row.state not in ("done", "running") or _model_kind(row.model) != model:
            continue
        m = read_metrics(row.path)
        if not len(m) or "elapsed" not in m or "step" not in m:
            continue
        if "loss" in m:  # training rows only: summary and evaluation rows add eval time
            m = m.dropna(subset=["loss"])
        m = m.dropna(subset=["elapsed", "step"])
        m = m[m["step"] > 0]
        if len(m) < 2 or m["step"].iloc[-1] <= m["step"].iloc[0]:
            continue
        params = (read_json(Path(row.path) / "config.json", default={}) or {}).get("params", {})
        seqs = int(params.get("batch_size", 16)) * int(params.get("grad_accum", 1))
        slope = (m["elapsed"].iloc[-1] - m["elapsed"].iloc[0]) / (m["step"].iloc[-1] - m["step"].iloc[0])
        per_seq.append(slope / seqs)
        status = read_json(Path(row.path) / "status.json", default={}) or {}
        total = _seconds_between(status.get("started"), status.get("finished"))
        if row.state == "done" and total is not None:
            setups.append(max(0.0, total - float(m["elapsed"].iloc[-1])))
        used.append(row.id)
        if len(used) == 3:
            break
    if not per_seq:
        return (DEFAULT_RATES[("pretrain", model)], DEFAULT_PRETRAIN_SETUP_S,
                "no finished run to measure yet: typical figures for a 2-core CPU")
    setup = float(np.median(setups)) if setups else DEFAULT_PRETRAIN_SETUP_S
    return float(np.median(per_seq)), setup, "measured from run(s) " + ", ".join(used)


def _seconds_between(a, b) -> float | None:
    import datetime as dt
    try:
        return (dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds()
    except (TypeError, ValueError):
        return None


def pretrain_estimate(root, model: str, steps: int, batch_size: int, n_runs: int,
                      max_concurrent: int = 1) -> dict:
    """Expected wall time of ``n_runs`` pretraining runs of ``steps`` x ``batch_size``.

    Runs beyond ``max_concurrent`` wait in the queue, so the total is the per-run time
    times ``ceil(n_runs / max_concurrent)``. Returns ``{"per_run_s", "total_s",
    "seconds_per_step", "source", "text"}``."""
    from .labs import _duration
    kind = _model_kind(model)
    per_seq, setup, source = pretrain_rate(root, kind)
    per_step = per_seq * int(batch_size)
    per_run = setup + per_step * int(steps)
    waves = math.ceil(max(1, n_runs) / max(1, max_concurrent))
    total = per_run * waves
    text = (f"Expected time: about {_duration(per_run)} per run ({per_step:.2f} s per step of "
            f"{int(batch_size)} sequences)" + (f", {_duration(total)} for all {n_runs} runs one after "
                                              "the other" if waves > 1 else "") + f"; {source}.")
    return {"per_run_s": per_run, "total_s": total, "seconds_per_step": per_step,
            "source": source, "text": text}


def fewshot_rate(root: str | os.PathLike | None, model: str) -> tuple[float, float, float, str]:
    """``(seconds per training sequence, seconds per test sequence, setup seconds, source)``
    for fine-tuning ``model``, from the ``results.csv`` timings of the few-shot runs in
    ``root`` (a training sequence counts once per epoch); setup is a finished run's wall
    time minus its training and prediction time."""
    from .labs import fewshot_results, run_overview
    from ..training.registry import read_json
    runs = run_overview(root, "fewshot")
    train, test, setups, used = [], [], [], []
    for row in runs.itertuples() if len(runs) else ():
        cfg_model = _run_param(row.path, "model")
        if cfg_model is None or _model_kind(cfg_model) != model:
            continue
        res = fewshot_results([row.path])
        need = {"train_s", "eval_s", "n_train", "n_test", "epochs"}
        if not len(res) or not need <= set(res.columns):
            continue
        seen = (res["n_train"] * res["epochs"]).sum()
        if seen > 0 and res["n_test"].sum() > 0:
            train.append(float(res["train_s"].sum() / seen))
            test.append(float(res["eval_s"].sum() / res["n_test"].sum()))
            status = read_json(Path(row.path) / "status.json", default={}) or {}
            wall = _seconds_between(status.get("started"), status.get("finished"))
            if row.state == "done" and wall is not None:
                setups.append(max(0.0, wall - float(res["train_s"].sum() + res["eval_s"].sum())))
            used.append(row.id)
        if len(used) == 3:
            break
    if not train:
        return (DEFAULT_RATES[("fewshot", model)], DEFAULT_RATES[("predict", model)],
                DEFAULT_FEWSHOT_SETUP_S,
                "no finished few-shot run to measure yet: typical figures for a 2-core CPU")
    setup = float(np.median(setups)) if setups else DEFAULT_FEWSHOT_SETUP_S
    return (float(np.median(train)), float(np.median(test)), setup,
            "measured from run(s) " + ", ".join(used))


def _run_param(path, name):
    from ..training.registry import read_json
    return ((read_json(Path(path) / "config.json", default={}) or {}).get("params", {})).get(name)


def fewshot_estimate(root, model: str, shots: list[int], seeds: int, max_test: int | None,
                     n_classes: int = 2, n_test: int | None = None) -> dict:
    """Expected wall time of a few-shot run: setup, then for every shot count and seed,
    fine-tuning on ``shots x n_classes`` sequences for the setting's epochs and predicting
    the test set (``min(max_test, n_test)``; 400 when unknown)."""
    from ..training.fewshot import FewShotConfig
    from .labs import _duration
    kind = _model_kind(model)
    per_train, per_test, setup, source = fewshot_rate(root, kind)
    cfg = FewShotConfig(shots=list(shots), seeds=int(seeds))
    given = [int(x) for x in (max_test, n_test) if x]
    test_rows = min(given) if given else 400
    total = setup
    for k in shots:
        epochs = cfg.settings(int(k)).epochs
        total += int(seeds) * (int(k) * n_classes * epochs * per_train + test_rows * per_test)
    text = (f"Expected time: about {_duration(total)} for {len(shots) * int(seeds)} fine-tuning(s) "
            f"({len(shots)} shot count(s) x {int(seeds)} seed(s)); {source}.")
    return {"total_s": total, "source": source, "text": text}


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the t-interval of the mean of ``values`` (NaN bounds for n < 2)."""
    x = np.asarray(pd.Series(values, dtype=float).dropna(), float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    from scipy import stats
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def chance_verdicts(results: pd.DataFrame, group: str = "line") -> pd.DataFrame:
    """One row per (``group``, shots): AUROC mean and 95 % interval over seeds, collapsed
    seeds, and ``verdict``: ``chance`` (interval contains 0.5, or every seed collapsed),
    ``above chance`` / ``below chance``, or ``unknown`` (one seed: no interval)."""
    rows = []
    keys = [c for c in (group, "shots") if c in results]
    if "auroc" not in results or not keys:
        return pd.DataFrame(columns=keys + ["n_seeds", "auroc_mean", "auroc_low", "auroc_high",
                                            "collapsed", "verdict"])
    for key, g in results.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        mean, low, high = t_interval(g["auroc"])
        collapsed = int(g["collapsed"].astype(bool).sum()) if "collapsed" in g else 0
        if len(g) and collapsed == len(g):
            verdict = "chance"
        elif math.isnan(low):
            verdict = "unknown"
        elif low <= 0.5 <= high:
            verdict = "chance"
        else:
            verdict = "above chance" if low > 0.5 else "below chance"
        rows.append({**dict(zip(keys, key)), "n_seeds": len(g), "auroc_mean": mean,
                     "auroc_low": low, "auroc_high": high, "collapsed": collapsed,
                     "verdict": verdict})
    return pd.DataFrame(rows)


def chance_message(verdicts: pd.DataFrame, group: str = "line") -> str | None:
    """A plain sentence naming the settings indistinguishable from chance (None if none)."""
    if not len(verdicts):
        return None
    bad = verdicts[verdicts["verdict"] == "chance"]
    unknown = verdicts[verdicts["verdict"] == "unknown"]
    if not len(bad):
        if not len(unknown):
            return None
        names = sorted({str(getattr(r, group, "")) for r in unknown.itertuples()})
        return (f"Only one seed for {', '.join(names)}: with no spread between seeds there is no "
                "interval, so these results cannot be told apart from chance. Use 3 or more seeds.")
    parts = []
    for row in bad.itertuples():
        label = getattr(row, group, None)
        where = f"{label}, {row.shots} shots" if label is not None else f"{row.shots} shots"
        if row.collapsed == row.n_seeds:
            parts.append(f"{where} (every seed's model predicts one class only)")
        else:
            parts.append(f"{where} (AUROC {row.auroc_mean:.2f}, 95% interval "
                         f"{row.auroc_low:.2f} to {row.auroc_high:.2f} contains 0.5)")
    return ("Indistinguishable from chance: " + "; ".join(parts) + ". A model this small or "
            "this briefly pretrained often learns nothing usable; more pretraining steps or shots, "
            "or a larger model, are needed before differences between strategies mean anything.")


def pretrain_verdict(eval_loss, eval_accuracy, k: int = 6) -> str | None:
    """Plain words on a pretraining run's held-out result against guessing: uniform guessing
    over the 4^k k-mers has loss ln(4^k) and accuracy 1/4^k."""
    if eval_loss is None or eval_loss != eval_loss:
        return None
    uniform = math.log(4 ** k)
    acc = "" if eval_accuracy is None or eval_accuracy != eval_accuracy else \
        f", accuracy {100 * eval_accuracy:.2f}% (guessing: {100 / 4 ** k:.3f}%)"
    if eval_loss > uniform - 0.1:
        return (f"Held-out loss {eval_loss:.2f} is no better than guessing uniformly among the "
                f"{4 ** k} {k}-mers (ln {4 ** k} = {uniform:.2f}){acc}: the model has not learned yet.")
    return (f"Held-out loss {eval_loss:.2f} against {uniform:.2f} for uniform guessing{acc}. Part of "
            f"any early drop is just learning which {k}-mers are common, not sequence grammar.")


def results_table(lines: pd.DataFrame, verdicts: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per line and shot count: seeds, the verdict against chance, each metric as
    ``mean +- sd`` (sd blank for one seed), the AUROC interval and collapsed seeds. The
    verdict comes first, so a narrow screen never hides it."""
    rows = []
    for (line, shots), g in lines.groupby(["line", "shots"], sort=False):
        v = verdicts[(verdicts["line"] == line) & (verdicts["shots"] == shots)] if len(verdicts) else verdicts
        row = {"line": line, "shots": shots, "seeds": len(g),
               "vs chance (AUROC)": v["verdict"].iloc[0] if len(v) else ""}
        for m in metrics:
            if m in g:
                x = g[m].astype(float)
                row[m] = f"{x.mean():.3f}" + (f" ± {x.std(ddof=1):.3f}" if len(x) > 1 else "")
        if len(v) and not math.isnan(v["auroc_low"].iloc[0]):
            row["AUROC 95% interval"] = f"{v['auroc_low'].iloc[0]:.3f} to {v['auroc_high'].iloc[0]:.3f}"
        else:
            row["AUROC 95% interval"] = "needs 2+ seeds"
        if "collapsed" in g:
            row["collapsed seeds"] = int(g["collapsed"].astype(bool).sum())
        rows.append(row)
    return pd.DataFrame(rows)
