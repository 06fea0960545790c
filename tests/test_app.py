"""The Streamlit app: every page through streamlit.testing.v1.AppTest, and the logic behind it.

Pages are driven by widget keys; the numbers they show are checked against the library
computed here independently (same sequence, table and seed). The labs never train in
these tests: launching must leave a queued run in a temporary runs folder (a fake
running run holds the only slot), and finished runs are written by hand.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from genemask_viz.app_logic import (demo_window, draw_statistics, launch_run, mask_view,
                                    parse_pasted, read_upload, span_lengths)
from genemask_viz.app_logic.explorer import encode, summarise_draws
from genemask_viz.app_logic.inputs import hg38_ranking_path, fewshot_root
from genemask_viz.app_logic.pmi import filter_table, headline
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.masking import mask_batch, token_scores

REPO = Path(__file__).resolve().parents[1]
PAGE = {name: str(REPO / path) for name, path in {
    "home": "app.py", "explorer": "pages/1_Mask_Explorer.py", "pmi": "pages/2_PMI_k-mers_and_motifs.py",
    "pretrain": "pages/3_Pretraining_Lab.py", "fewshot": "pages/4_Few-shot_Lab.py"}.items()}
TIMEOUT = 120  # seconds per script run: the first run generates the demo genome on a loaded machine


# ---- shared fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def genome():
    from genemask_viz.sequences import demo_genome
    return demo_genome(seed=0)


@pytest.fixture(scope="module")
def table(genome):
    from genemask_viz.ngrams import compute_table
    return compute_table(genome.records, max_n=10, min_count=101)


def app(page: str) -> AppTest:
    return AppTest.from_file(PAGE[page], default_timeout=TIMEOUT)


def lab(page: str, runs_dir) -> AppTest:
    """A lab page run once with its runs folder set to ``runs_dir``."""
    at = app(page)
    at.session_state["lab_runs_dir"] = str(runs_dir)
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def frame(at: AppTest, column: str) -> pd.DataFrame:
    """The first table shown whose columns include ``column`` (dataframes carry no key)."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with a {column!r} column on the page")


def library_rates(sequence, strategy, table, k=6, seed=0, **params):
    ids, att = encode([sequence], k)
    kw = {}
    if strategy in ("genemask", "genemask-released"):
        kw["scores"] = token_scores(table, k)
    elif strategy == "pmi-span":
        kw["table"] = table
    res = mask_batch(ids, att, strategy, k=k, seed=seed, **kw, **params)
    return f"{100 * res.token_rate:.2f}%", f"{100 * res.hidden_rate:.2f}%"


def write_running_run(root: Path) -> Path:
    """A fake run that is 'running' in this (alive) test process: it holds the only slot."""
    from genemask_viz.training.registry import create_run, set_status
    run = create_run("pretrain", {"fake": True}, root=root, name="0-slot-holder")
    set_status(run, state="running", pid=os.getpid(), step=1, max_steps=10)
    return run


def write_finished_runs(root: Path) -> dict:
    """One finished pretraining run with losses and one finished few-shot run with results."""
    from genemask_viz.training.fewshot import FewShotConfig
    from genemask_viz.training.pretrain import PretrainConfig
    from genemask_viz.training.registry import (append_metrics, create_run, set_status,
                                                write_json_atomic)
    pre = create_run("pretrain", asdict(PretrainConfig(steps=20, strategy="genemask")), root=root,
                     name="1-pretrain-done")
    for step in range(2, 21, 2):
        append_metrics(pre, {"step": step, "loss": 8.3 - 0.1 * step, "lr": 1e-4, "elapsed": step / 10})
    append_metrics(pre, {"step": 20, "eval_loss": 6.5, "eval_accuracy": 0.031})
    write_json_atomic(pre / "eval.json", {"eval_loss": 6.5, "eval_accuracy": 0.031})
    set_status(pre, state="done", step=20, max_steps=20)
    few = create_run("fewshot", asdict(FewShotConfig(shots=[10, 50], seeds=2)), root=root,
                     name="2-fewshot-done")
    rows = [{"dataset": "demo", "model": "tiny", "shots": s, "seed": seed,
             "accuracy": 0.5 + 0.001 * s + 0.02 * seed, "macro_f1": 0.5, "mcc": 0.1 * seed,
             "auroc": 0.6} for s in (10, 50) for seed in (0, 1)]
    pd.DataFrame(rows).to_csv(few / "results.csv", index=False)
    set_status(few, state="done", step=8, max_steps=8)
    return {"pretrain": pre, "fewshot": few, "rows": pd.DataFrame(rows)}


