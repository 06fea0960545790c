"""Masking strategies: batched == loop reference, invariants, rates, lengths 1..510."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.masking import (STRATEGIES, apply_bert_rule, hidden_nucleotides, mask_batch,
                                  mask_dnabert, mask_genemask, mask_genemask_released,
                                  mask_pmi_span, mask_random, reference_mask, token_scores,
                                  unit_vocabulary)
from genemask_viz.tokens import KmerTokenizer, kmer_to_id, kmer_vocab

K = 6
TOK = KmerTokenizer(k=K)
FIELDS = ("token_mask", "hidden_nt", "nt_valid", "centres", "spans", "span_kind")
GM_FIELDS = ("chosen_pos", "chosen_id", "chosen_score", "extended")


def random_table(seed=0, k=K):
    rng = np.random.default_rng(seed)
    kmers = kmer_vocab(k)[5:]
    score = rng.normal(size=len(kmers))
    score[rng.random(len(kmers)) < 0.05] = np.nan       # some unscored k-mers
    return pd.DataFrame({"ngram": kmers, "n": k, "genemask_score": score})


def ngram_table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(2, 11):
        grams = sorted({"".join(rng.choice(list("ACGT"), n)) for _ in range(min(4 ** n, 2000))})
        rows += [(g, n, s) for g, s in zip(grams, rng.normal(size=len(grams)))]
    return pd.DataFrame(rows, columns=["ngram", "n", "genemask_score"])


SCORES = token_scores(random_table())
UNITS = unit_vocabulary(ngram_table(), top_fraction=0.3)


def batch(lengths, seed=0, n_rate=0.0, k=K):
    """Random sequences of the given token counts (N bases at n_rate -> [UNK])."""
    rng = np.random.default_rng(seed)
    seqs = []
    for L in lengths:
        s = rng.choice(list("ACGT"), size=L + k - 1)
        s[rng.random(s.size) < n_rate] = "N"
        seqs.append("".join(s))
    tok = TOK if k == K else KmerTokenizer(k=k)
    return tok.encode_batch(seqs)


def assert_same(a, b, fields):
    for f in fields:
        x, y = getattr(a, f), getattr(b, f)
        assert torch.equal(x, y), f"{a.strategy}: {f} differs"


# --- batched == loop reference, identical draws ---------------------------------------------

@pytest.mark.parametrize("strategy", ["random", "dnabert", "genemask", "genemask-released"])
@pytest.mark.parametrize("k", [3, 6])
def test_centre_strategies_match_reference(strategy, k):
    scores = token_scores(random_table(1, k), k)
    for trial in range(3):
        b = batch(np.random.default_rng(trial).integers(1, 90, 7), seed=trial, n_rate=0.02, k=k)
        g = torch.Generator().manual_seed(trial)
        # dense centres so that extended spans, ties and clipping all occur
        centres = torch.rand(b["input_ids"].shape, generator=g) < (0.3 if trial else 0.05)
        res = mask_batch(b["input_ids"], b["attention_mask"], strategy, k=k, scores=scores,
                         centres=centres)
        ref = reference_mask(strategy, b["input_ids"], centres, k=k,
                             attention_mask=b["attention_mask"], scores=scores)
        assert_same(res, ref, FIELDS + (GM_FIELDS if "genemask" in strategy else ()))
        assert res.token_mask.any()


def test_pmi_span_matches_reference():
    for trial in range(4):
        b = batch(np.random.default_rng(10 + trial).integers(1, 70, 5), seed=10 + trial,
                  n_rate=0.01)
        B, W = b["input_ids"].shape[0], b["input_ids"].shape[1] + K - 1
        g = torch.Generator().manual_seed(trial)
        pr = torch.rand(B, W, generator=g, dtype=torch.float64)
        tb = torch.rand(B, W, generator=g, dtype=torch.float64)
        if trial == 3:
            tb = (tb * 3).floor()          # many tied priorities: position decides
        res = mask_pmi_span(b["input_ids"], b["attention_mask"], units=UNITS, priorities=pr,
                            tie_break=tb)
        ref = reference_mask("pmi-span", b["input_ids"], attention_mask=b["attention_mask"],
                             units=UNITS, priorities=pr, tie_break=tb)
        assert_same(res, ref, FIELDS + ("units",))
        assert (res.units[:, 2] > res.units[:, 1]).any()   # multi-nucleotide units were drawn


# --- invariants -----------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_invariants_mixed_lengths(strategy):
    lengths = list(range(1, 40)) + [100, 255, 509, 510]
    b = batch(lengths, seed=3, n_rate=0.01)
    ids, att = b["input_ids"], b["attention_mask"]
    ids_before = ids.clone()
    res = mask_batch(ids, att, strategy, scores=SCORES, units=UNITS, seed=5)
    assert torch.equal(ids, ids_before)
    special = ids < 5
    assert not (res.token_mask & special).any()               # specials, [UNK], padding
    assert not (res.token_mask & ~att.bool()).any()
    # token mask == union of the spans, restricted to maskable positions
    union = torch.zeros_like(res.token_mask)
    for row, f, l in res.spans.tolist():
        assert 1 <= f <= l <= int(att[row].sum()) - 2          # clipped to the real tokens
        union[row, f:l + 1] = True
    assert torch.equal(union & res.maskable, res.token_mask)
    # hidden nucleotides agree with the definition
    hidden, valid = hidden_nucleotides(ids, res.token_mask, K, att)
    assert torch.equal(hidden, res.hidden_nt) and torch.equal(valid, res.nt_valid)
    assert torch.equal(valid.sum(1), (att.sum(1) - 2) + K - 1)
    assert res.token_mask[torch.tensor(lengths) >= 200].any(1).all()
    # same seed -> same mask; other seed -> other mask
    again = mask_batch(ids, att, strategy, scores=SCORES, units=UNITS, seed=5)
    other = mask_batch(ids, att, strategy, scores=SCORES, units=UNITS, seed=6)
    assert torch.equal(again.token_mask, res.token_mask)
    if strategy != "global-pmi":  # its only draw is the tie-break: a table without ties fixes it
        assert not torch.equal(other.token_mask, res.token_mask)


def test_every_length_1_to_510():
    lengths = np.arange(1, 511)
    b = batch(lengths, seed=4)
    for strategy in STRATEGIES:
        res = mask_batch(b["input_ids"], b["attention_mask"], strategy, scores=SCORES,
                         units=UNITS, seed=1, details=(strategy != "random"))
        n_masked = res.token_mask.sum(1)
        assert (n_masked <= torch.as_tensor(lengths)).all()
        assert not (res.token_mask & (b["input_ids"] < 5)).any()
        if strategy == "pmi-span":   # at least one unit per row: every row has a masked token
            assert (n_masked > 0).all()
            assert (res.hidden_nt.sum(1) >= 1).all()


def test_lone_dnabert_span_hides_one_nucleotide():
    b = batch([60] * 4, seed=5)
    for c in (4, 20, 40, 55):
        centres = torch.zeros_like(b["input_ids"], dtype=torch.bool)
        centres[:, c] = True
        res = mask_dnabert(b["input_ids"], b["attention_mask"], centres=centres)
        assert torch.equal(res.token_mask.sum(1), torch.full((4,), 6))
        assert torch.equal(res.hidden_nt.sum(1), torch.ones(4, dtype=torch.long))
        assert res.hidden_nt[:, c + 3].all()          # the nucleotide column c+3
    # a centre at the first k-mer is clipped: 4 tokens, and the edge bases lose cover
    centres = torch.zeros_like(b["input_ids"], dtype=torch.bool)
    centres[:, 1] = True
    res = mask_dnabert(b["input_ids"], b["attention_mask"], centres=centres)
    assert res.token_mask[0].nonzero()[:, 0].tolist() == [1, 2, 3, 4]
    assert res.spans[0].tolist() == [0, 1, 4]


def planted(seq_len=80):
    """A row with a top-scoring k-mer planted at candidate c+1 of centre c = 30."""
    rng = np.random.default_rng(6)
    seq = list(rng.choice(list("ACGT"), seq_len + K - 1))
    seq[30:36] = list("GATTAC")         # the k-mer at token position 31 (c + 1)
    ids = TOK.encode_batch(["".join(seq)])
    scores = np.full_like(SCORES, 0.0)
    scores[5:] = np.linspace(-1, 1, scores.size - 5)
    scores[kmer_to_id("GATTAC")] = 50.0
    return ids, scores


def test_genemask_picks_highest_scoring_kmer_and_hides_it():
    b, scores = planted()
    centres = torch.zeros_like(b["input_ids"], dtype=torch.bool)
    centres[0, 30] = True
    res = mask_genemask(b["input_ids"], b["attention_mask"], scores=scores, centres=centres)
    assert res.chosen_pos.tolist() == [31] and res.chosen_score.tolist() == [50.0]
    assert res.chosen_id.tolist() == [kmer_to_id("GATTAC")]
    assert res.extended.tolist() == [True]            # 1 centre < 5: all extended
    # the 11-token span j*-5..j*+5 contains the 6-token span and hides exactly the k-mer's 6 nt
    assert res.token_mask[0].nonzero()[:, 0].tolist() == list(range(26, 37))
    hidden_cols = res.hidden_nt[0].nonzero()[:, 0].tolist()
    assert hidden_cols == list(range(31, 37))
    seq = TOK.decode_to_sequence(b["input_ids"][0])
    assert "".join(seq[c - 1] for c in hidden_cols) == "GATTAC"
    # the released variant ignores the content: scores[position] decides
    rel = mask_genemask_released(b["input_ids"], b["attention_mask"], scores=scores,
                                 centres=centres)
    cand = [30, 28, 29, 31, 32, 33]
    assert rel.chosen_pos.tolist() == [cand[int(np.argmax(scores[cand]))]] == [33]
    assert rel.chosen_score.tolist() == [scores[33]]


def test_genemask_top_half_rule():
    b = batch([510], seed=7)
    ids = b["input_ids"]
    for m, n_ext in ((4, 4), (8, 8), (9, 5), (12, 6)):
        centres = torch.zeros_like(ids, dtype=torch.bool)
        centres[0, torch.linspace(20, 490, m).long()] = True
        res = mask_genemask(ids, b["attention_mask"], scores=SCORES, centres=centres)
        assert int(res.extended.sum()) == n_ext == (m if math.ceil(m / 2) < 5 else math.ceil(m / 2))
        # the extended centres are the best-scoring ones
        assert res.chosen_score[res.extended].min() >= res.chosen_score[~res.extended].max() \
            if n_ext < m else True
        lone = mask_genemask(ids, b["attention_mask"], scores=SCORES, centres=centres,
                             extend_all_below=0)
        assert int(lone.extended.sum()) == math.ceil(m / 2)


# --- rates at 510 tokens --------------------------------------------------------------------

RATES = {  # strategy: (tokens masked, nucleotides hidden), the figures
    "genemask": (0.152, 0.079), "dnabert": (0.141, 0.034), "random": (0.15, 0.0)}


@pytest.mark.parametrize("strategy", sorted(RATES))
def test_rates_at_510_tokens(strategy):
    b = batch([510] * 512, seed=8)
    g = torch.Generator().manual_seed(9)
    tok, hid = [], []
    for _ in range(4):   # 2,048 sequences
        res = mask_batch(b["input_ids"], b["attention_mask"], strategy, scores=SCORES, generator=g)
        tok.append(res.token_rate)
        hid.append(res.hidden_rate)
    want_tok, want_hid = RATES[strategy]
    assert abs(np.mean(tok) - want_tok) < 0.01
    assert abs(np.mean(hid) - want_hid) < 0.01
    if strategy == "random":
        assert np.mean(hid) < 0.002


def test_pmi_span_rate():
    b = batch([510] * 64, seed=11)
    res = mask_pmi_span(b["input_ids"], b["attention_mask"], units=UNITS, seed=2)
    per_row = res.hidden_nt.sum(1) / res.nt_valid.sum(1)
    # the smallest prefix of units reaching 15%: the last unit (<= 10 nt) and the gaps it
    # closes overshoot a little
    assert (per_row >= 0.15).all() and (per_row < 0.18).all() and per_row.mean() < 0.16
    assert 0.2 < res.token_rate < 0.6     # hiding a base takes all k tokens around it


# --- BERT rule, tables, errors --------------------------------------------------------------

def test_bert_rule_and_labels():
    b = batch([510] * 64, seed=12)
    ids = b["input_ids"]
    res = mask_genemask(ids, b["attention_mask"], scores=SCORES, seed=0)
    before = ids.clone()
    inputs, labels = apply_bert_rule(ids, res.token_mask, K,
                                     generator=torch.Generator().manual_seed(100))
    assert torch.equal(ids, before)
    assert (labels[~res.token_mask] == -100).all()
    assert torch.equal(labels[res.token_mask], ids[res.token_mask])
    assert torch.equal(inputs[~res.token_mask], ids[~res.token_mask])
    m = res.token_mask
    frac_mask = (inputs[m] == 4).float().mean().item()
    frac_same = (inputs[m] == ids[m]).float().mean().item()
    assert abs(frac_mask - 0.8) < 0.02 and abs(frac_same - 0.1) < 0.02
    assert (inputs[m] >= 4).all()                 # random replacements are k-mers


def test_token_scores_from_table():
    table = pd.DataFrame({"ngram": ["AAAAAA", "GGGGGG", "ACGTAC", "ACGTA", "ACGNNA"],
                          "n": [6, 6, 6, 5, 6], "genemask_score": [1.5, -2.0, np.nan, 9.0, 3.0]})
    s = token_scores(table, 6)
    assert s.shape == (5 + 4 ** 6,)
    assert s[kmer_to_id("AAAAAA")] == 1.5 and s[kmer_to_id("GGGGGG")] == -2.0
    assert s[kmer_to_id("ACGTAC")] == -np.inf and np.isneginf(s[:5]).all()
    assert np.isfinite(s).sum() == 2
    with pytest.raises(GeneMaskInputError, match="genemask_score"):
        token_scores(table.drop(columns="genemask_score"))


def test_unit_vocabulary_top_fraction():
    table = pd.DataFrame({"ngram": ["AC", "GT", "TT", "CG", "ACG", "TTT"], "n": [2, 2, 2, 2, 3, 3],
                          "genemask_score": [3.0, 2.0, 1.0, -1.0, 0.5, -0.5]})
    units = unit_vocabulary(table, top_fraction=0.5)
    assert units.strings(2) == ["AC", "GT"] and units.strings(3) == ["ACG"]
    assert unit_vocabulary(table, top_fraction=1.0).strings(2) == ["AC", "TT", "GT"]


def test_bad_inputs():
    b = batch([20], seed=0)
    with pytest.raises(GeneMaskInputError, match="need k-mer scores"):
        mask_genemask(b["input_ids"])
    with pytest.raises(GeneMaskInputError, match="length 5"):
        mask_genemask(b["input_ids"], scores=np.zeros(10))
    with pytest.raises(GeneMaskInputError, match=r"\[0, 69\)"):
        mask_random(b["input_ids"], k=3)
    with pytest.raises(GeneMaskInputError, match="unknown strategy"):
        mask_batch(b["input_ids"], strategy="bert")
    with pytest.raises(GeneMaskInputError, match="centres has shape"):
        mask_dnabert(b["input_ids"], centres=torch.ones(3, 3, dtype=torch.bool))
