"""Few-shot data, shot drawing, settings, metrics and the fewshot/pretrain/runs commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.training.fewshot import FewShotConfig, paper_settings, summarise
from genemask_viz.training.metrics import classification_metrics, softmax
from genemask_viz.training.tasks import demo_task, draw_shots, load_task

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FEWSHOT = SHARED / "genemask" / "fewshot"
needs_shared = pytest.mark.skipif(not FEWSHOT.is_dir(),
                                  reason=f"shared few-shot data not found at {FEWSHOT}")


pytestmark = pytest.mark.usefixtures("one_thread")


def write_table(path: Path, rows) -> Path:
    path.write_text("sequence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in rows))
    return path


def random_rows(n: int, labels, seed=0, length=40):
    rng = np.random.default_rng(seed)
    return [("".join(rng.choice(list("ACGT"), length)), labels[i % len(labels)]) for i in range(n)]


# --- settings and metrics -------------------------------------------------------
def test_paper_settings_at_the_anchors_and_between():
    s10, s1000, s100 = paper_settings(10), paper_settings(1000), paper_settings(100)
    assert (s10.learning_rate, s10.epochs, s10.batch_size) == (1e-4, 20, 5)
    assert s1000.learning_rate == pytest.approx(5e-5) and (s1000.epochs, s1000.batch_size) == (5, 15)
    assert s100.learning_rate == pytest.approx(math.sqrt(1e-4 * 5e-5), rel=1e-3)  # geometric midpoint
    assert (s100.epochs, s100.batch_size) == (13, 10)
    assert (s10.warmup_ratio, s10.dropout, s10.weight_decay) == (0.1, 0.1, 0.01)
    cfg = FewShotConfig(shots=[10], learning_rate=3e-4, epochs=2)
    assert (cfg.settings(10).learning_rate, cfg.settings(10).epochs, cfg.settings(10).batch_size) == (3e-4, 2, 5)


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score
    rng = np.random.default_rng(1)
    for n_classes in (2, 3):
        y = rng.integers(0, n_classes, 300)
        logits = rng.normal(size=(300, n_classes)) + 1.5 * np.eye(n_classes)[y]
        p = softmax(logits)
        m = classification_metrics(y, p)
        assert m["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y))
        assert m["macro_f1"] == pytest.approx(f1_score(y, p.argmax(1), average="macro"))
        assert m["mcc"] == pytest.approx(matthews_corrcoef(y, p.argmax(1)))
        expected = roc_auc_score(y, p[:, 1]) if n_classes == 2 else roc_auc_score(y, p, multi_class="ovr")
        assert m["auroc"] == pytest.approx(expected)
        assert 0.6 < m["auroc"] <= 1.0
    # hand-computed: 3 of 4 right (a negative at p=0.6 is called positive), yet every
    # positive (0.7, 0.8) still ranks above every negative (0.1, 0.6): AUROC 1
    m = classification_metrics([0, 0, 1, 1], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    assert m["accuracy"] == 0.75 and m["auroc"] == 1.0
    assert m["mcc"] == pytest.approx(1 / math.sqrt(3))
    # one positive ranked below a negative: 3 of the 4 positive/negative pairs in order
    m = classification_metrics([0, 0, 1, 1], [[0.9, 0.1], [0.3, 0.7], [0.4, 0.6], [0.2, 0.8]])
    assert m["accuracy"] == 0.75 and m["auroc"] == 0.75


def test_auroc_is_nan_when_the_test_set_lacks_a_class():
    m = classification_metrics([1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
    assert math.isnan(m["auroc"]) and m["accuracy"] == pytest.approx(2 / 3)
    m = classification_metrics([0, 2, 2, 0], softmax(np.eye(3)[[0, 2, 1, 0]] * 3))
    assert math.isnan(m["auroc"]) and m["accuracy"] == 0.75


def test_summary_mean_and_std_per_setting():
    results = pd.DataFrame({"dataset": "d", "model": "m", "shots": [10, 10, 10, 50],
                            "accuracy": [0.5, 0.6, 0.7, 0.9], "macro_f1": 0.5, "mcc": 0.1,
                            "auroc": [0.6, 0.7, 0.8, 0.9]})
    s = summarise(results).set_index("shots")
    assert s.loc[10, "n_seeds"] == 3 and s.loc[10, "accuracy_mean"] == pytest.approx(0.6)
    assert s.loc[10, "accuracy_std"] == pytest.approx(0.1) and s.loc[50, "accuracy_std"] == 0.0


# --- data and drawing ------------------------------------------------------------
def test_single_file_split_and_draw_are_disjoint_and_balanced(tmp_path):
    path = write_table(tmp_path / "all.tsv", random_rows(120, [0, 1, 2]))
    task = load_task(path, test_fraction=0.25)
    assert task.classes == [0, 1, 2] and len(task.test) == 30 and len(task.pool) == 90
    draw = draw_shots(task, 5, seed=1)
    assert draw.train["label"].value_counts().to_dict() == {0: 5, 1: 5, 2: 5}
    assert not set(draw.train["sequence"]) & set(draw.test["sequence"])
    assert not draw_shots(task, 5, seed=2).train["sequence"].equals(draw.train["sequence"])
    assert draw_shots(task, 5, seed=1).train["sequence"].equals(draw.train["sequence"])


def test_bad_inputs_give_clear_errors(tmp_path):
    one = write_table(tmp_path / "one.tsv", random_rows(20, [1]))
    with pytest.raises(GeneMaskInputError, match="only one class"):
        load_task(train=one, test=one)
    task = load_task(write_table(tmp_path / "two.tsv", random_rows(40, [0, 1])))
    with pytest.raises(GeneMaskInputError, match="50 shots per class asked, but class 0 has only 16"):
        draw_shots(task, 50, seed=0)
    bad = tmp_path / "bad.tsv"
    bad.write_text("sequence\tlabel\nACGTACGTAC\t1\nACGTACGTTT\tpromoter\n")
    with pytest.raises(GeneMaskInputError, match="line 3.*'promoter' is not an integer"):
        load_task(bad)
    with pytest.raises(GeneMaskInputError, match="shots must be positive"):
        FewShotConfig(shots=[0])
    with pytest.raises(GeneMaskInputError, match="neither a folder nor a file"):
        load_task(tmp_path / "nope")


def test_test_labels_absent_from_the_pool_are_refused(tmp_path, cli, capsys):
    pool = write_table(tmp_path / "pool.tsv", random_rows(20, [0, 1]))
    test = write_table(tmp_path / "test.tsv", random_rows(9, [0, 1, 2], seed=1))
    with pytest.raises(GeneMaskInputError, match=r"test.tsv: test labels \[2\] \(3 row\(s\)\) do "
                                                 r"not occur in the training data \(classes \[0, 1\]\)"):
        load_task(train=pool, test=test)
    (tmp_path / "gm" / "4").mkdir(parents=True)  # GeneMask layout with its own test file
    write_table(tmp_path / "gm" / "4" / "train.tsv", random_rows(8, [0, 1], seed=2))
    write_table(tmp_path / "gm" / "test.tsv", random_rows(6, [1, 3], seed=3))
    with pytest.raises(GeneMaskInputError, match=r"gm/test.tsv: test labels \[3\]"):
        load_task(tmp_path / "gm")
    assert cli(["fewshot", "--train", str(pool), "--test", str(test), "--shots", "2", "--seeds", "1",
                "--epochs", "1", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{test}: test labels [2]" in capsys.readouterr().err


def test_finetune_overrides_are_checked_not_replaced(tmp_path, cli, capsys):
    zero = FewShotConfig(shots=[10], epochs=None, batch_size=None, learning_rate=None)
    assert (zero.settings(10).epochs, zero.settings(10).batch_size) == (20, 5)
    for kw, text in ((dict(epochs=-1), "epochs must be at least 1, got -1"),
                     (dict(epochs=0), "epochs must be at least 1, got 0"),
                     (dict(batch_size=0), "batch_size must be at least 1, got 0"),
                     (dict(learning_rate=0.0), "learning rate must be positive, got 0.0"),
                     (dict(learning_rate=-1e-4), "learning rate must be positive"),
                     (dict(max_test=-1), "max_test must be at least 1, got -1"),
                     (dict(test_fraction=1.0), "test_fraction must be between 0 and 1"),
                     (dict(test_fraction=0), "test_fraction must be between 0 and 1")):
        with pytest.raises(GeneMaskInputError, match=text):
            FewShotConfig(**kw)
    out = tmp_path / "out"
    for flags, text in ((["--epochs", "-1"], "--epochs: epochs must be at least 1"),
                        (["--batch-size", "0"], "--batch-size: batch_size must be at least 1"),
                        (["--lr", "0"], "--lr: learning rate must be positive"),
                        (["--max-test", "-1"], "--max-test: max_test must be at least 1")):
        assert cli(["fewshot", "--data", "demo", "--out", str(out), "--quiet", *flags]) == 2
        assert text in capsys.readouterr().err
    assert not out.exists()  # refused before any work


def test_demo_task_windows_hold_planted_motifs():
    from genemask_viz.sequences import demo_genome
    task = demo_task(n_per_class=100)
    assert task.classes == [0, 1] and len(task.pool) + len(task.test) == 200
    assert (task.pool["sequence"].str.len() == 70).all()
    sites = set(demo_genome().motifs["site"].str.upper())
    positives = task.pool[task.pool["label"] == 1]["sequence"]
    assert all(any(s in seq for s in sites) for seq in positives.head(20))


@needs_shared
def test_genemask_layouts_prom_core_splice_cohn():
    prom = load_task(FEWSHOT / "Prom-core")
    d = draw_shots(prom, 10, seed=0)
    assert len(d.train) == 20 and "own shot file 10/train.tsv" in d.train_source
    assert len(d.test) == 5920 - d.test_overlap_removed
    splice = load_task(FEWSHOT / "Splice-40")
    d = draw_shots(splice, 10, seed=0)
    assert d.train["label"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    assert "drawn with seed 0 from shot file 10/" in d.train_source and len(d.test) == 3000
    cohn = load_task(FEWSHOT / "Cohn-enh")
    assert cohn.test is None
    d = draw_shots(cohn, 10, seed=0)
    assert "ships no test file" in d.test_source
    assert not set(d.train["sequence"]) & set(d.test["sequence"])
    assert len(d.test) == len(cohn.pool) - 20


# --- the commands ----------------------------------------------------------------
@pytest.fixture
def cli():
    import genemask_viz.cli as cli_mod
    assert {"pretrain", "fewshot", "runs"} <= set(cli_mod.SUBCOMMANDS)
    return cli_mod.main


def test_cli_fewshot_on_demo_writes_results_and_summary(cli, tmp_path, capsys):
    out = tmp_path / "fs"
    code = cli(["fewshot", "--data", "demo", "--shots", "4,8", "--seeds", "2", "--model", "tiny",
                "--epochs", "1", "--max-test", "40", "--out", str(out), "--quiet"])
    assert code == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and set(results["shots"]) == {4, 8}
    assert (results["n_train"] == 2 * results["shots"]).all() and (results["n_test"] == 40).all()
    summary = json.loads((out / "summary.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"summary.json holds {c}"))
    by_shots = {row["shots"]: row for row in summary["settings"]}
    mean4 = results[results["shots"] == 4]["accuracy"].mean()
    assert by_shots[4]["accuracy_mean"] == pytest.approx(mean4) and by_shots[4]["n_seeds"] == 2
    assert json.loads((out / "status.json").read_text())["state"] == "done"
    assert "accuracy_mean" in capsys.readouterr().out


def test_cli_pretrain_then_fewshot_from_the_run_then_runs(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENEMASK_RUNS", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "pt"
    assert cli(["pretrain", "--corpus", "demo", "--strategy", "dnabert", "--model", "tiny",
                "--steps", "2", "--batch-size", "2", "--max-length", "64", "--n-val", "4",
                "--out", str(run), "--quiet"]) == 0
    assert "validation MLM loss" in capsys.readouterr().out
    out = tmp_path / "runs" / "fs"
    assert cli(["fewshot", "--data", "demo", "--shots", "3", "--seeds", "1", "--model", str(run),
                "--epochs", "1", "--max-test", "20", "--out", str(out), "--quiet"]) == 0
    assert pd.read_csv(out / "results.csv")["model"].iloc[0].endswith("model")
    capsys.readouterr()
    assert cli(["runs", "ls"]) == 0
    listing = capsys.readouterr().out
    assert "pt" in listing and "fs" in listing and "done" in listing
    assert cli(["runs", "show", "pt"]) == 0
    shown = capsys.readouterr().out
    assert "state: done" in shown and "step 2/2" in shown and "eval_loss" in shown
    with pytest.raises(SystemExit) as exc:
        cli(["pretrain", "--corpus", "demo", "--strategy", "bogus", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
    assert cli(["fewshot", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "y")]) == 2
    assert "neither a folder nor a file" in capsys.readouterr().err
