"""Few-shot data, shot drawing, settings, metrics and the fewshot/pretrain/runs commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.training.fewshot import (FewShotConfig, collapse_notes, paper_settings, run_cell,
                                           settings_group, summarise)
from genemask_viz.training.metrics import classification_metrics, softmax
from genemask_viz.training.tasks import demo_task, draw_shots, load_task, table_hash

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
def test_paper_settings_are_the_release_groups():
    """The release (README 5c): 10-shot settings for 10/50/100 shots, 1000-shot for 500/1000."""
    for k in (10, 50, 100, 200):
        s = paper_settings(k)
        assert (s.learning_rate, s.epochs, s.batch_size) == (1e-4, 20, 5), k
        assert settings_group(k) == "10-shot settings"
    for k in (250, 500, 1000, 5000):
        s = paper_settings(k)
        assert (s.learning_rate, s.epochs, s.batch_size) == (5e-5, 5, 15), k
        assert settings_group(k) == "1000-shot settings"
    s = paper_settings(50)
    assert (s.warmup_ratio, s.dropout, s.weight_decay) == (0.1, 0.1, 0.01)
    assert FewShotConfig(shots=[50]).settings(50).epochs == 20  # the default is the paper's
    assert FewShotConfig(shots=[50], settings_scheme="interpolate").settings(50).epochs == 15
    with pytest.raises(GeneMaskInputError, match="unknown fine-tuning settings 'best'"):
        FewShotConfig(settings_scheme="best")


def test_interpolated_settings_at_the_anchors_and_between():
    s10, s1000, s100 = (paper_settings(k, "interpolate") for k in (10, 1000, 100))
    assert (s10.learning_rate, s10.epochs, s10.batch_size) == (1e-4, 20, 5)
    assert s1000.learning_rate == pytest.approx(5e-5) and (s1000.epochs, s1000.batch_size) == (5, 15)
    assert s100.learning_rate == pytest.approx(math.sqrt(1e-4 * 5e-5), rel=1e-3)  # geometric midpoint
    assert (s100.epochs, s100.batch_size) == (13, 10)
    assert (s10.warmup_ratio, s10.dropout, s10.weight_decay) == (0.1, 0.1, 0.01)
    assert settings_group(100, "interpolate") == "interpolated"
    s50 = paper_settings(50, "interpolate")
    assert (s50.learning_rate, s50.epochs, s50.batch_size) == (7.85e-5, 15, 8)
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


def test_collapse_is_flagged_and_counted():
    # every row called class 1: accuracy = class share, MCC 0, and flagged
    m = classification_metrics([0, 1, 1, 1], [[0.4, 0.6], [0.3, 0.7], [0.45, 0.55], [0.2, 0.8]])
    assert m["collapsed"] and m["predicted_classes"] == 1
    assert m["accuracy"] == 0.75 and m["mcc"] == 0.0 and m["auroc"] == pytest.approx(2 / 3)
    m = classification_metrics([0, 1, 1, 1], [[0.6, 0.4], [0.3, 0.7], [0.45, 0.55], [0.2, 0.8]])
    assert not m["collapsed"] and m["predicted_classes"] == 2
    results = pd.DataFrame({"dataset": "d", "model": "m", "shots": [10, 10, 10, 50, 50],
                            "accuracy": 0.5, "macro_f1": 0.33, "mcc": 0.0, "auroc": 0.5,
                            "collapsed": [True, True, True, False, True]})
    s = summarise(results).set_index("shots")
    assert s.loc[10, "n_collapsed"] == 3 and s.loc[50, "n_collapsed"] == 1
    assert s.loc[10, "accuracy_std"] == 0.0  # looks "stable"; the flag says why it is not
    notes = collapse_notes({"settings": summarise(results).to_dict(orient="records")})
    assert len(notes) == 2 and "d k=10: 3 of 3 seed(s) collapsed" in notes[0]


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
def test_genemask_layouts_prom_core_splice_cohn(tmp_path, monkeypatch):
    monkeypatch.setenv("GENEMASK_CACHE", str(tmp_path))
    prom = load_task(FEWSHOT / "Prom-core")
    d = draw_shots(prom, 10, seed=0)
    assert len(d.train) == 20 and "own shot file 10/train.tsv" in d.train_source
    assert d.shot_file_role == "exact shot file"
    # the one test row whose sequence is in a shot file is dropped once, for every k
    assert len(d.test) == 5919
    assert "1 row(s) whose sequence is also in the training pool" in d.test_source
    splice = load_task(FEWSHOT / "Splice-40")
    d = draw_shots(splice, 10, seed=0)
    assert d.train["label"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    assert d.shot_file_role == "pool shot file (10x per class)"
    assert "a pool, not a fixed draw" in d.train_source
    assert len(d.test) == 3000 - 11
    from genemask_viz.cli.fewshot import protocol_lines
    from genemask_viz.training.fewshot import _shot_entry
    lines = protocol_lines({"finetune": {"10": _shot_entry(d, paper_settings(10), "10-shot settings")}})
    assert lines[0].startswith("k=10: 10-shot settings (lr 0.0001, 20 epochs, batch 5, warmup 12 of "
                               "120 steps") and "test 2989 rows" in lines[0]
    assert "holds 10x the shots per class (300 rows): a pool, not a fixed draw" in lines[1]
    cohn = load_task(FEWSHOT / "Cohn-enh")
    assert len(cohn.test) == 260 and len(cohn.pool) == 1040 and not cohn.shot_files
    assert cohn.test["label"].value_counts().to_dict() == {0: 131, 1: 129}  # stratified 20%
    saved = pd.read_csv(cohn.split_file, sep="\t")
    assert table_hash(saved) == table_hash(cohn.test) and str(tmp_path) in cohn.split_file
    assert "ships no test file" in cohn.test_note and cohn.split_file in cohn.test_note
    again = load_task(FEWSHOT / "Cohn-enh")  # drawn once: read back, identical
    assert again.split_file == cohn.split_file and table_hash(again.test) == table_hash(cohn.test)
    Path(cohn.split_file).write_text("sequence\tlabel\nACGTACGTACGT\t1\n")  # edited by hand
    with pytest.raises(GeneMaskInputError, match="saved held-out split does not match"):
        load_task(FEWSHOT / "Cohn-enh")


@needs_shared
def test_every_shot_count_and_seed_sees_the_same_test_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("GENEMASK_CACHE", str(tmp_path))
    for name, shots in (("Prom-core", (10, 50, 100, 500, 1000)), ("Splice-40", (10, 50, 100, 500)),
                        ("Cohn-enh", (10, 50, 100, 500))):
        task = load_task(FEWSHOT / name)
        hashes, capped = set(), set()
        for k in shots:
            for seed in (0, 1):
                d = draw_shots(task, k, seed)
                hashes.add(table_hash(d.test))
                assert not set(d.train["sequence"]) & set(d.test["sequence"])
                assert d.train["label"].value_counts().eq(k).all()
                capped.add(table_hash(draw_shots(task, k, seed, max_test=50).test))
        assert len(hashes) == 1 and len(capped) == 1, name
        assert hashes == {table_hash(task.test)}


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
    assert by_shots[4]["n_collapsed"] == int(results[results["shots"] == 4]["collapsed"].sum())
    assert json.loads((out / "status.json").read_text())["state"] == "done"
    assert "accuracy_mean" in capsys.readouterr().out
    # per shot count: the settings used and the fixed test set
    f4, f8 = summary["finetune"]["4"], summary["finetune"]["8"]
    assert summary["settings_scheme"] == "paper" and f4["settings"] == "custom"  # --epochs given
    assert (f4["learning_rate"], f4["epochs"], f4["batch_size"]) == (1e-4, 1, 5)
    assert (f4["steps"], f4["warmup_steps"], f8["steps"], f8["warmup_steps"]) == (2, 1, 4, 1)
    assert f4["test_rows"] == f8["test_rows"] == 40 and f4["test_hash"] == f8["test_hash"]
    assert set(results["test_hash"]) == {f4["test_hash"]} and set(results["steps"]) == {2, 4}


def test_run_cell_returns_per_seed_rows_with_the_paper_group():
    task = demo_task(n_per_class=60)
    rows = run_cell(task, 3, seeds=[0, 1], model="tiny", max_test=30, max_length=32)
    assert [r["seed"] for r in rows] == [0, 1] and all(r["shots"] == 3 for r in rows)
    for r in rows:
        assert (r["learning_rate"], r["epochs"], r["batch_size"], r["settings"]) == \
            (1e-4, 20, 5, "10-shot settings")
        assert r["steps"] == 2 * 20 and r["warmup_steps"] == 4 and r["n_train"] == 6
        assert r["n_test"] == 30 and 0 <= r["accuracy"] <= 1
        assert r["collapsed"] == (r["predicted_classes"] == 1)
    assert rows[0]["test_hash"] == rows[1]["test_hash"]


def test_cli_pretrain_then_fewshot_from_the_run_then_runs(cli, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENEMASK_RUNS", str(tmp_path / "runs"))
    run = tmp_path / "runs" / "pt"
    assert cli(["pretrain", "--corpus", "demo", "--strategy", "dnabert", "--model", "tiny",
                "--steps", "2", "--batch-size", "2", "--max-length", "64", "--n-val", "4",
                "--val-records", "chr2", "--out", str(run), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "validation MLM loss" in printed and "epochs); validation: 4 segments" in printed
    corpus = json.loads((run / "corpus.json").read_text())
    recs = {r["name"]: r for r in corpus["records"]}
    assert corpus["train_segments"] == 4 and corpus["validation"]["val_records"] == ["chr2"]
    assert recs["chr2"]["val_segments"] == 4 and recs["chr2"]["train_segments"] == 0
    assert corpus["nucleotides_seen"] > 4 * 6 and corpus["files"][0].endswith(".fa")
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
    assert cli(["pretrain", "--corpus", "demo", "--val-records", "chrX", "--out",
                str(tmp_path / "x")]) == 2  # refused before a run folder exists
    assert "validation record(s) chrX are not in the corpus" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert cli(["fewshot", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "y")]) == 2
    assert "neither a folder nor a file" in capsys.readouterr().err
