"""Pretraining engine: end to end on the demo genome, resume after a kill, checkpoints.

Tiny model, a few steps, 64-position segments, one torch thread (the CI machine's
2 cores are shared; more threads only slow a tiny model down).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import numpy as np
import pytest
import torch
from transformers import TrainerCallback

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.training import registry as reg
from genemask_viz.training.corpus import BatchCollator, SequenceDataset, make_collator
from genemask_viz.training.models import resolve_model
from genemask_viz.training.pretrain import PretrainConfig
from genemask_viz.training.worker import execute_run


pytestmark = pytest.mark.usefixtures("one_thread")


def small_config(**kw) -> PretrainConfig:
    base = dict(corpus="demo", strategy="genemask", model="tiny", steps=4, batch_size=4,
                max_length=64, n_val=8, save_steps=2, logging_steps=1, seed=3, threads=1)
    base.update(kw)
    return PretrainConfig(**base)


def losses(run_dir) -> dict[int, float]:
    frame = reg.read_metrics(run_dir)
    frame = frame[frame["loss"].notna()]
    return dict(zip(frame["step"].astype(int), frame["loss"].astype(float)))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """One short genemask run shared by the tests that need a trained checkpoint."""
    torch.set_num_threads(1)
    run = reg.create_run("pretrain", asdict(small_config()),
                         run_dir=tmp_path_factory.mktemp("runs") / "pt")
    status = execute_run(run, progress=False)
    return run, status


def test_pretrain_end_to_end_writes_a_complete_run(pretrained):
    run, status = pretrained
    assert status["state"] == "done" and status["step"] == 4 and status["max_steps"] == 4
    steps = losses(run)
    assert sorted(steps) == [1, 2, 3, 4]
    # a fresh model predicts ~uniformly over 4101 tokens: loss near ln(4101) = 8.32
    assert all(abs(v - math.log(4101)) < 0.5 for v in steps.values())
    ev = json.loads((run / "eval.json").read_text())
    assert abs(ev["eval_loss"] - math.log(4101)) < 0.5 and 0.0 <= ev["eval_accuracy"] <= 1.0
    assert ev["eval_masked_tokens"] > 0
    record = json.loads((run / "model" / "training_record.json").read_text())
    assert record["strategy"] == "genemask" and record["global_step"] == 4
    assert record["sequences_per_step"] == 4 and record["val_segments"] == 8
    assert "counted from the corpus" in record["table"]
    assert (run / "ngram_table.csv").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert (run / "model" / "model.safetensors").exists()


def test_saved_model_loads_with_plain_transformers(pretrained):
    from transformers import BertForMaskedLM, BertTokenizer

    from genemask_viz.tokens import KmerTokenizer
    run, _ = pretrained
    model = BertForMaskedLM.from_pretrained(run / "model").eval()
    bert_tok = BertTokenizer.from_pretrained(run / "model")
    ours = KmerTokenizer(k=6)
    text = "ACGTAC CGTACG GTACGT TACGTT"
    assert bert_tok(text)["input_ids"] == ours(text)["input_ids"]
    ids = ours.encode_batch(["ACGTACGTTAGCATCGATCGATCGGGCTA"])
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape == (1, ids["input_ids"].shape[1], 4101) and torch.isfinite(logits).all()


def test_run_folder_is_accepted_as_a_model(pretrained):
    run, _ = pretrained
    source = resolve_model(run)
    assert source.path == run / "model" and source.k == 6 and source.preset is None


def test_resume_after_kill_gives_the_same_losses(tmp_path):
    """Kill (an exception) after step 5 with checkpoints at 2 and 4; the resumed run
    must log exactly the losses of an uninterrupted run for steps 5..6."""
    cfg = small_config(steps=6, strategy="dnabert", save_steps=2)
    full = reg.create_run("pretrain", asdict(cfg), run_dir=tmp_path / "full")
    execute_run(full, progress=False)

    class Kill(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.global_step == 5:  # after step 5 was logged, before its checkpoint
                raise KeyboardInterrupt("simulated kill")

    cut = reg.create_run("pretrain", asdict(cfg), run_dir=tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        execute_run(cut, progress=False, callbacks=[Kill()])
    assert reg.run_status(cut)["state"] == "cancelled"
    assert max(losses(cut)) == 5  # step 5 was logged before the kill
    reg.create_run("pretrain", asdict(cfg), run_dir=cut)  # same command again: resume
    status = execute_run(cut, progress=False)
    assert status["state"] == "done"
    a, b = losses(full), losses(cut)
    assert sorted(b) == [1, 2, 3, 4, 5, 6]  # rows past the checkpoint were replaced, not doubled
    for step in range(1, 7):
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-6), step
    record = json.loads((cut / "model" / "training_record.json").read_text())
    assert record["resumed_from"].endswith("checkpoint-4")
    ev_a = json.loads((full / "eval.json").read_text())["eval_loss"]
    ev_b = json.loads((cut / "eval.json").read_text())["eval_loss"]
    assert ev_b == pytest.approx(ev_a, rel=1e-5)


def test_other_settings_on_the_same_folder_are_refused(tmp_path):
    reg.create_run("pretrain", asdict(small_config()), run_dir=tmp_path / "r")
    with pytest.raises(GeneMaskInputError, match="other settings"):
        reg.create_run("pretrain", asdict(small_config(steps=9)), run_dir=tmp_path / "r")


def test_batch_masks_depend_only_on_the_examples(tmp_path):
    """Masks are seeded from the example indices: the batch order does not matter."""
    from genemask_viz.tokens import KmerTokenizer
    tok = KmerTokenizer(k=6)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(6)]
    ds = SequenceDataset(seqs, k=6, max_length=256)
    collate = BatchCollator(make_collator("dnabert", tok, seed=5), seed=5)
    first = collate([ds[0], ds[1]])
    collate([ds[2], ds[3]])  # any batches in between
    again = collate([ds[0], ds[1]])
    assert torch.equal(first["labels"], again["labels"])
    assert torch.equal(first["input_ids"], again["input_ids"])
    other = BatchCollator(make_collator("dnabert", tok, seed=6), seed=6)([ds[0], ds[1]])
    assert not torch.equal(first["labels"], other["labels"])
    assert (first["labels"] != -100).sum() > 0
    # padding and specials are never chosen
    assert (first["labels"][first["attention_mask"] == 0] == -100).all()
    assert (first["labels"][:, 0] == -100).all()


def test_unknown_strategy_is_refused():
    with pytest.raises(GeneMaskInputError, match="unknown masking strategy 'bert-wwm'.*genemask"):
        PretrainConfig(strategy="bert-wwm")


def test_checkpoint_with_another_vocabulary_is_refused(tmp_path):
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path / "ckpt")
    BertForMaskedLM(BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=64)).save_pretrained(tmp_path / "ckpt")
    with pytest.raises(GeneMaskInputError, match="not a DNABERT k-mer vocabulary.*another vocabulary"):
        resolve_model(tmp_path / "ckpt")


def test_local_dnabert_style_checkpoint_is_used(tmp_path):
    """A small BERT saved with a DNABERT vocab.txt (k=4) as a downloaded checkpoint would be."""
    from transformers import BertConfig, BertForMaskedLM

    from genemask_viz.tokens import KmerTokenizer
    tok = KmerTokenizer(k=4)
    tok.save_pretrained(tmp_path / "ckpt")
    BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=64)).save_pretrained(tmp_path / "ckpt")
    source = resolve_model(tmp_path / "ckpt")
    assert source.k == 4 and source.path == tmp_path / "ckpt"
    run = reg.create_run("pretrain", asdict(small_config(model=str(tmp_path / "ckpt"), steps=2,
                                                          strategy="random", save_steps=5)),
                         run_dir=tmp_path / "run")
    assert execute_run(run, progress=False)["state"] == "done"
    record = json.loads((run / "model" / "training_record.json").read_text())
    assert record["config"]["k"] == 4 and record["base_model"] == str(tmp_path / "ckpt")
    assert (run / "model" / "vocab.txt").read_text().split()[5] == "AAAA"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(GeneMaskInputError, match="only BERT models"):
        resolve_model(bad)
    with pytest.raises(GeneMaskInputError, match="neither a preset nor an existing folder"):
        resolve_model(tmp_path / "missing")


@pytest.mark.slow
def test_gpu_benchmark_code_path_runs_on_cpu(tmp_path):
    """bench/gpu_pretrain.py --cpu-smoke: the GPU benchmark's code path, tiny model, 3 steps."""
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "bench" / "gpu_pretrain.py"
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(script), "--cpu-smoke", "--json", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["model"] == "tiny" and report["timed_steps"] == 2 and report["tokens_per_second"] > 0
    assert report["mfu"] is None and "CPU smoke run" in proc.stdout


