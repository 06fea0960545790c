"""Study statistics against scipy / numpy and hand-computed cases; study files; hidden accuracy."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.study.stats import (bootstrap_mean_interval, cell_summary, chance_levels, holm,
                                      mean_interval, paired_difference, paired_table,
                                      pooled_differences)


def test_mean_interval_is_scipy_t_interval():
    x = np.array([0.52, 0.61, 0.55, 0.49, 0.58])
    mean, lo, hi = mean_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean())
    assert (lo, hi) == pytest.approx(ref)
    assert math.isnan(mean_interval([0.7])[1])


def test_bootstrap_interval_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(3)
    d = rng.normal(0.05, 0.1, size=12)
    lo, hi = bootstrap_mean_interval(d, n_boot=20_000, seed=1)
    ref = stats.bootstrap((d,), np.mean, n_resamples=20_000, method="percentile",
                          confidence_level=0.95, random_state=np.random.default_rng(2))
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.01)
    assert bootstrap_mean_interval(np.full(5, 0.2)) == pytest.approx((0.2, 0.2))


def test_paired_difference_wilcoxon_and_t_match_scipy():
    x = np.array([0.60, 0.55, 0.71, 0.58, 0.66, 0.62])
    r = np.array([0.52, 0.56, 0.60, 0.50, 0.61, 0.49])
    out = paired_difference(x, r, n_boot=2000)
    assert out["n"] == 6 and out["diff"] == pytest.approx((x - r).mean())
    assert out["p_wilcoxon"] == pytest.approx(stats.wilcoxon(x - r).pvalue)
    # exact: one negative difference of rank 1 among 6 -> W- = 1, p = 2 * 2/64
    assert out["p_wilcoxon"] == pytest.approx(4 / 64)
    assert out["p_ttest"] == pytest.approx(stats.ttest_rel(x, r).pvalue)
    assert out["diff_low"] <= out["diff"] <= out["diff_high"]
    same = paired_difference([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert same["p_wilcoxon"] == 1.0 and same["diff"] == 0.0


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, np.nan, 0.20]
    # m = 4: sorted 0.01, 0.03, 0.04, 0.20 -> 0.04, 0.09, max(0.09, 0.08)=0.09, 0.20
    assert np.allclose(holm(p), [0.04, 0.09, 0.09, np.nan, 0.20], equal_nan=True)
    assert np.allclose(holm([0.5, 0.6]), [1.0, 1.0])


def test_chance_levels():
    c = chance_levels(0.6, 2)
    assert c["accuracy"] == 0.6 and c["mcc"] == 0.0 and c["auroc"] == 0.5
    # constant predictor of the majority class: F1 = 2 * 0.6 / 1.6 for it, 0 for the other
    assert c["macro_f1"] == pytest.approx((2 * 0.6 / 1.6) / 2)


def _hand_results():
    rows = []
    acc = {"dnabert": [0.50, 0.60, 0.55, 0.65], "genemask": [0.58, 0.61, 0.62, 0.70],
           "none": [0.50, 0.50, 0.50, 0.50]}
    for strategy, values in acc.items():
        for i, v in enumerate(values):
            rows.append({"task": "T", "shots": 10, "strategy": strategy, "pretrain_seed": i // 2,
                         "seed": i % 2, "accuracy": v, "mcc": 0.0 if strategy == "none" else v - 0.5,
                         "collapsed": strategy == "none"})
    return pd.DataFrame(rows)


def test_cell_summary_and_paired_table_by_hand():
    res = _hand_results()
    cells = cell_summary(res, ["accuracy"]).set_index("strategy")
    assert cells.loc["genemask", "accuracy"] == pytest.approx(np.mean([0.58, 0.61, 0.62, 0.70]))
    assert cells.loc["none", "n_collapsed"] == 4 and cells.loc["dnabert", "n_collapsed"] == 0
    paired = paired_table(res.sample(frac=1, random_state=0), "dnabert", ["accuracy"], n_boot=500)
    g = paired.set_index("strategy").loc["genemask"]
    d = np.array([0.08, 0.01, 0.07, 0.05])
    assert g["diff"] == pytest.approx(d.mean()) and g["n"] == 4
    assert g["p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert set(paired["p_holm"]) == set(holm(paired["p_wilcoxon"]))
    pooled = pooled_differences(res, "none", ["accuracy"], n_boot=500).set_index("strategy")
    assert pooled.loc["genemask", "diff"] == pytest.approx(np.mean([0.08, 0.11, 0.12, 0.20]))


def test_study_file_errors_name_the_problem(tmp_path):
    from genemask_viz.study.spec import load_study
    bad = tmp_path / "s.toml"
    bad.write_text('[pretrain]\nstrategies = ["none", "magic"]\n')
    with pytest.raises(GeneMaskInputError, match="magic"):
        load_study(bad)
    bad.write_text('[pretrain]\nstepz = 3\n')
    with pytest.raises(GeneMaskInputError, match="stepz"):
        load_study(bad)
    bad.write_text('[study]\nname = "x\n')
    with pytest.raises(GeneMaskInputError, match="line 2|line 1"):
        load_study(bad)
    bad.write_text('[pretrain]\nstrategies = ["none", "random"]\n[study]\nreference = "dnabert"\n')
    with pytest.raises(GeneMaskInputError, match="reference"):
        load_study(bad)
    ok = tmp_path / "ok.toml"
    ok.write_text('[pretrain]\nstrategies = ["none", "dnabert"]\noptional_strategies = '
                  '["dnabert", "not-yet-here"]\n[[task]]\nname = "d"\ndata = "demo"\n')
    spec, _ = load_study(ok)
    assert spec.strategies == ["none", "dnabert"] and spec.skipped_strategies == ["not-yet-here"]


def test_every_preset_parses_to_a_plan(tmp_path):
    from genemask_viz.study.plan import build_plan
    from genemask_viz.study.spec import PRESETS, load_study
    assert {"smoke", "laptop", "paper"} <= set(PRESETS)
    for name in PRESETS:
        try:
            spec, _ = load_study(name)
        except GeneMaskInputError as exc:
            if "not found" in str(exc):
                pytest.skip(f"shared benchmark data absent: {exc}")
            raise
        plan = build_plan(spec, tmp_path / name)
        n_pre = len(spec.trained_strategies) * len(spec.pretrain_seeds)
        assert sum(e["kind"] == "pretrain" for e in plan) == n_pre
        assert sum(e["kind"] == "fewshot" for e in plan) == \
            len(spec.strategies) * len(spec.pretrain_seeds) * len(spec.tasks)
        assert all(e["needs"] is None or e["needs"] in {p["name"] for p in plan} for e in plan)


def test_min_wilcoxon_p_and_the_report_says_when_no_cell_can_be_significant():
    from scipy import stats as sps

    from genemask_viz.study.markdown import _verdicts
    from genemask_viz.study.stats import min_wilcoxon_p
    for n in (5, 8, 10):
        d = np.arange(1, n + 1) / 100.0                      # every difference of one sign
        assert min_wilcoxon_p(n) == pytest.approx(sps.wilcoxon(d).pvalue)
    assert min_wilcoxon_p(10) == pytest.approx(0.001953125)

    def table(cells, n):
        return pd.DataFrame({"reference": "dnabert", "metric": "accuracy", "task": "T",
                             "shots": range(cells), "strategy": "genemask", "n": n,
                             "diff": 0.01, "p_wilcoxon": min_wilcoxon_p(n),
                             "p_holm": min(1.0, cells * min_wilcoxon_p(n))})
    many = _verdicts(table(36, 10))[0]       # 36 x 0.00195 = 0.07: no cell can reach 0.05
    assert "no single cell can be significant" in many and "0.0703" in many
    few = _verdicts(table(4, 10))[0]         # 4 x 0.00195 = 0.0078: it can
    assert "no single cell" not in few and "higher after Holm in 4" in few
