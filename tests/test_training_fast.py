"""The fast pretraining path (issue 11): sparse MLM head, length-grouped batches, dropout
presets, clean stdout. Equivalence is checked against the dense ``BertForMaskedLM``."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.training import fastmlm
from genemask_viz.training.fastmlm import (BitsDropout, LengthGroupedSampler, SparseBertForMaskedLM,
                                           dataset_lengths, key_padding_mask, masked_argmax,
                                           masked_cross_entropy, use_bits_dropout)
from genemask_viz.training.models import build_mlm, model_config, resolve_model

pytestmark = pytest.mark.usefixtures("one_thread")


def fixed_batch(vocab=4101, rows=3, width=40, seed=0):
    """Ragged rows (padding at the right), ~15% of the real tokens labelled."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (rows, width), generator=g)
    attention = torch.ones_like(ids)
    for row, n in enumerate((width, width - 7, 11)[:rows]):
        ids[row, 0], ids[row, n - 1] = 2, 3
        ids[row, n:], attention[row, n:] = 0, 0
    labels = torch.full_like(ids, -100)
    chosen = (torch.rand(ids.shape, generator=g) < 0.15) & (ids >= 5)
    chosen[0, 5] = True
    labels[chosen] = ids[chosen]
    ids = ids.masked_fill(chosen, 4)  # [MASK]
    return {"input_ids": ids, "attention_mask": attention, "labels": labels}


def twin_models():
    cfg = model_config("tiny", hidden_dropout_prob=0.0)
    torch.manual_seed(1)
    sparse = SparseBertForMaskedLM(cfg)
    dense = BertForMaskedLM(cfg)
    dense.load_state_dict(sparse.state_dict())
    return sparse, dense


def assert_same_gradients(sparse, dense):
    grads_d = dict(dense.named_parameters())
    for name, p in sparse.named_parameters():
        g_d = grads_d[name].grad
        if g_d is None:
            assert p.grad is None or not p.grad.any(), name
            continue
        assert torch.allclose(p.grad, g_d, rtol=1e-4, atol=1e-5), name


