"""The issue-10 controls: genemask-random-anchor and dnabert-matched.

Batched == loop reference with identical draws; the closed-form DNABERT hidden
rate against brute force and a hand case; and the acceptance test on real
sequence (the demo genome's 510-token windows): equal hidden rates, while
genemask hides a planted top-ranked k-mer far more often than the random anchor.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genemask_viz.masking import (CONTROL_STRATEGIES, DNABERT_MATCHED_CENTRE_PROB,
                                  GENEMASK_HIDDEN_RATE_510, STRATEGIES, STRATEGY_DESCRIPTIONS,
                                  GeneMaskCollator, dnabert_hidden_rate, mask_batch,
                                  mask_genemask_random_anchor, matched_centre_prob,
                                  reference_mask, token_scores)
from genemask_viz.masking.reference import reference_hidden
from genemask_viz.tokens import KmerTokenizer, kmer_to_id, kmer_vocab

K = 6
TOK = KmerTokenizer(k=K)
FIELDS = ("token_mask", "hidden_nt", "nt_valid", "centres", "spans", "span_kind", "chosen_pos",
          "chosen_id", "extended")
RELEASE = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask"
           / "hg38_chr1-3_6mer_npmi_ranking.csv")


def random_batch(lengths, seed, n_rate=0.02, k=K):
    rng = np.random.default_rng(seed)
    seqs = []
    for L in lengths:
        s = rng.choice(list("ACGT"), size=int(L) + k - 1)
        s[rng.random(s.size) < n_rate] = "N"
        seqs.append("".join(s))
    return (TOK if k == K else KmerTokenizer(k=k)).encode_batch(seqs)


def scores_for(k, seed=0):
    rng = np.random.default_rng(seed)
    kmers = kmer_vocab(k)[5:]
    return token_scores(pd.DataFrame({"ngram": kmers, "n": k, "genemask_score": rng.normal(size=len(kmers))}), k)


def test_names_and_descriptions():
    assert set(CONTROL_STRATEGIES) <= set(STRATEGIES)
    assert set(STRATEGY_DESCRIPTIONS) == set(STRATEGIES)
    assert 0.04 < DNABERT_MATCHED_CENTRE_PROB < 0.06


@pytest.mark.parametrize("k", [3, 6])
def test_random_anchor_matches_reference(k):
    for trial in range(3):
        b = random_batch(np.random.default_rng(trial).integers(1, 90, 7), seed=trial, k=k)
        shape = b["input_ids"].shape
        g = torch.Generator().manual_seed(trial)
        centres = torch.rand(shape, generator=g) < (0.3 if trial else 0.05)   # dense: clipping, ties
        ak = torch.rand(shape, generator=g, dtype=torch.float64)
        ek = torch.rand(shape, generator=g, dtype=torch.float64)
        if trial == 2:
            ek = (ek * 2).floor()                 # tied extension keys: position decides
        kw = dict(centres=centres, anchor_keys=ak, extend_keys=ek)
        res = mask_batch(b["input_ids"], b["attention_mask"], "genemask-random-anchor", k=k, **kw)
        ref = reference_mask("genemask-random-anchor", b["input_ids"], k=k,
                             attention_mask=b["attention_mask"], **kw)
        for f in FIELDS:
            assert torch.equal(getattr(res, f), getattr(ref, f)), f
        assert res.chosen_score.isnan().all() and res.extended.any()
        assert trial == 0 or not res.extended.all()      # dense rows: only the top half extends


def test_dnabert_matched_matches_reference_and_dnabert():
    b = random_batch([5, 60, 200, 510], seed=7)
    g = torch.Generator().manual_seed(1)
    centres = torch.rand(b["input_ids"].shape, generator=g) < 0.1
    res = mask_batch(b["input_ids"], b["attention_mask"], "dnabert-matched", centres=centres)
    ref = reference_mask("dnabert-matched", b["input_ids"], centres,
                         attention_mask=b["attention_mask"])
    for f in FIELDS[:6]:
        assert torch.equal(getattr(res, f), getattr(ref, f)), f
    assert res.strategy == "dnabert-matched"
    # drawn: dnabert's spans at the matched centre probability, same draws as dnabert with that p
    a = mask_batch(b["input_ids"], b["attention_mask"], "dnabert-matched", seed=3)
    d = mask_batch(b["input_ids"], b["attention_mask"], "dnabert", seed=3,
                   centre_prob=DNABERT_MATCHED_CENTRE_PROB)
    assert torch.equal(a.token_mask, d.token_mask)


def test_random_anchor_draws():
    """Same centres and extension counts as genemask (one seed); anchors uniform over c-2..c+3;
    the extended subset ignores the scores."""
    b = random_batch([510] * 64, seed=11, n_rate=0.0)
    scores = scores_for(K)
    gm = mask_batch(b["input_ids"], b["attention_mask"], "genemask", scores=scores, seed=4)
    ra = mask_batch(b["input_ids"], b["attention_mask"], "genemask-random-anchor", seed=4)
    assert torch.equal(gm.centres, ra.centres)
    rows = gm.centre_index[:, 0]
    assert torch.equal(torch.bincount(rows[gm.extended], minlength=64),
                       torch.bincount(rows[ra.extended], minlength=64))
    off = (ra.chosen_pos - ra.centre_index[:, 1]).numpy()
    interior = ((ra.centre_index[:, 1] > 3) & (ra.centre_index[:, 1] < 507)).numpy()
    freq = np.bincount(off[interior] + 2, minlength=6) / interior.sum()
    assert interior.sum() > 400 and np.abs(freq - 1 / 6).max() < 0.05
    # genemask extends its best-scoring centres; the control's extended ones score like the rest
    score_at = torch.as_tensor(scores)[b["input_ids"][rows, ra.chosen_pos]]
    gm_gap = gm.chosen_score[gm.extended].mean() - gm.chosen_score[~gm.extended].mean()
    ra_gap = score_at[ra.extended].mean() - score_at[~ra.extended].mean()
    assert gm_gap > 0.5 and abs(float(ra_gap)) < 0.25


def brute_force_dnabert_rate(q, T, k=K):
    """Expected hidden rate by enumerating every centre pattern of a T-token row."""
    lo, hi = -((k - 1) // 2), k // 2
    total = 0.0
    for pat in itertools.product((False, True), repeat=T):
        mask = [any(pat[c] for c in range(max(t - hi, 0), min(t - lo, T - 1) + 1)) for t in range(T)]
        hidden, _ = reference_hidden([5] * T, mask, [True] * T, k)
        n = sum(pat)
        total += q ** n * (1 - q) ** (T - n) * sum(hidden)
    return total / (T + k - 1)


def test_dnabert_rate_closed_form():
    # hand case: one token covers all k nucleotides, hidden iff it is a centre
    assert dnabert_hidden_rate(0.3, n_tokens=1) == pytest.approx(0.3, abs=1e-12)
    for T in (2, 7, 11):
        for q in (0.1, 0.45):
            assert dnabert_hidden_rate(q, n_tokens=T) == pytest.approx(
                brute_force_dnabert_rate(q, T), abs=1e-12)
    q = matched_centre_prob(0.05)
    assert dnabert_hidden_rate(q) == pytest.approx(0.05, abs=1e-6)
    assert matched_centre_prob(GENEMASK_HIDDEN_RATE_510) == pytest.approx(
        DNABERT_MATCHED_CENTRE_PROB, abs=5e-5)
    # and the closed form predicts the sampled rate (510 tokens, 256 rows)
    b = random_batch([510] * 256, seed=2, n_rate=0.0)
    r = mask_batch(b["input_ids"], b["attention_mask"], "dnabert", seed=0)
    assert r.hidden_rate == pytest.approx(dnabert_hidden_rate(0.025), abs=0.003)


def test_collator_runs_the_controls_without_a_table():
    feats = [{"input_ids": t} for t in TOK.encode_batch(["ACGT" * 130] * 3)["input_ids"]]
    for s in CONTROL_STRATEGIES:
        out = GeneMaskCollator(TOK, strategy=s, seed=0)(feats)
        assert (out["labels"] != -100).sum() > 0


def test_random_anchor_checks_injected_keys():
    from genemask_viz.errors import GeneMaskInputError
    b = random_batch([10, 20], seed=0)
    with pytest.raises(GeneMaskInputError, match="anchor_keys"):
        mask_genemask_random_anchor(b["input_ids"], anchor_keys=torch.zeros(3, 3))


# --- acceptance: real sequence, 2,048 draws of 510 tokens -------------------------------------

def demo_windows(n, seed=0, width=510 + K - 1):
    from genemask_viz.sequences import demo_fasta_path
    from genemask_viz.sequences.fasta import read_fasta
    rng = np.random.default_rng(seed)
    seqs = [r.sequence.upper() for r in read_fasta(demo_fasta_path())]
    out = []
    while len(out) < n:
        s = seqs[rng.integers(len(seqs))]
        a = int(rng.integers(len(s) - width))
        if set(s[a:a + width]) <= set("ACGT"):
            out.append(s[a:a + width])
    return out


@pytest.fixture(scope="module")
def real_scores():
    """The hg38 release ranking when the shared data is there, else the demo genome's table."""
    from genemask_viz.ngrams import compute_table, load_table
    from genemask_viz.sequences import demo_fasta_path
    table = load_table(RELEASE) if RELEASE.exists() else compute_table(demo_fasta_path(), max_n=6)
    return token_scores(table, K)


