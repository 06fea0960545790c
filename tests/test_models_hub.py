"""`--model ORG/NAME`: Hugging Face Hub ids resolve through the Hub cache, offline here.

The test builds a cache folder in the real layout (``models--ORG--NAME/{blobs,refs/main,
snapshots/REV}`` with snapshot files symlinked to blobs) holding a tiny saved model, and
sets ``HF_HUB_OFFLINE=1``: nothing outside this machine is contacted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.tokens import kmer_vocab
from genemask_viz.training.models import build_classifier, build_mlm, model_config, resolve_model

REV = "0123456789abcdef0123456789abcdef01234567"


def _cache_model(cache: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Write ``files`` as the Hub cache does; return the snapshot folder."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / REV
    (repo / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REV)
    for name, body in files.items():
        blob = repo / "blobs" / hashlib.sha256(body).hexdigest()
        blob.write_bytes(body)
        (snap / name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    return snap


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An offline Hub cache in tmp_path; returns it."""
    from huggingface_hub import constants
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    """config.json + model.safetensors + vocab.txt of a tiny 6-mer BERT, and one weight tensor."""
    from transformers import BertForMaskedLM
    torch.manual_seed(3)
    model = BertForMaskedLM(model_config("tiny", 6))
    out = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(out, safe_serialization=True)
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    files["vocab.txt"] = ("\n".join(kmer_vocab(6)) + "\n").encode()
    return files, model.bert.embeddings.word_embeddings.weight.detach().clone()


def test_a_hub_id_resolves_offline_to_its_cached_snapshot_and_loads(hub, tiny_files, one_thread):
    files, embedding = tiny_files
    snap = _cache_model(hub, "testorg/tiny-dnabert", files)
    source = resolve_model("testorg/tiny-dnabert")
    assert (source.path, source.k, source.preset, source.spec) == (snap, 6, None, "testorg/tiny-dnabert")
    assert resolve_model(f"testorg/tiny-dnabert@{REV}").path == snap  # a pinned revision
    mlm = build_mlm(source)
    assert torch.equal(mlm.bert.embeddings.word_embeddings.weight, embedding)
    clf = build_classifier(source, num_labels=3, seed=0)
    assert torch.equal(clf.bert.embeddings.word_embeddings.weight, embedding)
    assert clf.classifier.out_features == 3


def test_a_non_kmer_vocabulary_is_refused_before_the_weights_are_fetched(hub, tiny_files):
    files, _ = tiny_files
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##ing"] + [f"w{i}" for i in range(4094)]
    cfg = json.loads(files["config.json"])
    # no weights in the cache: the vocabulary check must come first for this error to show
    _cache_model(hub, "testorg/wordpiece-bert", {"config.json": json.dumps(cfg).encode(),
                                                 "vocab.txt": ("\n".join(words) + "\n").encode()})
    with pytest.raises(GeneMaskInputError, match="not a DNABERT k-mer vocabulary"):
        resolve_model("testorg/wordpiece-bert")


def test_a_cached_model_without_weights_is_reported(hub, tiny_files):
    files, _ = tiny_files
    _cache_model(hub, "testorg/no-weights", {n: b for n, b in files.items() if not n.endswith("safetensors")})
    with pytest.raises(GeneMaskInputError, match="has no weights in the local Hugging Face cache"):
        resolve_model("testorg/no-weights")


def test_an_id_missing_from_the_offline_cache_says_what_to_do(hub):
    with pytest.raises(GeneMaskInputError) as err:
        resolve_model("nobody/no-such-model")
    text = str(err.value)
    assert "local Hugging Face cache (HF_HUB_OFFLINE is set)" in text
    assert "unset HF_HUB_OFFLINE to download it once" in text
    # a name that is neither a folder nor shaped like a Hub id keeps the old message
    with pytest.raises(GeneMaskInputError, match="neither a preset nor an existing folder"):
        resolve_model("no/such/folder")


def test_cli_fewshot_accepts_a_hub_id(hub, tiny_files, tmp_path, capsys, one_thread):
    from genemask_viz.cli import main
    _cache_model(hub, "testorg/tiny-dnabert", tiny_files[0])
    rng = np.random.default_rng(0)  # a small labelled file (the demo task takes seconds to build)
    rows = ["sequence\tlabel"] + [f"{''.join(rng.choice(list('ACGT'), 40))}\t{i % 2}" for i in range(60)]
    (tmp_path / "task.tsv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "fs"
    rc = main(["fewshot", "--data", str(tmp_path / "task.tsv"), "--shots", "10", "--seeds", "1", "--model",
               "testorg/tiny-dnabert", "--out", str(out), "--epochs", "1", "--max-test", "20",
               "--threads", "1", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())
    assert "testorg/tiny-dnabert" in json.dumps(cfg)


def test_a_mistyped_local_path_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    """``runs/missing`` where ./runs exists: a local-path error at once, no Hub lookup."""
    from genemask_viz.training import models
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()

    def no_hub(spec):
        raise AssertionError(f"{spec} went to the Hub")
    monkeypatch.setattr(models, "_hub_checkpoint", no_hub)
    with pytest.raises(GeneMaskInputError, match="read as a local path"):
        models.resolve_model("runs/missing")
    with pytest.raises(AssertionError, match="went to the Hub"):  # no such local folder: Hub id
        models.resolve_model("someorg/somemodel")
