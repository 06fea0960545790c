"""`genemask reconstruct` / `genemask attribute`, the kept few-shot models they read, loading errors."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from genemask_viz.cli import main
from genemask_viz.interpret import (finetuned_models, list_models, load_classifier, load_mlm,
                                    reconstruct, saturation_mutagenesis)
from genemask_viz.tokens import KmerTokenizer
from genemask_viz.training.models import model_config

SEQ = "ACGTTGCAAGCTTAGGCATCGATCGGATCCTAGCAAGTCGATGCTAGCTTAGCGGCATTACG"
MOTIFS = """>M1 GCATCG
A [ 0 10 0 0 0 0 ]
C [ 0 0 10 0 10 0 ]
G [ 10 0 0 0 0 10 ]
T [ 0 0 0 10 0 0 ]
>M2 AAAAAA
A [ 10 10 10 10 10 10 ]
C [ 0 0 0 0 0 0 ]
G [ 0 0 0 0 0 0 ]
T [ 0 0 0 0 0 0 ]
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """An MLM checkpoint folder and a few-shot run folder with one kept classifier."""
    from transformers import BertForMaskedLM, BertForSequenceClassification

    from genemask_viz.training.models import save_model
    root = tmp_path_factory.mktemp("interpret")
    torch.manual_seed(0)
    mlm = BertForMaskedLM(model_config("tiny", 6))
    save_model(mlm, KmerTokenizer(k=6), root / "mlm", {"kind": "test"})
    run = root / "runs" / "ft"
    (run / "models").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"kind": "fewshot", "params": {"data": "demo"}}))
    torch.manual_seed(1)
    clf = BertForSequenceClassification(model_config("tiny", 6, num_labels=2))
    save_model(clf, KmerTokenizer(k=6), run / "models" / "shots-10_seed-0",
               {"kind": "fewshot", "shots": 10, "seed": 0, "accuracy": 0.5})
    return root, run


def test_cli_reconstruct_json_matches_the_library(folders, capsys, one_thread):
    root, _ = folders
    assert main(["reconstruct", "--model", str(root / "mlm"), "--compare", "tiny", "--sequence", SEQ,
                 "--strategy", "dnabert", "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    entry = out["sequences"][0]["models"]
    direct = reconstruct(load_mlm(root / "mlm"), SEQ, "dnabert", seed=4)
    assert entry[0]["n_hidden"] == direct.n_hidden > 0
    assert entry[0]["accuracy"] == pytest.approx(direct.accuracy)
    hid = entry[0]["hidden"]
    assert [h["pos"] for h in hid] == np.flatnonzero(direct.hidden).tolist()
    assert all(abs(h["A"] + h["C"] + h["G"] + h["T"] - 1) < 1e-4 for h in hid)
    assert entry[1]["token_mask"] == entry[0]["token_mask"]   # --compare: the same mask
    assert main(["reconstruct", "--model", str(root / "mlm"), "--sequence", SEQ]) == 0
    text = capsys.readouterr().out
    assert "predicted" in text and SEQ[:40] in text


def test_cli_attribute_json_matches_the_library(folders, capsys, tmp_path, one_thread):
    _, run = folders
    motif_file = tmp_path / "m.jaspar"
    motif_file.write_text(MOTIFS)
    assert main(["attribute", "--model", str(run), "--sequence", SEQ[:40], "--target", "1",
                 "--motifs", str(motif_file), "--windows", "2", "--width", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["sequences"][0]
    effect, ref, _, _ = saturation_mutagenesis(load_classifier(run), SEQ[:40], target=1)
    np.testing.assert_allclose(np.array([out["effect"][b] for b in "ACGT"]).T, effect, atol=1e-5)
    assert out["reference_log_odds"] == pytest.approx(ref, abs=1e-5)
    assert len(out["importance"]) == 40 and 1 <= len(out["windows"]) <= 2
    assert {m["motif_name"] for m in out["matches"]} <= {"GCATCG", "AAAAAA"}
    for m in out["matches"]:
        assert m["site"] == SEQ[m["start"]:m["end"]] and 0 <= m["p"] <= 1


def test_cli_bad_inputs_are_one_line_errors(folders, capsys):
    root, run = folders
    assert main(["attribute", "--model", str(root / "mlm"), "--sequence", SEQ]) == 2
    assert "not a fine-tuned classifier" in capsys.readouterr().err
    assert main(["reconstruct", "--model", str(run / "models" / "shots-10_seed-0"),
                 "--sequence", SEQ]) == 2
    assert "not a masked-language model" in capsys.readouterr().err
    assert main(["reconstruct", "--model", "tiny", "--sequence", "ACGT!!ACGT"]) == 2
    assert "not nucleotide letters" in capsys.readouterr().err
    assert main(["attribute", "--model", str(run), "--shots", "50", "--sequence", SEQ]) == 2
    assert "shot count and seed" in capsys.readouterr().err


def test_fewshot_keeps_one_model_per_setting_and_it_is_listed(tmp_path, one_thread):
    from genemask_viz.training.fewshot import FewShotConfig, run_fewshot
    from genemask_viz.training.registry import create_run
    rng = np.random.default_rng(0)
    rows = [("".join(rng.choice(list("ACGT"), 30)), i % 2) for i in range(24)]
    pd.DataFrame(rows[:16], columns=["sequence", "label"]).to_csv(tmp_path / "train.tsv", sep="\t",
                                                                  index=False)
    pd.DataFrame(rows[16:], columns=["sequence", "label"]).to_csv(tmp_path / "test.tsv", sep="\t",
                                                                  index=False)
    cfg = FewShotConfig(data=None, train=str(tmp_path / "train.tsv"), test=str(tmp_path / "test.tsv"),
                        shots=[2, 3], seeds=2, epochs=1, batch_size=2, threads=1)
    from dataclasses import asdict
    run = create_run("fewshot", asdict(cfg), root=tmp_path / "runs", name="ft")
    run_fewshot(cfg, run, progress=False)
    kept = finetuned_models(run)
    assert [(m["shots"], m["seed"]) for m in kept] == [(2, 0), (3, 0)]   # keep_models=1: seed 0
    assert kept[0]["classes"] == [0, 1] and 0 <= kept[0]["accuracy"] <= 1
    model = load_classifier(run, shots=3)
    assert model.config.num_labels == 2 and not model.training
    listed = list_models(tmp_path / "runs")
    assert listed["kind"].tolist() == ["fine-tuned", "fine-tuned"]
    assert listed["path"].tolist() == [m["path"] for m in kept]