# ---- app logic -------------------------------------------------------------------------------------
def test_parse_pasted_accepts_fasta_kmers_and_rejects_junk():
    assert parse_pasted(">x\nacgt acgt\n12 ACGTAA\n>y\nTTTT") == "ACGTACGTACGTAA"
    assert parse_pasted("ACGTAC CGTACG GTACGT") == "ACGTACGT"  # overlapping 6-mers decoded
    with pytest.raises(GeneMaskInputError, match="not nucleotide letters"):
        parse_pasted("ACGTXXACGT")
    with pytest.raises(GeneMaskInputError, match="at least 6"):
        parse_pasted("ACG")
    with pytest.raises(GeneMaskInputError, match="more than 100"):
        parse_pasted("A" * 101, max_nt=100)


def test_read_upload_caps_size_and_explains_bad_files():
    recs = read_upload("x.fa", b">one\nACGTACGTAC\n>two\nacgtnnacgt\n")
    assert recs == [("one", "ACGTACGTAC"), ("two", "ACGTNNACGT")]
    with pytest.raises(GeneMaskInputError, match="over the 0 MB limit"):
        read_upload("big.fa", b">a\n" + b"A" * 2000, max_bytes=1000)
    with pytest.raises(GeneMaskInputError) as err:
        read_upload("bad.fa", b">a\nACGT!!\n")
    assert "bad.fa" in str(err.value) and "Fix:" in str(err.value)


def test_demo_window_is_centred_on_a_planted_motif(genome):
    w = demo_window(genome, record=1, window=3, length=200)
    assert len(w.sequence) == 200 and w.record == "chr2"
    assert len(w.motifs) >= 1
    site = w.motifs.iloc[0]
    assert 0 <= site["start"] < site["end"] <= 200
    planted = w.sequence[site["start"]:site["end"]]
    assert planted == site["site"].upper()


def test_mask_view_matches_the_library_in_sequence_coordinates(genome, table):
    seq = demo_window(genome, 0, 0, 300).sequence
    view = mask_view(seq, "genemask", table, seed=5)
    ids, att = encode([seq])
    res = mask_batch(ids, att, "genemask", scores=token_scores(table, 6), seed=5)
    assert np.array_equal(view.token_mask, res.token_mask[0, 1:-1].numpy())
    assert np.array_equal(view.hidden, res.hidden_nt[0, 1:301].numpy())
    assert view.token_rate == pytest.approx(res.token_rate)
    # the chosen k-mer of each centre is the k-mer found at that position, with its table score
    scores = token_scores(table, 6)
    for row in view.chosen.itertuples():
        assert seq[row.pos:row.pos + 6] == row.kmer
        assert row.score == pytest.approx(scores[int(ids[0, row.pos + 1])])
    # an extended span hides the 6 nucleotides of its chosen k-mer
    for row in view.chosen[view.chosen["extended"]].itertuples():
        assert view.hidden[row.pos:row.pos + 6].all()


def test_span_lengths_and_draw_statistics(genome, table):
    assert span_lengths(np.array([[1, 1, 0, 1, 0, 1, 1, 1]], bool)).tolist() == [2, 1, 3]
    assert span_lengths(np.zeros((2, 5), bool)).size == 0
    seq = demo_window(genome, 0, 2, 515).sequence
    rates, runs = draw_statistics(seq, ["random", "dnabert"], table, n_draws=100, seed=0)
    assert len(rates) == 200
    # first draw of the batch equals a one-row draw with the same generator state
    g = torch.Generator().manual_seed(0)
    ids, att = encode([seq])
    ids, att = ids.expand(100, -1).contiguous(), att.expand(100, -1).contiguous()
    res = mask_batch(ids, att, "dnabert", generator=g)
    assert rates[rates.strategy == "dnabert"].token_rate.iloc[0] == pytest.approx(
        float(res.token_mask[0].sum()) / float(res.maskable[0].sum()))
    summary = summarise_draws(rates, runs).set_index("strategy")
    assert summary.loc["random", "masked tokens % (mean)"] == pytest.approx(15, abs=2)
    assert summary.loc["random", "hidden nt % (mean)"] < 1  # i.i.d. tokens almost never hide a base
    assert summary.loc["dnabert", "mean hidden run (nt)"] >= 1