def test_sparse_head_gives_the_dense_loss_and_gradients():
    sparse, dense = twin_models()
    batch = fixed_batch()
    out_s, out_d = sparse(**batch), dense(**batch)
    n_masked = int((batch["labels"] != -100).sum())
    assert out_s.logits.shape == (n_masked, 4101) and out_d.logits.shape == (3, 40, 4101)
    assert torch.allclose(out_s.loss, out_d.loss, rtol=0, atol=1e-5)
    # the sparse logits are the dense ones at the masked positions, in row-major order
    assert torch.allclose(out_s.logits, out_d.logits[batch["labels"] != -100], atol=1e-5)
    out_s.loss.backward()
    out_d.loss.backward()
    assert_same_gradients(sparse, dense)
    # Trainer's gradient-accumulation normaliser: sum / masked tokens of all micro-batches
    # (transformers' dense BertForMaskedLM ignores it and averages per micro-batch)
    n = torch.tensor(2 * n_masked)
    assert torch.allclose(sparse(**batch, num_items_in_batch=n).loss, out_d.loss.detach() / 2,
                          rtol=0, atol=1e-5)
    # without labels it is the dense model (inference, fill-mask)
    with torch.no_grad():
        plain = sparse(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert plain.shape == (3, 40, 4101) and torch.allclose(plain, out_d.logits.detach(), atol=1e-5)


@pytest.mark.parametrize("heads", [2, 4])
def test_sparse_last_layer_matches_the_dense_model(monkeypatch, heads):
    """The last layer run at the labelled rows only (queries there, keys and values from every
    position) gives the dense model's loss and gradients, also with a row that has no label."""
    cfg = model_config("tiny", hidden_dropout_prob=0.0, num_attention_heads=heads,
                       num_hidden_layers=3)
    torch.manual_seed(2)
    sparse = SparseBertForMaskedLM(cfg)
    dense = BertForMaskedLM(cfg)
    dense.load_state_dict(sparse.state_dict())
    batch = fixed_batch(rows=3, seed=4)
    batch["labels"][1] = -100                 # nothing to predict in row 1
    calls = []
    real = fastmlm.last_layer_at
    monkeypatch.setattr(fastmlm, "last_layer_at", lambda *a: calls.append(1) or real(*a))
    out_s, out_d = sparse(**batch), dense(**batch)
    assert calls == [1]                       # the sparse path ran
    assert torch.allclose(out_s.loss, out_d.loss, rtol=0, atol=1e-5)
    out_s.loss.backward()
    out_d.loss.backward()
    assert_same_gradients(sparse, dense)
    # switched off, the full layers give the same loss
    sparse.sparse_last_layer = False
    assert torch.allclose(sparse(**batch).loss, out_s.loss, rtol=0, atol=1e-6) and calls == [1]


def test_sparse_model_saves_a_plain_bert_checkpoint(tmp_path):
    sparse, _ = twin_models()
    sparse.save_pretrained(tmp_path / "m")
    assert type(sparse) is SparseBertForMaskedLM  # the class is restored after saving
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["architectures"] == ["BertForMaskedLM"] and cfg["attention_probs_dropout_prob"] == 0.0
    loaded = BertForMaskedLM.from_pretrained(tmp_path / "m").eval()
    batch = fixed_batch()
    with torch.no_grad():
        a = loaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        b = sparse.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_masked_argmax_puts_predictions_at_the_masked_positions():
    sparse, dense = twin_models()
    batch = fixed_batch()
    with torch.no_grad():
        preds = masked_argmax(sparse(**batch).logits, batch["labels"])
        dense_preds = masked_argmax(dense(**batch).logits, batch["labels"])
    keep = batch["labels"] != -100
    assert preds.shape == batch["labels"].shape
    assert (preds[~keep] == -100).all()
    assert torch.equal(preds[keep], dense_preds[keep])


def test_length_grouped_sampler_is_a_deterministic_grouped_permutation():
    rng = np.random.default_rng(0)
    full = rng.random(1000) < 0.5  # the spec: half full length, the rest uniform 6..515
    lengths = np.where(full, 515, rng.integers(6, 516, 1000))
    sampler = LengthGroupedSampler(lengths, batch_size=16, seed=3, group=10)
    order = np.array(list(sampler))
    assert sorted(order.tolist()) == list(range(1000)) and len(sampler) == 1000
    assert np.array_equal(order, LengthGroupedSampler(lengths, 16, seed=3, group=10).order())
    sampler.set_epoch(1)
    assert not np.array_equal(order, np.array(list(sampler)))
    assert not np.array_equal(order, LengthGroupedSampler(lengths, 16, seed=4, group=10).order())
    # padded positions of 16-row batches (each padded to its longest row) vs random batches
    def padding(o):
        batches = [lengths[o[i:i + 16]] for i in range(0, len(o), 16)]
        return sum(int((b.max() - b).sum()) for b in batches)
    random_order = np.random.default_rng(1).permutation(1000)
    assert padding(order) < 0.25 * padding(random_order)
    # 1000 = 62 full batches + 8: the partial batch is last, so chunks stay aligned
    assert lengths[order[-8:]].max() <= np.sort(lengths[order[-160:]])[80]


def test_dataset_lengths_of_our_datasets():
    from genemask_viz.training.corpus import SequenceDataset
    ds = SequenceDataset(["ACGTACGTAC", "ACGTACG", "A" * 30], k=6, max_length=20)
    assert dataset_lengths(ds).tolist() == [10, 7, 23]  # cut at max_length - 2 + k - 1 nt


def test_presets_dropout_and_overrides():
    logo = model_config("logo")
    assert logo.attention_probs_dropout_prob == 0.0 and logo.hidden_dropout_prob == 0.0  # release
    base = model_config("dnabert-base")
    assert base.attention_probs_dropout_prob == 0.1 and base.hidden_dropout_prob == 0.1  # DNABERT
    tiny = build_mlm(resolve_model("tiny"))
    assert isinstance(tiny, SparseBertForMaskedLM) and tiny.config._attn_implementation == "sdpa"
    assert tiny.config.attention_probs_dropout_prob == 0.0 and tiny.config.hidden_dropout_prob == 0.1
    changed = build_mlm(resolve_model("tiny"), attention_dropout=0.1, hidden_dropout=0.0)
    assert changed.config.attention_probs_dropout_prob == 0.1 and changed.config.hidden_dropout_prob == 0.0
    with pytest.raises(GeneMaskInputError, match="attention_probs_dropout_prob"):
        build_mlm(resolve_model("tiny"), attention_dropout=1.5)


def test_masked_cross_entropy_matches_torch_value_and_gradient():
    g = torch.Generator().manual_seed(3)
    logits = (3 * torch.randn(37, 101, generator=g)).requires_grad_(True)
    target = torch.randint(0, 101, (37,), generator=g)
    for divisor, reference in ((None, lambda x: torch.nn.functional.cross_entropy(x, target)),
                               (torch.tensor(50), lambda x: torch.nn.functional.cross_entropy(
                                   x, target, reduction="sum") / 50)):
        ours = masked_cross_entropy(logits, target, divisor)
        (grad_ours,) = torch.autograd.grad(3.0 * ours, logits)
        ref = reference(logits)
        (grad_ref,) = torch.autograd.grad(3.0 * ref, logits)
        assert torch.allclose(ours, ref, rtol=0, atol=1e-5)
        assert torch.allclose(grad_ours, grad_ref, rtol=1e-5, atol=1e-7)
    # bf16 logits (autocast): the loss is computed in fp32, the gradient comes back in bf16
    low = logits.detach().bfloat16().requires_grad_(True)
    loss = masked_cross_entropy(low, target)
    loss.backward()
    assert loss.dtype == torch.float32 and low.grad.dtype == torch.bfloat16
    ref = torch.nn.functional.cross_entropy(low.detach().float(), target)
    assert torch.allclose(loss, ref, atol=1e-5)
    # without gradients (evaluation) it is torch's own
    with torch.no_grad():
        assert torch.allclose(masked_cross_entropy(logits, target),
                              torch.nn.functional.cross_entropy(logits, target), atol=1e-6)


def test_bits_dropout_drops_exactly_its_quantised_share_and_scales_survivors(monkeypatch):
    # fed every int16 value once, it drops exactly round(p * 65536) of them
    every = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    monkeypatch.setattr(fastmlm, "_random_int16", lambda numel, device=None: every[:numel])
    x = torch.ones(65536, requires_grad=True)
    for p in (0.1, 0.5, 0.03):
        dropped = round(p * 65536)
        out = BitsDropout(p).train()(x)
        assert int((out == 0).sum()) == dropped
        assert torch.allclose(out[out != 0], torch.tensor(65536 / (65536 - dropped)))
        assert abs(float(out.detach().mean()) - 1.0) < 1e-6  # the expectation is the input's
    # the gradient is the same mask and scale
    out = BitsDropout(0.1).train()(x)
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(grad, out.detach())


def test_bits_dropout_with_real_draws(monkeypatch):
    x = torch.randn(64, 1000)
    layer = BitsDropout(0.1)
    torch.manual_seed(5)
    a = layer.train()(x)
    torch.manual_seed(5)
    assert torch.equal(a, layer(x))  # seeded by torch's generator
    share = float((a == 0).float().mean())
    # binomial: n = 64,000, p = 0.1000061, sd 0.0012; 5 sd either side
    assert abs(share - 0.1) < 0.006
    kept = a != 0
    assert torch.allclose(a[kept], x[kept] * 65536 / (65536 - 6554))
    assert torch.equal(layer.eval()(x), x) and torch.equal(BitsDropout(0.0).train()(x), x)
    # every int16 value appears about equally often (no bias in any 16-bit slice)
    draws = fastmlm._random_int16(400_003).long()
    assert len(draws) == 400_003
    counts = torch.bincount((draws + 32768) // 4096, minlength=16).float()
    assert float(counts.min()) > 400_003 / 16 * 0.97 and float(counts.max()) < 400_003 / 16 * 1.03


def test_use_bits_dropout_swaps_every_dropout_and_keeps_the_model():
    model = build_mlm(resolve_model("tiny"), fast_dropout=False)
    before = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert all(type(m) is torch.nn.Dropout for m in model.modules() if isinstance(m, torch.nn.Dropout))
    n = use_bits_dropout(model)
    after = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert n == len(before) == len(after) and all(type(m) is BitsDropout for m in after)
    assert [m.p for m in after] == before
    assert all(type(m) is BitsDropout for m in build_mlm(resolve_model("tiny")).modules()
               if isinstance(m, torch.nn.Dropout))  # the default


def test_key_padding_mask_is_one_row_per_sequence_and_changes_nothing():
    sparse, dense = twin_models()
    batch = fixed_batch()
    row = key_padding_mask(batch["attention_mask"], "sdpa")
    assert row.shape == (3, 1, 1, 40) and row.dtype == torch.bool
    assert torch.equal(row[:, 0, 0], batch["attention_mask"].bool())
    assert key_padding_mask(torch.ones(2, 5, dtype=torch.long), "sdpa") is None  # nothing padded
    assert key_padding_mask(batch["attention_mask"], "eager") is batch["attention_mask"]
    with torch.no_grad():
        ours = sparse.bert(input_ids=batch["input_ids"], attention_mask=row).last_hidden_state
        theirs = dense.bert(input_ids=batch["input_ids"],
                            attention_mask=batch["attention_mask"]).last_hidden_state
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_pretrain_keeps_stdout_clean_and_quiet_is_quiet(tmp_path, capfd):
    from genemask_viz.training import registry as reg
    from genemask_viz.training.pretrain import PretrainConfig, default_threads
    from genemask_viz.training.worker import execute_run
    import os
    assert default_threads() == len(os.sched_getaffinity(0))
    cfg = dict(corpus="demo", strategy="random", model="tiny", steps=2, batch_size=4, max_length=64,
               n_val=4, save_steps=1, logging_steps=1, seed=1, threads=1)
    loud = reg.create_run("pretrain", asdict(PretrainConfig(**cfg)), run_dir=tmp_path / "loud")
    capfd.readouterr()
    assert execute_run(loud, progress=True)["state"] == "done"
    out, err = capfd.readouterr()
    assert "loss" not in out and "{" not in out  # no {'loss': ...} dicts on stdout
    assert "pretraining" in err and "2/2" in err  # the progress bar is on stderr
    quiet = reg.create_run("pretrain", asdict(PretrainConfig(**cfg)), run_dir=tmp_path / "quiet")
    assert execute_run(quiet, progress=False)["state"] == "done"
    out, err = capfd.readouterr()
    assert "loss" not in out and "%|" not in err and "shards" not in err
    assert len(reg.read_metrics(quiet)) >= 2  # the losses went to metrics.jsonl instead


def test_precision_auto_is_bf16_on_a_cpu_only_where_it_pays(monkeypatch):
    """auto: bf16 on a CPU only with native bf16 AND a model >= 256 wide; bf16 refused if emulated."""
    from genemask_viz.training import pretrain as pt
    if torch.cuda.is_available():
        pytest.skip("the CPU rule is what is tested; this machine has a GPU")
    for native in (True, False):
        monkeypatch.setattr(pt, "cpu_native_bf16", lambda native=native: native)
        assert pt.device_info("auto", hidden_size=64)["bf16"] is False      # tiny: bf16 is slower
        assert pt.device_info("auto", hidden_size=None)["bf16"] is False    # width unknown
        assert pt.device_info("auto", hidden_size=256)["bf16"] is native    # logo
        assert pt.device_info("fp32", hidden_size=768)["bf16"] is False
        if native:
            assert pt.device_info("bf16", hidden_size=64)["bf16"] is True  # asked for: honoured
        else:
            with pytest.raises(GeneMaskInputError, match="native bf16"):
                pt.device_info("bf16")
    assert pt._hidden_size(resolve_model("tiny")) == 64
    assert pt._hidden_size(resolve_model("logo")) == 256


def test_bf16_autocast_pretraining_on_a_cpu_keeps_fp32_weights(tmp_path, monkeypatch):
    """bf16 autocast: the same first loss as fp32 up to bf16 rounding, fp32 weights saved."""
    from genemask_viz.training import pretrain as pt
    from genemask_viz.training import registry as reg
    from genemask_viz.training.worker import execute_run
    if not pt.cpu_native_bf16() or torch.cuda.is_available():
        # the autocast path itself runs on any CPU; only its speed needs AMX/AVX512-BF16
        monkeypatch.setattr(pt, "cpu_native_bf16", lambda: True)
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = pt.PretrainConfig(corpus="demo", strategy="random", model="tiny", steps=3,
                                batch_size=8, max_length=64, n_val=8, save_steps=100,
                                logging_steps=1, seed=3, threads=1, precision=precision)
        run = reg.create_run("pretrain", asdict(cfg), run_dir=tmp_path / precision)
        assert execute_run(run, progress=False)["state"] == "done"
        losses[precision] = reg.read_metrics(run)["loss"].dropna().tolist()
    # same init, same first batch and mask: only the matmul precision differs
    assert losses["bf16"][0] != losses["fp32"][0]
    assert abs(losses["bf16"][0] - losses["fp32"][0]) < 0.02
    assert all(np.isfinite(losses["bf16"]))
    model = BertForMaskedLM.from_pretrained(tmp_path / "bf16" / "model")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
