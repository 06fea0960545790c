"""global-pmi and the released CM-GEMS stages: batched == loop reference with identical draws,
the released bugs, hand-made cases, names / collator / dispatch wiring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.masking import GeneMaskCollator, mask_batch, reference_mask, token_scores
from genemask_viz.masking.global_pmi import (mask_cm_gems_released_genemask,
                                             mask_cm_gems_released_global_pmi, mask_global_pmi)
from genemask_viz.masking.names import (CURRICULA, STRATEGIES, STRATEGY_DESCRIPTIONS,
                                        TABLE_STRATEGIES)
from genemask_viz.tokens import KmerTokenizer, kmer_to_id, kmer_vocab

K = 6
TOK = KmerTokenizer(k=K)
FIELDS = ("token_mask", "hidden_nt", "nt_valid", "centres", "spans", "span_kind",
          "chosen_pos", "chosen_id", "chosen_score", "extended")


def table(seed=0, tied=False):
    rng = np.random.default_rng(seed)
    kmers = kmer_vocab(K)[5:]
    score = rng.normal(size=len(kmers))
    if tied:                                   # few distinct scores: many ties
        score = np.round(score)
    score[rng.random(len(kmers)) < 0.05] = np.nan
    return pd.DataFrame({"ngram": kmers, "n": K, "genemask_score": score})


SCORES = token_scores(table())


def batch(lengths, seed=0, n_rate=0.0, repeat=False):
    rng = np.random.default_rng(seed)
    seqs = []
    for L in lengths:
        if repeat:   # a low-complexity stretch: the same k-mers occur many times (ties)
            s = np.array(list(("ACGTTG" * (L // 6 + 2))[:L + K - 1]))
            s[rng.random(s.size) < 0.2] = rng.choice(list("ACGT"))
        else:
            s = rng.choice(list("ACGT"), size=L + K - 1)
        s[rng.random(s.size) < n_rate] = "N"
        seqs.append("".join(s))
    return TOK.encode_batch(seqs)


def assert_same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x is not None and y is not None, f
        if x.dtype.is_floating_point:
            assert torch.allclose(x, y, equal_nan=True), f
        else:
            assert torch.equal(x, y), f"{f}: {x} != {y}"


LENGTHS = [1, 3, 7, 12, 30, 64, 120, 250, 510]


@pytest.mark.parametrize("seed, top_k", [(0, None), (1, 300)])
def test_global_pmi_matches_reference(seed, top_k):
    for repeat, scores in ((False, SCORES), (True, token_scores(table(seed, tied=True)))):
        b = batch(LENGTHS, seed=seed, n_rate=0.02, repeat=repeat)
        ids, att = b["input_ids"], b["attention_mask"]
        tie = torch.rand(ids.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        for rate in (0.15, 0.4):
            res = mask_global_pmi(ids, att, scores=scores, tie_break=tie, target_rate=rate, top_k=top_k)
            ref = reference_mask("global-pmi", ids, attention_mask=att, scores=scores,
                                 tie_break=tie, target_rate=rate, top_k=top_k)
            assert_same(res, ref)


@pytest.mark.parametrize("seed", [0, 1])
def test_released_stages_match_reference(seed):
    b = batch(LENGTHS + [400, 510], seed=seed, n_rate=0.02)
    ids, att = b["input_ids"], b["attention_mask"]
    g = torch.Generator().manual_seed(seed)
    for prob in (0.0176, 0.06):     # 0.06: rows with >= 10 centres, where bug 2 shows
        centres = torch.rand(ids.shape, generator=g) < prob
        for name, fn in (("cm-gems-released-genemask", mask_cm_gems_released_genemask),
                         ("cm-gems-released-global-pmi", mask_cm_gems_released_global_pmi)):
            res = fn(ids, att, scores=SCORES, centres=centres)
            ref = reference_mask(name, ids, centres, attention_mask=att, scores=SCORES)
            assert_same(res, ref)


def test_global_pmi_by_hand():
    """Scores favour one k-mer: its occurrences are masked first, each window hides it."""
    seq = "ACGTAC" + "GGGGCC" + "TTATTA" * 6 + "GGGGCC" + "ACACAGTCAGTC"
    b = TOK.encode_batch([seq])
    ids = b["input_ids"]
    scores = np.full(5 + 4 ** K, 0.0)
    scores[:5] = -np.inf
    scores[kmer_to_id("GGGGCC")] = 5.0
    at = (ids[0] == kmer_to_id("GGGGCC")).nonzero()[:, 0].tolist()
    assert len(at) == 2
    n = int(b["attention_mask"].sum()) - 2
    res = mask_global_pmi(ids, b["attention_mask"], scores=scores, seed=0,
                          target_rate=22 / n)       # exactly two disjoint 11-token windows
    assert sorted(res.chosen_pos.tolist()) == at
    assert int(res.token_mask.sum()) == 22
    for j in at:                                    # the k-mer's k nucleotides are hidden
        assert res.hidden_nt[0, j:j + K].all()
        assert res.token_mask[0, j - 5:j + 6].all()
    # top_k=1 keeps only that k-mer: the rate cannot be reached, both windows still come
    res = mask_global_pmi(ids, None, scores=scores, seed=0, target_rate=0.9, top_k=1)
    assert sorted(res.chosen_pos.tolist()) == at


def test_global_pmi_rate_and_tie_break():
    b = batch([510] * 16, seed=3)
    ids, att = b["input_ids"], b["attention_mask"]
    res = mask_global_pmi(ids, att, scores=SCORES, seed=0)
    rate = res.token_mask.sum(1).double() / 510
    assert (rate >= 0.15).all() and (rate < 0.15 + 11 / 510).all()  # shortest sufficient prefix
    # by content: the anchors' scores are the best of the row (no unanchored k-mer beats them)
    s = torch.as_tensor(SCORES)[ids]
    for r in range(4):
        taken = res.chosen_score[res.centre_index[:, 0] == r]
        assert s[r][res.maskable[r] & ~res.centres[r]].max() <= taken.min()
    # ties: a tied table and another seed give another mask; the same seed the same one
    tied = token_scores(table(0, tied=True))
    a = mask_global_pmi(ids, att, scores=tied, seed=1).token_mask
    assert torch.equal(a, mask_global_pmi(ids, att, scores=tied, seed=1).token_mask)
    assert not torch.equal(a, mask_global_pmi(ids, att, scores=tied, seed=2).token_mask)


def test_released_global_stage_masks_same_positions_everywhere():
    """Bug 3: the position is read as the k-mer id, so the sequence does not matter."""
    b = batch([200] * 8, seed=5)
    ids = b["input_ids"]
    centres = torch.zeros(ids.shape, dtype=torch.bool)
    centres[:, 10:17] = True                       # 7 centres in every row
    res = mask_cm_gems_released_global_pmi(ids, b["attention_mask"], scores=SCORES, centres=centres)
    assert (res.token_mask == res.token_mask[0]).all()
    assert (res.centres.sum(1) == 7).all()
    correct = mask_global_pmi(ids, b["attention_mask"], scores=SCORES, seed=0)
    assert not (correct.token_mask == correct.token_mask[0]).all()


def test_released_genemask_stage_extends_first_half_not_best():
    """Bug 2: with 10 centres, the first 5 (left to right) are extended whatever they score."""
    b = batch([300], seed=6)
    ids = b["input_ids"]
    centres = torch.zeros(ids.shape, dtype=torch.bool)
    pos = [20, 45, 70, 95, 120, 145, 170, 195, 220, 245]
    centres[0, pos] = True
    scores = np.full(5 + 4 ** K, -np.inf)
    scores[5:] = np.arange(4 ** K, dtype=float)    # by position: later positions score higher
    res = mask_cm_gems_released_genemask(ids, None, scores=scores, centres=centres)
    assert res.extended.tolist() == [True] * 5 + [False] * 5
    assert res.chosen_pos.tolist() == [p + 3 for p in pos]   # best candidate: c+3 (bug 1)
    fixed = mask_batch(ids, None, "genemask-released", scores=scores, centres=centres)
    assert fixed.extended.tolist() == [False] * 5 + [True] * 5   # sorted first: the best half


def test_names_dispatch_and_collator():
    for name in ("global-pmi", "cm-gems", "cm-gems-released", "cm-gems-released-genemask",
                 "cm-gems-released-global-pmi"):
        assert name in STRATEGIES and name in TABLE_STRATEGIES and name in STRATEGY_DESCRIPTIONS
    b = batch([100, 200], seed=7)
    ids, att = b["input_ids"], b["attention_mask"]
    for curriculum, stages in CURRICULA.items():
        for stage, name in enumerate(stages):
            via = mask_batch(ids, att, curriculum, scores=SCORES, seed=4, stage=stage,
                             centre_prob=0.03)
            direct = mask_batch(ids, att, name, scores=SCORES, seed=4,
                                **({} if name == "global-pmi" else {"centre_prob": 0.03}))
            assert via.strategy == name and torch.equal(via.token_mask, direct.token_mask)
    with pytest.raises(GeneMaskInputError, match="stages"):
        mask_batch(ids, att, "cm-gems", scores=SCORES, stage=2)
    coll = GeneMaskCollator(TOK, strategy="cm-gems", table=table(), seed=0)
    feats = [{"input_ids": ids[i, :int(att[i].sum())]} for i in range(2)]
    masked = [(coll(feats)["labels"] != -100) for coll.stage in (0, 1)]
    g = [torch.Generator().manual_seed(0) for _ in range(2)]
    want = [mask_batch(ids, None, s, scores=SCORES, generator=gg, details=False).token_mask
            for s, gg in zip(("genemask", "global-pmi"), g)]
    assert torch.equal(masked[0], want[0]) and torch.equal(masked[1], want[1])
    assert not torch.equal(masked[0], masked[1])


def test_bad_input():
    b = batch([50], seed=0)
    with pytest.raises(GeneMaskInputError, match="scores"):
        mask_global_pmi(b["input_ids"], scores=None)
    with pytest.raises(GeneMaskInputError, match="target_rate"):
        mask_global_pmi(b["input_ids"], scores=SCORES, target_rate=1.5)
    with pytest.raises(GeneMaskInputError, match="top_k"):
        mask_global_pmi(b["input_ids"], scores=SCORES, top_k=0)
    with pytest.raises(GeneMaskInputError, match="tie_break"):
        mask_global_pmi(b["input_ids"], scores=SCORES, tie_break=torch.rand(2, 3))