def test_launch_queues_beyond_the_concurrency_limit(tmp_path):
    from genemask_viz.training import cancel_run, run_status
    write_running_run(tmp_path)
    run = launch_run("pretrain", dict(corpus="demo", strategy="dnabert", steps=5), root=tmp_path,
                     max_concurrent=1)
    # start_run writes "queued" itself: only a run still queued once its worker has had time
    # to take a free slot shows the limit (the slot holder is this process, "running")
    import time
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        assert run_status(run)["state"] == "queued", run_status(run)
        time.sleep(0.25)
    status = run_status(run)
    assert status["state"] == "queued" and status["message"] == "waiting for a free slot"
    from genemask_viz.training.registry import _pid_alive
    assert _pid_alive(status["pid"])  # the worker is alive: waiting for the slot, not crashed
    assert json.loads((run / "config.json").read_text())["params"]["strategy"] == "dnabert"
    with pytest.raises(GeneMaskInputError, match="unknown masking strategy"):
        launch_run("pretrain", dict(strategy="nope"), root=tmp_path)
    assert cancel_run(run, timeout_s=20)["state"] == "cancelled"


# ---- pages ------------------------------------------------------------------------------------------
def test_home_page_describes_genemask_data_and_device():
    from genemask_viz.app_logic import device_summary
    at = app("home").run()
    assert not at.exception
    assert at.title[0].value == "GeneMask explorer"
    assert [h.value for h in at.header] == ["What you can do here", "Data", "Training device"]
    dev = device_summary()
    shown = " ".join(x.value for x in list(at.info) + list(at.success))
    assert ("GPU" in shown) if dev["cuda"] else ("CPU" in shown)
    data_msgs = " ".join(x.value for x in list(at.info) + list(at.success))
    assert ("shared data folder" in data_msgs) == (hg38_ranking_path() is None and fewshot_root() is None)


def test_mask_explorer_shows_the_library_rates_for_each_seed_and_strategy(genome, table):
    at = app("explorer").run()
    assert not at.exception
    seq = demo_window(genome, 0, 0, 515).sequence
    assert (metric(at, "masked tokens"), metric(at, "hidden nucleotides")) == \
        library_rates(seq, "genemask", table, seed=0)
    at.number_input(key="mx_seed").set_value(7).run()
    assert (metric(at, "masked tokens"), metric(at, "hidden nucleotides")) == \
        library_rates(seq, "genemask", table, seed=7)
    at.selectbox(key="mx_strategy").select("dnabert").run()
    at.selectbox(key="mx_k").select(4).run()
    assert not at.exception
    assert metric(at, "masked tokens") == library_rates(seq, "dnabert", table, k=4, seed=7)[0]
    at.selectbox(key="mx_strategy").select("pmi-span").run()
    assert not at.exception and metric(at, "centres drawn") == "n/a"  # draws units, not centres
    assert metric(at, "masked tokens") == library_rates(seq, "pmi-span", table, k=4, seed=7)[0]
    # comparison and statistics sections render with the library's numbers
    compare = frame(at, "masked %")
    assert list(compare["strategy"]) == ["dnabert", "genemask"]
    stats = frame(at, "masked tokens % (mean)")
    assert list(stats["strategy"]) == ["random", "dnabert", "genemask", "pmi-span"]


def test_mask_explorer_paste_shows_messages_not_tracebacks(table):
    at = app("explorer").run()
    at.radio(key="mx_source").set_value("Paste a sequence").run()
    assert not at.exception and "Paste a DNA sequence" in at.info[0].value
    at.text_area(key="mx_paste").input("ACGTXXACGT").run()
    assert not at.exception and "not nucleotide letters" in at.error[0].value
    seq = "ACGTTGCATGCCGGATATCCGTAGGCTAGCTAGGATCCATGACGTACGTAGCTAGCTAGCTAGGCTAGCATGCAT"
    at.text_area(key="mx_paste").input(seq).run()
    assert not at.exception
    assert metric(at, "masked tokens") == library_rates(seq, "genemask", table, seed=0)[0]


@pytest.mark.skipif(fewshot_root() is None, reason="../shared/data few-shot benchmarks absent")
def test_mask_explorer_masks_a_benchmark_row():
    from genemask_viz.sequences import read_labelled
    at = app("explorer").run()
    at.radio(key="mx_source").set_value("Benchmark dataset row").run()
    at.selectbox(key="mx_dataset").select("Prom-core").run()
    at.number_input(key="mx_row").set_value(3).run()
    assert not at.exception
    path = at.selectbox(key="mx_file").value
    expected = read_labelled(path).loc[3, "sequence"]
    assert at.subheader[0].value.endswith(f"{len(expected)} nt, {len(expected) - 5} tokens")


