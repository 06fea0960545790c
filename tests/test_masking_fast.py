"""Compiled (numba) masking kernels == the batched torch code, with identical draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.masking import hidden_nucleotides, mask_batch, result, strategies
from genemask_viz.masking.result import as_batch

FIELDS = ("token_mask", "maskable", "centres", "spans", "span_kind", "centre_index", "hidden_nt",
          "nt_valid", "chosen_pos", "chosen_id", "chosen_score", "extended")


def both_paths(monkeypatch, *args, **kwargs):
    """(kernel result, torch result) of ``mask_batch(*args, **kwargs)``."""
    fast = mask_batch(*args, **kwargs)
    monkeypatch.setattr(result, "_KERNELS", False)
    slow = mask_batch(*args, **kwargs)
    monkeypatch.setattr(result, "_KERNELS", True)
    return fast, slow


def assert_identical(fast, slow):
    assert fast.strategy == slow.strategy and fast.k == slow.k
    for f in FIELDS:
        x, y = getattr(fast, f), getattr(slow, f)
        if y is None:
            assert x is None, f
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, f
        assert torch.equal(x, y), f"{fast.strategy}: {f} differs"


def messy_batch(rng, k, B=9, T=70):
    """Ids anywhere in the vocabulary (specials and [UNK] mid-row), padding, an empty row."""
    vocab = 5 + 4 ** k
    ids = torch.as_tensor(rng.integers(5, vocab, (B, T)))
    ids[torch.as_tensor(rng.random((B, T)) < 0.04)] = int(rng.integers(0, 5))
    att = torch.ones(B, T, dtype=torch.long)
    for b in range(B):
        L = int(rng.integers(0, T + 1)) if b else 0      # row 0: all padding
        att[b, L:] = 0
        ids[b, L:] = 0
    special = torch.as_tensor(rng.random((B, T)) < 0.03)
    return ids, att, special


def score_vector(rng, k, ties=False):
    s = rng.normal(size=5 + 4 ** k)
    if ties:
        s = np.round(s)                                   # many equal scores
    s[rng.random(s.size) < 0.1] = -np.inf
    s[rng.random(s.size) < 0.02] = np.inf
    s[rng.random(s.size) < 0.05] = np.nan
    s[:5] = -np.inf
    return s


@pytest.mark.parametrize("k", [3, 4, 5, 6])
@pytest.mark.parametrize("strategy", ["random", "dnabert", "genemask", "genemask-released"])
def test_kernel_matches_torch(monkeypatch, strategy, k):
    rng = np.random.default_rng(k * 10 + len(strategy))
    for trial in range(4):
        ids, att, special = messy_batch(rng, k, T=int(rng.integers(1, 120)))
        scores = score_vector(rng, k, ties=trial % 2 == 1)
        centres = torch.as_tensor(rng.random(ids.shape) < (0.02, 0.1, 0.4, 1.0)[trial])
        centres[2] = False                                # a row without centres
        for details in (True, False):
            fast, slow = both_paths(monkeypatch, ids, att, strategy, k=k, scores=scores,
                                    centres=centres, special_tokens_mask=special,
                                    details=details)
            assert_identical(fast, slow)
        assert fast.token_mask.any() or not fast.centres.any()


@pytest.mark.parametrize("params", [
    dict(top_fraction=0.0), dict(top_fraction=1.0), dict(top_fraction=0.3, extend_all_below=0),
    dict(extend_all_below=100), dict(extend_half_width=0), dict(extend_half_width=2),
    dict(span_offsets=(0, 0)), dict(span_offsets=(-4, 1)), dict(span_offsets=(0, 7))])
def test_kernel_matches_torch_parameters(monkeypatch, params):
    rng = np.random.default_rng(7)
    ids, att, special = messy_batch(rng, 6, B=6, T=300)
    scores = score_vector(rng, 6, ties=True)
    for strategy in ("genemask", "genemask-released", "dnabert"):
        kw = {key: v for key, v in params.items() if strategy != "dnabert" or key == "span_offsets"}
        fast, slow = both_paths(monkeypatch, ids, att, strategy, scores=scores, seed=3, **kw)
        assert_identical(fast, slow)
        fast, slow = both_paths(monkeypatch, ids, None, strategy, scores=scores, seed=4, **kw)
        assert_identical(fast, slow)


def test_kernel_same_random_draws(monkeypatch):
    """Seeded draws: the kernel path consumes the generator exactly as the torch path."""
    rng = np.random.default_rng(1)
    ids, att, _ = messy_batch(rng, 6, B=64, T=512)
    scores = score_vector(rng, 6)
    for strategy in ("random", "dnabert", "genemask"):
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        fast = mask_batch(ids, att, strategy, scores=scores, generator=g1)
        monkeypatch.setattr(result, "_KERNELS", False)
        slow = mask_batch(ids, att, strategy, scores=scores, generator=g2)
        monkeypatch.setattr(result, "_KERNELS", True)
        assert_identical(fast, slow)
        assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
        assert fast.centres.sum() > 100


def test_hidden_nucleotides_kernel(monkeypatch):
    rng = np.random.default_rng(2)
    for k in (3, 6):
        ids, att, _ = messy_batch(rng, k, B=7, T=40)
        mask = torch.as_tensor(rng.random(ids.shape) < 0.7)
        fast = hidden_nucleotides(ids, mask, k, att)
        monkeypatch.setattr(result, "_KERNELS", False)
        slow = hidden_nucleotides(ids, mask, k, att)
        slow_1d = hidden_nucleotides(ids[3], mask[3], k, att[3])
        monkeypatch.setattr(result, "_KERNELS", True)
        for x, y in zip(fast, slow):
            assert x.dtype == torch.bool and x.shape == (7, 40 + k - 1) and torch.equal(x, y)
        assert fast[0].any() and fast[1].any()
        # 1-D rows and int masks still take the torch path with the same answer
        one = hidden_nucleotides(ids[3], mask[3].int(), k, att[3])
        assert torch.equal(one[0], slow_1d[0]) and torch.equal(one[0], fast[0][3])


def test_id_range_and_scores_checks():
    ids = torch.tensor([[2, 7, 4100, 3]])
    assert as_batch(ids, k=6)[0] is not None
    with pytest.raises(GeneMaskInputError, match=r"found -1\.\.4100"):
        as_batch(torch.tensor([[2, -1, 4100]]), k=6)
    with pytest.raises(GeneMaskInputError, match=r"found 2\.\.4101"):
        as_batch(torch.tensor([[2, 4101]]), k=6)
    s = np.zeros(5 + 4 ** 3)
    s[7] = np.nan
    checked = strategies._check_scores(s, 3)
    assert checked.dtype == torch.float64 and checked[7] == -np.inf and np.isnan(s[7])
    assert strategies._check_scores(checked, 3) is checked
    t = torch.zeros(5 + 4 ** 3, dtype=torch.float64)
    t[0] = np.nan
    again = strategies._check_scores(t, 3)
    assert again is not t and again[0] == -np.inf and torch.isnan(t[0])
