"""genemask_viz.interpret: reconstruction under the mask, saturation mutagenesis, windows, sites.

Science checked against slow loop references on small models (fresh, seeded weights).
The trained-model test (planted motif sites) lives in tests/test_interpret_trained.py.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.interpret import (attribute, class_logits, find_sites, mask_sequences,
                                    nucleotide_probabilities, reconstruct, reconstruction_score,
                                    saturation_mutagenesis, score_from_logits, strongest_windows)
from genemask_viz.masking import hidden_nucleotides
from genemask_viz.tokens import MASK_ID, KmerTokenizer, id_to_kmer
from genemask_viz.training.models import model_config

SEQS = ["ACGTTGCAAGCTTAGGCATCGATCGGATCCTAGCAAGTCGATGCTAGCTTAGC",
        "TTGACCATGGCATTACGGATCGATTTACGGCATAGCA",
        "GGGCCCATATATCGCGATTACGATCGTAGCTAGCTAGGATCCATGCAAT"]


@pytest.fixture(scope="module")
def mlm3():
    from transformers import BertForMaskedLM
    torch.manual_seed(0)
    return BertForMaskedLM(model_config("tiny", 3)).eval()


@pytest.fixture(scope="module")
def clf6():
    from transformers import BertForSequenceClassification
    torch.manual_seed(1)
    return BertForSequenceClassification(model_config("tiny", 6, num_labels=2)).eval()


def _loop_reference(logits: torch.Tensor, mask: torch.Tensor, k: int) -> dict:
    """P(base) at every covered column by loops: product over covering masked tokens of
    sum_{k-mers v with base o = b} P_t(v), renormalised (A, C, G, T order)."""
    probs = torch.softmax(logits[..., 5:].double(), dim=-1).numpy()       # [B, T, 4^k]
    kmers = [id_to_kmer(v + 5, k) for v in range(4 ** k)]
    B, T = mask.shape
    marg = np.zeros((B, T, k, 4))                                           # q_{t,o}(b)
    for v, kmer in enumerate(kmers):
        for o, base in enumerate(kmer):
            marg[:, :, o, "ACGT".index(base)] += probs[:, :, v]
    out = {}
    for b in range(B):
        for p in range(T + k - 1):
            prod = np.ones(4)
            covered = False
            for o in range(k):
                t = p - o
                if 0 <= t < T and mask[b, t]:
                    covered = True
                    prod *= marg[b, t, o]
            if covered:
                out[(b, p)] = prod / prod.sum()
    return out


def test_nucleotide_probabilities_match_loop_reference(mlm3, one_thread):
    tok = KmerTokenizer(k=3)
    batch = tok.encode_batch(SEQS)
    ids, att = batch["input_ids"], batch["attention_mask"]
    mask = mask_sequences(ids, att, "dnabert", seed=3, k=3, per_row_seeds=True)
    mask[0, 5:9] = True  # a longer span too, so that some nucleotides are hidden by 3 tokens
    assert mask.any()
    with torch.no_grad():
        logits = mlm3(input_ids=ids.masked_fill(mask, MASK_ID), attention_mask=att).logits
    probs, covered = nucleotide_probabilities(logits, mask, 3)
    ref = _loop_reference(logits, mask, 3)
    assert set(ref) == {tuple(x) for x in covered.nonzero().tolist()}
    for (b, p), expected in ref.items():
        np.testing.assert_allclose(probs[b, p].numpy(), expected, atol=2e-5)
    np.testing.assert_allclose(probs.sum(-1).numpy(), 1.0, atol=1e-5)
    # only the masked rows (the score's path) give the same numbers
    probs_m, _ = nucleotide_probabilities(logits[mask], mask, 3)
    np.testing.assert_allclose(probs_m.numpy(), probs.numpy(), atol=1e-6)


def test_reconstruct_reports_hidden_bases_and_two_models_share_a_mask(mlm3, one_thread):
    from transformers import BertForMaskedLM
    r = reconstruct(mlm3, SEQS[0], "dnabert", seed=0, token_mask=None)
    assert r.probs.shape == (len(SEQS[0]), 4)
    assert r.n_hidden == int(r.hidden.sum()) > 0
    np.testing.assert_allclose(r.probs[r.hidden].sum(1), 1.0, atol=1e-5)
    assert np.isnan(r.probs[~r.hidden]).all()
    # accuracy and log-likelihood recounted from the table it reports
    truth = np.array(["ACGT".index(c) for c in r.sequence])
    hid = np.flatnonzero(r.hidden)
    assert r.accuracy == pytest.approx(np.mean(r.probs[hid].argmax(1) == truth[hid]))
    assert r.mean_loglik == pytest.approx(np.mean(np.log(r.probs[hid, truth[hid]])), abs=1e-5)
    assert set(r.predicted[i] for i in range(len(r.sequence)) if not r.hidden[i]) == {"."}
    # a second model on the same mask: same hidden bases, its own probabilities
    torch.manual_seed(5)
    other = BertForMaskedLM(model_config("tiny", 3)).eval()
    r2 = reconstruct(other, SEQS[0], token_mask=r.token_mask)
    assert (r2.hidden == r.hidden).all() and (r2.token_mask == r.token_mask).all()
    assert not np.allclose(r2.probs[r.hidden], r.probs[r.hidden])
    d = r.to_dict()
    assert len(d["hidden"]) == r.n_hidden and json.dumps(d)
    with pytest.raises(GeneMaskInputError, match="token_mask"):
        reconstruct(mlm3, SEQS[0], token_mask=[True, False])


def test_reconstruct_draws_the_mask_explorers_mask(mlm3):
    from genemask_viz.app_logic.explorer import mask_view
    view = mask_view(SEQS[2], "dnabert", None, k=3, seed=7)
    r = reconstruct(mlm3, SEQS[2], "dnabert", seed=7)
    assert (r.token_mask == view.token_mask).all() and (r.hidden == view.hidden).all()


def test_reconstruction_score_equals_per_sequence_sum_and_ignores_batch_size(mlm3, one_thread):
    seqs = SEQS * 2
    s1 = reconstruction_score(mlm3, seqs, "dnabert", seed=1, batch_size=1)
    s4 = reconstruction_score(mlm3, seqs, "dnabert", seed=1, batch_size=4)
    for key in ("hidden_accuracy", "hidden_loglik", "n_hidden", "mlm_loss", "n_masked"):
        assert s1[key] == pytest.approx(s4[key], rel=1e-5)
    # the same number from reconstruct() with each sequence's own mask
    tok = KmerTokenizer(k=3)
    batch = tok.encode_batch(seqs)
    masks = mask_sequences(batch["input_ids"], batch["attention_mask"], "dnabert", 1, 3,
                           per_row_seeds=True)
    right = n = 0
    ll = 0.0
    for i, s in enumerate(seqs):
        tm = masks[i, 1:len(s) - 3 + 2].numpy()
        r = reconstruct(mlm3, s, token_mask=tm)
        n += r.n_hidden
        right += round(r.accuracy * r.n_hidden) if r.n_hidden else 0
        ll += r.mean_loglik * r.n_hidden if r.n_hidden else 0.0
    assert s1["n_hidden"] == n > 0
    assert s1["hidden_accuracy"] == pytest.approx(right / n)
    assert s1["hidden_loglik"] == pytest.approx(ll / n, abs=1e-5)
    # a different seed masks differently
    s2 = reconstruction_score(mlm3, seqs, "dnabert", seed=2)
    assert s2["n_masked"] != s1["n_masked"] or s2["n_hidden"] != s1["n_hidden"]
    hidden, _ = hidden_nucleotides(batch["input_ids"], masks, 3, batch["attention_mask"])
    assert int(hidden.sum()) == n


def test_table_strategy_without_table_is_a_clear_error(mlm3):
    with pytest.raises(GeneMaskInputError, match="needs a PMI table"):
        reconstruct(mlm3, SEQS[0], "genemask", seed=0)


def test_fast_class_logits_equal_the_full_forward(clf6, one_thread):
    ids = torch.randint(5, 5 + 4 ** 6, (5, 40))
    ids[:, 0], ids[:, -1] = 2, 3
    with torch.no_grad():
        full = clf6(input_ids=ids).logits
    torch.testing.assert_close(class_logits(clf6, ids), full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(class_logits(clf6, ids, fast=False), full)


def test_saturation_mutagenesis_equals_one_at_a_time_loop(clf6, one_thread):
    seq = "ACGTTGCAAGNCTTAGGCATCGAT"  # an N: all four bases are mutants there
    effect, ref, target, probs = saturation_mutagenesis(clf6, seq, target=1, batch_size=7)
    tok = KmerTokenizer(k=6)

    def score(s):
        with torch.no_grad():
            logits = clf6(input_ids=tok.encode_batch([s])["input_ids"]).logits
        return float(logits[0, 1] - logits[0, 0])

    base = score(seq)
    assert ref == pytest.approx(base, abs=1e-5)
    expected = np.zeros((len(seq), 4))
    for i in range(len(seq)):
        for j, b in enumerate("ACGT"):
            if seq[i] != b:
                expected[i, j] = score(seq[:i] + b + seq[i + 1:]) - base
    np.testing.assert_allclose(effect, expected, atol=2e-5)
    assert (effect[10] != 0).all()  # the N position: four real mutants
    assert probs.sum() == pytest.approx(1.0, abs=1e-6) and target == 1
    # the predicted class by default; log-odds of class 0 is minus that of class 1
    e0 = saturation_mutagenesis(clf6, seq, target=0)[0]
    np.testing.assert_allclose(e0, -effect, atol=2e-5)
    with pytest.raises(GeneMaskInputError, match="target class 5"):
        saturation_mutagenesis(clf6, seq, target=5)
    with pytest.raises(GeneMaskInputError, match="longer than one model input"):
        saturation_mutagenesis(clf6, "A" * 600)


def test_score_from_logits_is_log_odds():
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    got = score_from_logits(logits, 2)
    p = torch.softmax(logits, 1)[:, 2]
    torch.testing.assert_close(got, torch.log(p / (1 - p)))


def test_attribution_importance_and_logo_by_hand(clf6, one_thread):
    a = attribute(clf6, "ACGTACGTACGTACGTACGT", windows=2, width=4)
    centred = a.effect - a.effect.mean(1, keepdims=True)
    expected = centred[np.arange(20), [0, 1, 2, 3] * 5]
    np.testing.assert_allclose(a.importance, expected)
    np.testing.assert_allclose(a.importance, -a.effect.sum(1) / 4)
    assert (a.logo_matrix() != 0).sum() <= 20
    assert len(a.windows) <= 2 and a.matches is None
    assert json.dumps(a.to_dict())


def test_strongest_windows_by_hand():
    imp = np.zeros(30)
    imp[3:6] = 1.0       # window 2..6 (width 4) holds 3
    imp[20:24] = 0.5     # 20..24 holds 2
    imp[10] = -5.0       # negative importance does not count
    w = strongest_windows(imp, width=4, n=3)
    assert w[["start", "end"]].values.tolist()[:2] in ([[2, 6], [20, 24]], [[3, 7], [20, 24]])
    assert w["score"].iloc[0] == pytest.approx(3.0) and w["score"].iloc[1] == pytest.approx(2.0)
    assert w["share"].iloc[0] == pytest.approx(0.6)
    starts = w["start"].to_numpy()
    assert all(abs(a - b) >= 4 for i, a in enumerate(starts) for b in starts[i + 1:])
    assert len(strongest_windows(np.zeros(10), 4, 3)) == 0


def test_find_sites_locates_every_occurrence():
    seqs = ["AAACGTGGAAACGTGG", "TTTTTTTTTTTTTTTT", "CCCCCCNCGTGGCCCC"]
    found = find_sites(seqs, ["ACGTGG", "TTTTT", "GGG"])
    got = set(map(tuple, found[["sequence", "start", "end"]].values.tolist()))
    assert (0, 2, 8) in got and (0, 10, 16) in got and (2, 7, 12) not in got
    assert sum(1 for r in got if r[0] == 1) == 12  # TTTTT at 0..11
    assert all(seqs[s][a:b] == site for s, a, b, site in found.values.tolist())