def test_pmi_page_filters_the_table_and_compares_with_motifs(table):
    at = app("pmi").run()
    assert not at.exception
    shown = frame(at, "ngram")
    expected = filter_table(table, 6, 0, None, 50)
    assert list(shown["ngram"]) == list(expected["ngram"])
    at.selectbox(key="pm_n").select(7).run()
    at.number_input(key="pm_top").set_value(10).run()
    at.number_input(key="pm_filter_count").set_value(500).run()
    shown = frame(at, "ngram")
    assert list(shown["ngram"]) == list(filter_table(table, 7, 500, None, 10)["ngram"])
    assert (shown["count"] >= 500).all() and len(shown) == 10
    # the motif comparison (JASPAR, offline) on the 6-mers
    at.selectbox(key="pm_n").select(6).run()
    at.button(key="pm_run_motifs").click().run()
    assert not at.exception, at.exception
    from genemask_viz.motifs import compare_table
    rho = headline(compare_table(table, n=6, top=100))["rho"]
    assert f"Spearman rho = {rho:.2f}" in at.success[0].value
    assert len(frame(at, "fraction_of_max")) == 3


@pytest.mark.skipif(hg38_ranking_path() is None, reason="../shared/data hg38 ranking absent")
def test_pmi_page_loads_the_hg38_ranking():
    at = app("pmi").run()
    at.radio(key="pm_source").set_value("hg38 ranking (GeneMask release)").run()
    assert not at.exception
    shown = frame(at, "ngram")
    assert list(shown["ngram"].head(3)) == ["CCTCCC", "GGGAGG", "GTGTGT"]


def test_pretraining_lab_launch_queues_and_cancel(tmp_path):
    from genemask_viz.training import run_status
    write_running_run(tmp_path)
    at = lab("pretrain", tmp_path)
    assert not at.exception
    at.multiselect(key="pt_strategies").set_value(["genemask"])
    at.number_input(key="pt_steps").set_value(10)
    at.button(key="pt_start").click()
    at.run()
    assert not at.exception and "Started 1 run(s)" in at.success[-1].value
    new = [d for d in tmp_path.iterdir() if d.is_dir() and d.name != "0-slot-holder"]
    assert len(new) == 1
    params = json.loads((new[0] / "config.json").read_text())["params"]
    assert (params["strategy"], params["steps"], params["model"]) == ("genemask", 10, "tiny")
    assert run_status(new[0])["state"] == "queued"  # the only slot is taken
    at.button(key=f"pt_cancel_{new[0].name}").click().run()
    assert not at.exception
    assert run_status(new[0])["state"] == "cancelled"


def test_pretraining_lab_renders_a_finished_run(tmp_path):
    write_finished_runs(tmp_path)
    at = lab("pretrain", tmp_path)
    assert not at.exception
    runs = frame(at, "state")
    assert runs.set_index("id").loc["1-pretrain-done", "eval_loss"] == pytest.approx(6.5)
    assert at.multiselect(key="pt_compare").value == ["1-pretrain-done"]
    assert len(at.get("plotly_chart")) == 1


def test_fewshot_lab_renders_results_and_queues_a_launch(tmp_path):
    from genemask_viz.training import cancel_run, run_status
    made = write_finished_runs(tmp_path)
    write_running_run(tmp_path)
    at = lab("fewshot", tmp_path)
    assert not at.exception
    table = frame(at, "vs chance (AUROC)").set_index("shots")
    rows = made["rows"]
    mean, sd = rows.groupby("shots")["accuracy"].mean(), rows.groupby("shots")["accuracy"].std()
    assert table.loc[10, "accuracy"] == f"{mean[10]:.3f} ± {sd[10]:.3f}"
    assert table.loc[50, "seeds"] == 2
    assert table.loc[10, "vs chance (AUROC)"] == "above chance"  # 0.6 in both seeds: no spread
    assert len(at.get("plotly_chart")) == 1
    at.button(key="fs_start").click().run()
    assert not at.exception and any("Started" in s.value for s in at.success)
    new = [d for d in tmp_path.iterdir() if d.is_dir() and d.name.endswith(tuple("0123456789abcdef"))
           and "fewshot" in d.name and d.name != "2-fewshot-done"]
    assert len(new) == 1 and run_status(new[0])["state"] == "queued"
    params = json.loads((new[0] / "config.json").read_text())["params"]
    assert (params["data"], params["shots"], params["seeds"]) == ("demo", [10, 50], 3)
    assert cancel_run(new[0], timeout_s=20)["state"] == "cancelled"


# ---- review fixes: upload keys, few-shot lines, upload cap ------------------------------------
def test_upload_key_hashes_the_content_not_the_size():
    from genemask_viz.app_logic.pmi import upload_key
    a, b = b">x\nACGTACGT\n", b">x\nTTTTACGT\n"                  # same name, same size
    assert len(a) == len(b)
    assert upload_key("g.fa", a) != upload_key("g.fa", b)
    assert upload_key("g.fa", a) == upload_key("dir/g.fa", a)
    assert upload_key("g.fa", a, "min_count=5") != upload_key("g.fa", a, "min_count=6")
    import hashlib
    assert hashlib.sha1(a).hexdigest() in upload_key("g.fa", a)


