"""Statistics of a study: intervals per cell, paired differences against a reference, Holm.

Definitions (n = number of units; a unit is one (pretraining seed, fine-tuning seed) pair,
the fine-tuning seed also choosing the shot draw):

- **Cell mean and interval** (task, shots, strategy): the mean of the metric over the n
  units and the Student-t interval ``mean +- t_{(1+c)/2, n-1} * sd / sqrt(n)`` (sd with
  ddof=1; c = 0.95). With n = 1 there is no interval (NaN).
- **Paired difference** (strategy minus reference, same task and shots): d_i = x_i - r_i
  over the units both have. Mean of d, a percentile bootstrap interval of the mean (B
  resamples of the n units with replacement, seeded: the (1-c)/2 and (1+c)/2 quantiles of
  the B resampled means), and the **Wilcoxon signed-rank test** (two-sided; zero
  differences dropped, "wilcox"; exact null distribution for n <= 50 without ties, as
  scipy chooses) as the test. Wilcoxon, not the paired t-test, because collapsed
  fine-tunes make the differences far from normal (a mass at one value); the paired t
  p-value is reported beside it. All differences zero: p = 1.
- **Holm** (step-down) across all cells of a metric: with p sorted ascending
  p_(1) <= ... <= p_(m), adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
  NaN p-values (n < 2) are left out of m and stay NaN.
- **Chance**: what a model predicting the test set's most common class for every row
  scores (accuracy = that class's share q, macro-F1 = 2q / ((1 + q) C) for C classes,
  MCC 0, AUROC 0.5). A collapsed fine-tune (one class predicted for every row) scores its
  class's share: this at best, less when it picked a minority class.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["mean_interval", "bootstrap_mean_interval", "paired_difference", "holm",
           "min_wilcoxon_p", "cell_summary", "paired_table", "pooled_differences", "chance_levels", "UNIT"]

UNIT = ["pretrain_seed", "seed"]   # the matched unit of a paired comparison
CELL = ["task", "shots", "strategy"]


def mean_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean; NaN bounds for fewer than 2 values."""
    from scipy import stats
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size < 2:
        return (mean, math.nan, math.nan)
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return (mean, mean - half, mean + half)