def test_last_complete_checkpoint_skips_half_written_ones(tmp_path):
    from genemask_viz.errors import GeneMaskWarning
    from genemask_viz.training.pretrain import last_complete_checkpoint
    import safetensors.torch
    import torch
    assert last_complete_checkpoint(tmp_path / "none") is None
    for step, files in ((8, ["trainer_state.json", "model.safetensors"]),
                        (9, ["trainer_state.json", "pytorch_model.bin"]),
                        (10, ["model.safetensors"]),            # killed before trainer_state.json
                        (11, ["trainer_state.json"])):          # no weights
        (tmp_path / f"checkpoint-{step}").mkdir()
        for name in files:  # whole files: the check reads them (issue 14, item 8)
            target = tmp_path / f"checkpoint-{step}" / name
            if name == "trainer_state.json":
                target.write_text(json.dumps({"global_step": step}))
            elif name == "model.safetensors":
                safetensors.torch.save_file({"w": torch.zeros(2)}, str(target))
            else:
                torch.save({"w": torch.zeros(2)}, target)
    (tmp_path / "checkpoint-99.tmp").mkdir()
    with pytest.warns(GeneMaskWarning, match="incomplete checkpoint") as caught:
        assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-9")
    assert sorted(str(w.message).split(":")[0].rsplit("-", 1)[1] for w in caught) == ["10", "11"]