def test_fewshot_lines_never_average_across_datasets():
    from genemask_viz.app_logic.labs import fewshot_lines
    from genemask_viz.plots import fewshot_figure
    rows = [{"dataset": d, "model": "tiny", "shots": s, "seed": seed, "run": f"r-{d}",
             "accuracy": acc + 0.01 * seed}
            for d, acc in (("prom", 0.9), ("tata", 0.5)) for s in (10, 50) for seed in (0, 1)]
    rows += [{"dataset": "prom", "model": "small", "shots": s, "seed": 0, "run": "r-small",
              "accuracy": 0.7} for s in (10, 50)]
    results = pd.DataFrame(rows)
    lines, title = fewshot_lines(results)
    assert title == "model on dataset"
    assert sorted(lines["line"].unique()) == ["small on prom", "tiny on prom", "tiny on tata"]
    fig = fewshot_figure(lines, "accuracy", group="line", legend_title=title)
    means = {t.name: list(t.y) for t in fig.data}
    assert means["tiny on prom"] == pytest.approx([0.905, 0.905])   # not (0.9 + 0.5) / 2
    assert means["tiny on tata"] == pytest.approx([0.505, 0.505])
    assert fig.layout.legend.title.text == "model on dataset"
    # one dataset: labelled by model; one dataset and model, several runs: one line per run
    one = results[results["dataset"] == "prom"]
    assert fewshot_lines(one)[1] == "model" and set(fewshot_lines(one)[0]["line"]) == {"tiny", "small"}
    same = results[results["model"] == "tiny"].assign(dataset="prom")
    lines, title = fewshot_lines(same)
    assert title == "run" and set(lines["line"]) == {"r-prom", "r-tata"}


def test_save_upload_uses_the_shared_upload_cap(tmp_path):
    import inspect
    from genemask_viz.app_logic import MAX_UPLOAD_BYTES
    from genemask_viz.app_logic.labs import save_upload
    assert inspect.signature(save_upload).parameters["max_bytes"].default == MAX_UPLOAD_BYTES
    with pytest.raises(GeneMaskInputError, match="limit"):
        save_upload(tmp_path, "x.tsv", b"sequence\tlabel\n" + b"A" * 100, max_bytes=50)


# ---- issue 13: the labs' pretrain-then-fine-tune path ------------------------------------------
def write_checkpoint_run(root: Path, name: str = "3-pretrain-with-model") -> Path:
    """A done pretraining run whose model/ folder passes the checkpoint check (config.json
    of a BERT and DNABERT's vocab.txt). No weights: these tests only resolve and queue it
    (building a real model costs ~1 min of imports on a loaded 2-core machine)."""
    from genemask_viz.tokens import kmer_vocab
    from genemask_viz.training.pretrain import PretrainConfig
    from genemask_viz.training.registry import create_run, set_status, write_json_atomic
    run = create_run("pretrain", asdict(PretrainConfig(steps=2, strategy="dnabert")), root=root, name=name)
    words = kmer_vocab(6)
    (run / "model").mkdir()
    write_json_atomic(run / "model" / "config.json", {"model_type": "bert", "vocab_size": len(words),
                                                      "hidden_size": 64})
    (run / "model" / "vocab.txt").write_text("\n".join(words) + "\n")
    set_status(run, state="done", step=2, max_steps=2)
    return run


def test_launch_resolves_paths_and_checks_the_model_before_queueing(tmp_path, monkeypatch):
    from genemask_viz.app_logic.labs import resolve_params
    monkeypatch.chdir(tmp_path)
    run = write_checkpoint_run(tmp_path / "runs")
    fasta = tmp_path / "g.fa"
    fasta.write_text(">a\n" + "ACGT" * 50 + "\n")
    # relative paths, as the app's default runs folder gives them, become absolute
    params = resolve_params("fewshot", dict(model=f"runs/{run.name}", data="demo"))
    assert params["model"] == str(run.resolve()) and params["data"] == "demo"
    assert resolve_params("pretrain", dict(corpus="g.fa", model="tiny")) == \
        dict(corpus=str(fasta.resolve()), model="tiny")
    queued = launch_run("fewshot", dict(model=f"runs/{run.name}", shots=[10], seeds=1),
                        root="runs", start=False)
    saved = json.loads((queued / "config.json").read_text())["params"]
    assert saved["model"] == str(run.resolve()) and queued.is_absolute()
    # a missing or unusable model is refused at Start: nothing is queued
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())
    with pytest.raises(GeneMaskInputError, match="neither a preset nor an existing folder"):
        launch_run("fewshot", dict(model="/nonexistent/model"), root="runs")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GeneMaskInputError, match="config.json"):
        launch_run("fewshot", dict(model=str(tmp_path / "empty")), root="runs")
    with pytest.raises(GeneMaskInputError, match="FASTA file not found"):
        launch_run("pretrain", dict(corpus="missing.fa"), root="runs")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == before