def bootstrap_mean_interval(values, n_boot: int = 10_000, confidence: float = 0.95,
                            seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(int(n_boot), x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return (float(lo), float(hi))


def paired_difference(x, ref, n_boot: int = 10_000, confidence: float = 0.95,
                      seed: int = 0) -> dict:
    """Paired comparison of ``x`` with ``ref`` (same units, same order): see module doc."""
    from scipy import stats
    x, ref = np.asarray(x, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if x.shape != ref.shape:
        raise ValueError(f"paired values must have the same shape, got {x.shape} and {ref.shape}")
    d = x - ref
    out = {"n": int(d.size), "diff": float(d.mean()) if d.size else math.nan,
           "diff_low": math.nan, "diff_high": math.nan, "p_wilcoxon": math.nan,
           "p_ttest": math.nan}
    if d.size < 2:
        return out
    out["diff_low"], out["diff_high"] = bootstrap_mean_interval(d, n_boot, confidence, seed)
    if np.all(d == 0):
        out["p_wilcoxon"] = out["p_ttest"] = 1.0
        return out
    out["p_wilcoxon"] = float(stats.wilcoxon(d, zero_method="wilcox",
                                             alternative="two-sided").pvalue)
    out["p_ttest"] = float(stats.ttest_rel(x, ref).pvalue) if d.std(ddof=1) > 0 else (
        0.0 if d.mean() != 0 else 1.0)
    return out


def min_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give on ``n``
    non-zero differences: every difference of one sign, probability ``2 / 2**n`` (capped at 1).

    With ``n`` units and Holm over ``m`` tests, no test can fall below ``m * min_wilcoxon_p(n)``.
    """
    return 1.0 if n < 1 else min(1.0, 2.0 / 2.0 ** int(n))


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values (same order as given; NaN stays NaN and is not counted)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def chance_levels(share_max: float, n_classes: int) -> dict:
    """Scores of always predicting the most common test class (share ``share_max``)."""
    q = float(share_max)
    return {"accuracy": q, "macro_f1": 2 * q / ((1 + q) * n_classes), "mcc": 0.0, "auroc": 0.5}


def cell_summary(results: pd.DataFrame, metrics, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (task, shots, strategy): n units, n collapsed, and per metric its mean,
    interval and sd. ``results`` has CELL + UNIT columns, the metrics and ``collapsed``."""
    rows = []
    for key, group in results.groupby(CELL, sort=False):
        row = dict(zip(CELL, key))
        row["n"] = len(group)
        row["n_collapsed"] = int(group["collapsed"].astype(bool).sum()) if "collapsed" in group else 0
        for m in metrics:
            mean, lo, hi = mean_interval(group[m], confidence)
            row.update({m: mean, f"{m}_low": lo, f"{m}_high": hi,
                        f"{m}_sd": float(group[m].std(ddof=1)) if len(group) > 1 else math.nan})
        rows.append(row)
    return pd.DataFrame(rows)


def paired_table(results: pd.DataFrame, reference: str, metrics, n_boot: int = 10_000,
                 confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Every strategy against ``reference`` in every (task, shots): one row per (task, shots,
    strategy, metric) with the paired difference, its bootstrap interval, Wilcoxon and t
    p-values, Holm-adjusted Wilcoxon p (across all rows of the metric) and how many units
    had both fine-tunes collapsed."""
    rows = []
    for (task, shots), group in results.groupby(["task", "shots"], sort=False):
        ref = group[group["strategy"] == reference].set_index(UNIT)
        for strategy in group["strategy"].unique():
            if strategy == reference:
                continue
            other = group[group["strategy"] == strategy].set_index(UNIT)
            units = other.index.intersection(ref.index).sort_values()
            both = (other.loc[units, "collapsed"].astype(bool).to_numpy()
                    & ref.loc[units, "collapsed"].astype(bool).to_numpy()) \
                if "collapsed" in group else np.zeros(len(units), bool)
            for m in metrics:
                res = paired_difference(other.loc[units, m], ref.loc[units, m], n_boot,
                                        confidence, seed)
                rows.append({"task": task, "shots": shots, "strategy": strategy,
                             "reference": reference, "metric": m, **res,
                             "n_both_collapsed": int(both.sum())})
    return _holm_by_metric(pd.DataFrame(rows))


def pooled_differences(results: pd.DataFrame, reference: str, metrics, n_boot: int = 10_000,
                       confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Each strategy against ``reference`` over the whole study: for every unit, the mean of
    its paired differences over all (task, shots) cells both have; then mean, bootstrap
    interval and Wilcoxon p over the units (one test per strategy and metric, Holm across
    the strategies of a metric)."""
    rows = []
    for strategy in results["strategy"].unique():
        if strategy == reference:
            continue
        keys = ["task", "shots", *UNIT]
        a = results[results["strategy"] == strategy].set_index(keys)
        b = results[results["strategy"] == reference].set_index(keys)
        common = a.index.intersection(b.index)
        if not len(common):
            continue
        for m in metrics:
            d = (a.loc[common, m].astype(float) - b.loc[common, m].astype(float)).groupby(
                level=UNIT).mean()
            res = paired_difference(d.to_numpy(), np.zeros(len(d)), n_boot, confidence, seed)
            rows.append({"strategy": strategy, "reference": reference, "metric": m, **res,
                         "cells": int(len(common) // max(len(d), 1))})
    return _holm_by_metric(pd.DataFrame(rows))


def _holm_by_metric(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``p_holm``: the Wilcoxon p-values Holm-adjusted within each metric."""
    if len(table):
        table["p_holm"] = np.nan
        for m in table["metric"].unique():
            sel = table["metric"] == m
            table.loc[sel, "p_holm"] = holm(table.loc[sel, "p_wilcoxon"].to_numpy())
    return table