def test_resume_skips_a_checkpoint_killed_while_saving(pretrained, tmp_path):
    """The newest checkpoint lacks trainer_state.json (killed while saving): the run resumes
    from the one before and redoes the steps, with the same losses."""
    import shutil

    from genemask_viz.errors import GeneMaskWarning
    run, _ = pretrained
    copy = shutil.copytree(run, tmp_path / "copy")
    (copy / "checkpoints" / "checkpoint-4" / "trainer_state.json").unlink()
    reg.set_status(copy, state="failed")
    reg.create_run("pretrain", asdict(small_config()), run_dir=copy)  # the same command again
    with pytest.warns(GeneMaskWarning, match="checkpoint-4: incomplete checkpoint"):
        status = execute_run(copy, progress=False)
    assert status["state"] == "done" and status["step"] == 4
    record = json.loads((copy / "model" / "training_record.json").read_text())
    assert record["resumed_from"].endswith("checkpoint-2") and record["global_step"] == 4
    assert (copy / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists()  # rewritten
    a, b = losses(run), losses(copy)
    assert sorted(b) == [1, 2, 3, 4]
    for step in (3, 4):
        assert b[step] == pytest.approx(a[step], rel=1e-5, abs=1e-6), step


def test_a_cancelled_run_rerun_in_the_foreground_is_not_cancelled_again(tmp_path):
    cfg = small_config(steps=3, strategy="dnabert", save_steps=10, n_val=4)
    run = reg.create_run("pretrain", asdict(cfg), run_dir=tmp_path / "r")
    (run / reg.CANCEL_FILE).write_text("x")  # 'genemask runs cancel' from another terminal
    assert execute_run(run, progress=False)["state"] == "done"  # an old request is dropped
    (run / reg.CANCEL_FILE).write_text("x")
    reg.set_status(run, state="cancelled")
    reg.create_run("pretrain", asdict(cfg), run_dir=run)  # rerun: the request is cleared
    assert not (run / reg.CANCEL_FILE).exists()


def test_malformed_checkpoint_json_names_file_and_line(tmp_path):
    from genemask_viz.tokens import KmerTokenizer
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{\n  "model_type": "bert",\n  "vocab_size": 4101,,\n}\n')
    with pytest.raises(GeneMaskInputError, match=r"config.json, line 3: config.json is not valid "
                                                 r"JSON.*Fix: restore") as exc:
        resolve_model(bad)
    assert exc.value.line == 3 and exc.value.source == str(bad / "config.json")
    tok = tmp_path / "tok"
    KmerTokenizer(k=4).save_pretrained(tok)
    (tok / "vocab.txt").unlink()
    (tok / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 261}))
    (tok / "tokenizer.json").write_text('{"model": {"vocab": {"[PAD]": 0\n')
    with pytest.raises(GeneMaskInputError, match="tokenizer.json is not valid JSON") as exc:
        resolve_model(tok)
    assert exc.value.line == 2 and exc.value.source == str(tok / "tokenizer.json")