def test_fewshot_lab_queues_a_finished_pretraining_run_by_absolute_path(tmp_path):
    from genemask_viz.training import cancel_run
    run = write_checkpoint_run(tmp_path)
    write_running_run(tmp_path)
    at = lab("fewshot", tmp_path)
    at.radio(key="fs_model_kind").set_value("a finished pretraining run").run()
    assert at.selectbox(key="fs_pretrained").value == str(run)
    at.multiselect(key="fs_shots").set_value([10])
    at.button(key="fs_start").click().run()
    assert not at.exception and not at.error and "Started" in at.success[-1].value
    [new] = [d for d in tmp_path.iterdir() if "-fewshot-" in d.name]
    assert json.loads((new / "config.json").read_text())["params"]["model"] == str(run.resolve())
    # a typed checkpoint folder that does not exist fails at Start, in the main area
    at.radio(key="fs_model_kind").set_value("a checkpoint folder").run()
    at.text_input(key="fs_checkpoint").input("/nonexistent/model").run()
    at.button(key="fs_start").click().run()
    assert "neither a preset nor an existing folder" in at.error[0].value
    assert len([d for d in tmp_path.iterdir() if "-fewshot-" in d.name]) == 1
    assert cancel_run(new, timeout_s=20)["state"] == "cancelled"


def test_pretraining_lab_starts_only_from_the_button_and_asks_before_a_duplicate(tmp_path):
    from genemask_viz.training import cancel_run
    write_running_run(tmp_path)
    at = lab("pretrain", tmp_path)
    at.multiselect(key="pt_strategies").set_value(["random"])
    at.number_input(key="pt_steps").set_value(7).run()   # what Enter in the field does: a rerun
    at.number_input(key="pt_batch").set_value(4).run()
    assert [d for d in tmp_path.iterdir() if "-pretrain-" in d.name] == []
    assert "Expected time: about" in at.caption[0].value
    at.button(key="pt_start").click().run()
    runs = [d for d in tmp_path.iterdir() if "-pretrain-" in d.name]
    assert len(runs) == 1 and "Started 1 run(s)" in at.success[-1].value
    at.button(key="pt_start").click().run()              # the same launch again: asks first
    assert len([d for d in tmp_path.iterdir() if "-pretrain-" in d.name]) == 1
    assert "already queued or running" in at.warning[0].value and runs[0].name in at.warning[0].value
    at.button(key="pt_decline").click().run()
    assert not at.warning and len([d for d in tmp_path.iterdir() if "-pretrain-" in d.name]) == 1
    at.button(key="pt_start").click().run()
    at.button(key="pt_confirm").click().run()
    runs = [d for d in tmp_path.iterdir() if "-pretrain-" in d.name]
    assert len(runs) == 2 and not at.exception
    # queued runs show their planned steps and which run holds the slot, never "None"
    bars = [p.proto.text for p in at.get("progress")]
    assert any("step 0/7" in t and "0-slot-holder is training" in t for t in bars), bars
    table = frame(at, "max_steps").set_index("id")
    assert table.loc[runs[0].name, "max_steps"] == 7
    for r in runs:
        assert cancel_run(r, timeout_s=20)["state"] == "cancelled"


def test_lab_selections_follow_new_runs(tmp_path):
    from genemask_viz.app_logic.labs import follow_selection
    state = {}
    assert follow_selection(state, "k", ["a", "b"], ["a"]) == ["a"]
    state["k"] = []                                            # the user removed "a"
    assert follow_selection(state, "k", ["c", "a", "b"], ["c", "a"]) == ["c"]  # new "c" only
    assert follow_selection(state, "k", ["a"], ["a"]) == []   # "c" is gone; "a" stays removed
    # on the page: a run that finishes after the page opened joins the overlay by itself
    write_finished_runs(tmp_path)
    at = lab("pretrain", tmp_path)
    assert at.multiselect(key="pt_compare").value == ["1-pretrain-done"]
    write_checkpoint_run(tmp_path, name="4-pretrain-later")
    from genemask_viz.training.registry import append_metrics
    append_metrics(tmp_path / "4-pretrain-later", {"step": 1, "loss": 8.0, "elapsed": 0.5})
    at.run()
    assert set(at.multiselect(key="pt_compare").value) == {"1-pretrain-done", "4-pretrain-later"}