def test_control_rates_match_genemask_and_planted_kmer(real_scores):
    seqs = demo_windows(2048)
    batch = TOK.encode_batch(seqs)
    ids, att = batch["input_ids"], batch["attention_mask"]
    rates = {}
    for s in ("genemask", "genemask-random-anchor", "dnabert-matched", "dnabert"):
        rates[s] = mask_batch(ids, att, s, scores=real_scores, seed=0).hidden_rate
    gm = rates["genemask"]
    assert abs(gm - GENEMASK_HIDDEN_RATE_510) < 0.003
    assert abs(rates["genemask-random-anchor"] - gm) < 0.005
    assert abs(rates["dnabert-matched"] - gm) < 0.005
    assert rates["dnabert"] < gm - 0.03                    # DNABERT proper hides far less
    # plant the top-ranked 6-mer at nucleotide 250 of every row
    top = kmer_vocab(K)[int(np.argmax(real_scores))]
    planted = [s[:250] + top + s[256:] for s in seqs]
    batch = TOK.encode_batch(planted)
    ids, att = batch["input_ids"], batch["attention_mask"]
    assert (ids[:, 251] == kmer_to_id(top)).all()         # token 251 is the planted k-mer
    hit = {}
    for s in ("genemask", "genemask-random-anchor"):
        r = mask_batch(ids, att, s, scores=real_scores, seed=0)
        hit[s] = float(r.hidden_nt[:, 251:257].all(1).float().mean())   # nucleotide i -> column i+1
    assert hit["genemask"] > 0.08
    assert hit["genemask"] > 3 * hit["genemask-random-anchor"]


def test_masking_modules_import_in_one_direction():
    """No import circle inside genemask_viz.masking (lazy imports in functions included)."""
    import ast
    import genemask_viz.masking as pkg
    folder = Path(pkg.__file__).parent
    graph = {}
    for f in folder.glob("*.py"):
        if f.stem == "__init__":
            continue
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
        graph[f.stem] = deps & {g.stem for g in folder.glob("*.py")}
    assert {"hidden", "strategies", "pmi_span", "controls", "dispatch"} <= set(graph)
    done, stack = set(), []

    def visit(m):
        assert m not in stack, f"import circle: {' -> '.join(stack + [m])}"
        if m in done:
            return
        stack.append(m)
        for d in graph.get(m, ()):
            visit(d)
        stack.pop()
        done.add(m)

    for m in graph:
        visit(m)
    assert "strategies" not in graph["hidden"] and "pmi_span" not in graph["strategies"]