class FakeDist:
    """torch.distributed for one rank of a ``world``-process group: all_reduce(MAX) takes the
    maximum with the values the other ranks contribute (``peers``)."""

    ReduceOp = torch.distributed.ReduceOp

    def __init__(self, rank, world=2, peers=(0,), backend="gloo", initialized=True):
        self.rank, self.world, self.peers = rank, world, list(peers)
        self.backend, self.initialized, self.reduced = backend, initialized, []

    def is_available(self):
        return True

    def is_initialized(self):
        return self.initialized

    def get_world_size(self):
        return self.world

    def get_rank(self):
        return self.rank

    def get_backend(self):
        return self.backend

    def all_reduce(self, tensor, op=None):
        assert op == self.ReduceOp.MAX and tensor.device.type == "cpu" and tensor.numel() == 1
        self.reduced.append(int(tensor.item()))
        tensor.fill_(max([int(tensor.item())] + self.peers))


def test_cancel_is_decided_by_rank_0_and_shared_with_all_ranks(tmp_path):
    """Under torch.distributed only rank 0 reads the cancel file; every rank gets its
    decision from one all-reduce per step, so all stop after the same step."""
    from genemask_viz.training.callbacks import cancel_requested
    # no request anywhere: nobody stops, and every rank joined the collective
    for rank in (0, 1):
        dist = FakeDist(rank)
        assert cancel_requested(tmp_path, dist=dist) is False and dist.reduced == [0]
    (tmp_path / reg.CANCEL_FILE).write_text("x")
    rank0 = FakeDist(0, peers=[0])
    assert cancel_requested(tmp_path, dist=rank0) is True and rank0.reduced == [1]
    # rank 1 ignores the file (it may see it a step earlier or later than rank 0) ...
    rank1 = FakeDist(1, peers=[0])
    assert cancel_requested(tmp_path, dist=rank1) is False and rank1.reduced == [0]
    # ... and follows rank 0's decision even where the file is not visible to it
    (tmp_path / reg.CANCEL_FILE).unlink()
    rank1 = FakeDist(1, peers=[1])
    assert cancel_requested(tmp_path, dist=rank1) is True
    # a SIGTERM seen by one rank (local flag) stops them all
    rank1 = FakeDist(1, peers=[0])
    assert cancel_requested(tmp_path, local=True, dist=rank1) is True and rank1.reduced == [1]
    # one process, or torch.distributed not initialised: the file alone, no collective
    for dist in (FakeDist(0, world=1), FakeDist(0, initialized=False)):
        assert cancel_requested(tmp_path, dist=dist) is False and dist.reduced == []
        (tmp_path / reg.CANCEL_FILE).write_text("x")
        assert cancel_requested(tmp_path, dist=dist) is True and dist.reduced == []
        (tmp_path / reg.CANCEL_FILE).unlink()
    assert cancel_requested(tmp_path) is False  # the real torch.distributed, not initialised


def test_run_logger_stops_every_rank_together(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from genemask_viz.training import callbacks
    from transformers import TrainerControl
    rank1 = FakeDist(1, peers=[1])  # rank 0 saw the cancel file
    monkeypatch.setattr(torch.distributed, "is_initialized", rank1.is_initialized)
    monkeypatch.setattr(torch.distributed, "get_world_size", rank1.get_world_size)
    monkeypatch.setattr(torch.distributed, "get_rank", rank1.get_rank)
    monkeypatch.setattr(torch.distributed, "get_backend", rank1.get_backend)
    monkeypatch.setattr(torch.distributed, "all_reduce", rank1.all_reduce)
    logger = callbacks.RunLogger(tmp_path)
    state = SimpleNamespace(is_world_process_zero=False, global_step=3, max_steps=10)
    control = logger.on_step_end(None, state, TrainerControl())
    assert control.should_training_stop and control.should_save and logger.cancelled
    assert rank1.reduced == [0] and not (tmp_path / "status.json").exists()  # rank 1 never writes