def test_expected_times_come_from_the_runs_own_step_rate(tmp_path):
    from genemask_viz.app_logic.estimates import (DEFAULT_RATES, fewshot_estimate, pretrain_estimate,
                                                  pretrain_rate)
    assert pretrain_rate(tmp_path, "tiny")[0] == DEFAULT_RATES[("pretrain", "tiny")]  # no runs yet
    write_finished_runs(tmp_path)   # 1-pretrain-done: elapsed = step / 10 at batch 16 (+ an eval row)
    per_seq, _, source = pretrain_rate(tmp_path, "tiny")
    assert per_seq == pytest.approx(0.1 / 16) and "1-pretrain-done" in source
    est = pretrain_estimate(tmp_path, "tiny", steps=300, batch_size=32, n_runs=2, max_concurrent=1)
    assert est["seconds_per_step"] == pytest.approx(0.2)
    assert est["total_s"] == pytest.approx(2 * est["per_run_s"])   # one slot: one after the other
    # few-shot: 10 shots x 2 classes x 20 epochs (10-shot settings) at the default rates
    est = fewshot_estimate(tmp_path, "tiny", [10], seeds=2, max_test=100)
    from genemask_viz.app_logic.estimates import DEFAULT_FEWSHOT_SETUP_S
    expected = DEFAULT_FEWSHOT_SETUP_S + 2 * (10 * 2 * 20 * DEFAULT_RATES[("fewshot", "tiny")]
                                              + 100 * DEFAULT_RATES[("predict", "tiny")])
    assert est["total_s"] == pytest.approx(expected)


def test_chance_verdicts_use_the_auroc_interval_and_collapsed_seeds():
    from scipy import stats
    from genemask_viz.app_logic.estimates import chance_message, chance_verdicts, t_interval
    x = [0.48, 0.55, 0.51]
    mean, low, high = t_interval(x)
    half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
    assert (low, high) == pytest.approx((np.mean(x) - half, np.mean(x) + half))
    rows = pd.DataFrame({"line": ["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"],
                         "shots": 10, "auroc": x + [0.81, 0.83, 0.86] + [0.9, 0.9, 0.9] + [0.7],
                         "collapsed": [False] * 6 + [True] * 3 + [False]})
    v = chance_verdicts(rows).set_index("line")["verdict"].to_dict()
    assert v == {"a": "chance", "b": "above chance", "c": "chance", "d": "unknown"}
    message = chance_message(chance_verdicts(rows))
    assert "a, 10 shots" in message and "contains 0.5" in message and "one class only" in message
    assert "one seed" in chance_message(chance_verdicts(rows[rows.line == "d"])).lower()


def test_pasted_records_rna_and_long_pastes_in_the_explorer(table):
    from genemask_viz.app_logic.inputs import parse_pasted_records
    got = parse_pasted_records(">r1\nACGUACGUAA\n>r2\n" + "ACGT" * 10)
    assert got.records == [("r1", "ACGTACGTAA"), ("r2", "ACGT" * 10)]
    assert got.notes == ["Read as RNA: 2 U were read as T."]
    at = app("explorer").run()
    at.radio(key="mx_source").set_value("Paste a sequence").run()
    long = "".join("ACGT"[(i * 7 + i // 3) % 4] for i in range(2000))
    at.text_area(key="mx_paste").input(">first\nACGTACGTAC\n>second\n" + long).run()
    at.selectbox(key="mx_paste_record").set_value(1).run()
    at.number_input(key="mx_paste_start").set_value(1000).run()
    assert not at.exception
    assert at.subheader[0].value.startswith("second from 1,001: 515 nt")
    assert any("2,000 nt" in i.value for i in at.info)     # the cut is said, not silent
    assert metric(at, "masked tokens") == library_rates(long[1000:1515], "genemask", table)[0]
    at.text_area(key="mx_paste").input("ACGTXXACGT").run()
    assert "not nucleotide letters" in at.main.error[0].value and not at.sidebar.error


def test_explorer_labels_follow_k_and_list_every_library_strategy():
    from genemask_viz.masking.names import STRATEGIES
    at = app("explorer").run()
    assert at.selectbox(key="mx_strategy").options == [str(s) for s in STRATEGIES] or \
        len(at.selectbox(key="mx_strategy").options) == len(STRATEGIES)
    at.selectbox(key="mx_k").select(3).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "3-mers" in text and "6-mers" not in text and "11-token" not in text
    assert at.subheader[0].value.endswith("512 nt, 510 tokens")


def test_run_messages_read_well_and_old_failures_leave_the_top(tmp_path):
    from genemask_viz.app_logic.labs import error_text, recent_failures, run_overview
    from genemask_viz.training.registry import create_run, set_status
    bad = create_run("fewshot", {"model": "x"}, root=tmp_path, name="5-failed")
    set_status(bad, state="failed", error="GeneMaskInputError: model 'x' is neither a preset nor "
               "an existing folder. Fix: use a checkpoint folder.", finished="2026-01-01T00:00:00")
    new = create_run("fewshot", {"model": "y"}, root=tmp_path, name="6-failed-now")
    import datetime as dt
    set_status(new, state="failed", error="boom.", finished=dt.datetime.now().isoformat(timespec="seconds"))
    runs = run_overview(tmp_path, "fewshot")
    assert list(recent_failures(runs)["id"]) == ["6-failed-now"]       # the old one: table only
    assert list(recent_failures(runs, dismissed=["6-failed-now"])["id"]) == []
    text = error_text(runs.set_index("id").loc["5-failed"])
    assert ".." not in text and not text.startswith("GeneMaskInputError") and text.endswith("folder")
    at = lab("fewshot", tmp_path)
    assert len(at.error) == 1 and "6-failed-now" in at.error[0].value
    at.button(key="fs_dismiss_6-failed-now").click().run()
    assert len(at.error) == 0


def test_fewshot_plot_starts_at_chance_and_names_runs_not_paths(tmp_path):
    from genemask_viz.app_logic.labs import fewshot_lines, model_label
    from genemask_viz.plots import fewshot_figure, ranking_bins_figure
    path = str(tmp_path / "20260101-pretrain-ab12" / "model")
    assert model_label(path) == "20260101-pretrain-ab12" and model_label("tiny") == "tiny"
    rows = pd.DataFrame({"dataset": "demo", "model": path, "shots": [10, 10, 50, 50], "seed": [0, 1] * 2,
                         "accuracy": [0.801, 0.807, 0.812, 0.818], "mcc": [0.60, 0.61, 0.62, 0.63]})
    lines, _ = fewshot_lines(rows)
    fig = fewshot_figure(lines, "accuracy", group="line")
    assert [t.name for t in fig.data] == ["20260101-pretrain-ab12"]
    low, high = fig.layout.yaxis.range
    assert low <= 0.5 and high >= 1.0          # a 0.004 sd is not blown up to fill the plot
    assert fewshot_figure(lines, "mcc", group="line").layout.yaxis.range[0] <= 0.0
    fig = ranking_bins_figure({"pmi": np.arange(100.0), "random": np.zeros(100)}, np.arange(100.0), bins=20)
    assert list(fig.layout.xaxis.tickvals) == list(range(1, 21))
    assert fig.data[0].y[0] == pytest.approx(np.arange(95, 100).mean())  # bin 1 = the top 5%


def test_pretraining_lab_shows_the_runs_corpus(tmp_path):
    from genemask_viz.training.registry import write_json_atomic
    made = write_finished_runs(tmp_path)
    write_json_atomic(made["pretrain"] / "corpus.json", {
        "corpus": "demo", "train_segments": 320, "val_segments": 64, "train_bases": 1976889,
        "val_bases": 19968, "nucleotides_seen": 117860, "epochs": 0.0596,
        "validation": {"mode": "fraction", "val_fraction": 0.01},
        "records": [{"name": "chr1", "train_segments": 300, "val_segments": 0},
                    {"name": "chr2", "train_segments": 20, "val_segments": 64}]})
    at = lab("pretrain", tmp_path)
    assert not at.exception
    assert any("117,860 nt seen in 320 training segments" in m.value for m in at.markdown)
    records = frame(at, "train_segments")
    assert list(records["name"]) == ["chr1", "chr2"] and list(records["val_segments"]) == [0, 64]
    settings = frame(at, "setting").set_index("setting")["value"]
    assert settings["validation.mode"] == "fraction"


def test_warm_assets_are_built_once_and_shared():
    import threading
    from genemask_viz.app_logic import warm
    results = []
    threads = [threading.Thread(target=lambda: results.append(warm.demo_table())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is results[0] for r in results) and warm.demo_table() is results[0]
    assert warm.start_warmup() is warm.start_warmup()  # one background thread per process
    warm.start_warmup().join(timeout=120)
    state = warm.warm_state()
    assert set(state["ready"]) == {"genome", "table", "kernels"} and state["error"] is None


def test_masking_kernels_are_cached_on_disk():
    from numba.core.caching import NullCache
    from genemask_viz.masking import _kernels
    kernels = [f for f in vars(_kernels).values() if hasattr(f, "py_func") and hasattr(f, "_cache")]
    assert kernels and all(not isinstance(f._cache, NullCache) for f in kernels)
