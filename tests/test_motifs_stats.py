"""Tomtom (memelite), bootstrap over reverse-complement pairs, corrections, exact rankings and
the task enrichment test, each checked against direct memelite / scipy calls on small inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

pytest.importorskip("pyjaspar")
memelite = pytest.importorskip("memelite")

from genemask_viz.motifs import load_jaspar, motif_set  # noqa: E402
from genemask_viz.motifs import bootstrap as bs  # noqa: E402
from genemask_viz.motifs.scoring import revcomp  # noqa: E402
from genemask_viz.motifs.stats import canonical  # noqa: E402
from genemask_viz.motifs.tomtom import bh, logo_offset, tomtom_matrix  # noqa: E402


@pytest.fixture(scope="module")
def small_set():
    want = ["MA0139.2", "MA0079.5", "MA0506.3", "MA0095.4", "MA0108.3", "MA0004.1"]
    jas = {m.matrix_id: m for m in load_jaspar("JASPAR2024")}
    rng = np.random.default_rng(0)
    others = [k for k in sorted(jas) if k not in want]
    chosen = want + list(rng.choice(others, 34, replace=False))   # 40 targets
    return motif_set([jas[k] for k in chosen])


def test_tomtom_matches_memelite_and_adds_e_and_q(small_set):
    ms = small_set
    ctcf = ms.probs[0]
    queries = [ctcf[3:12], ctcf[3:12][::-1, ::-1], ms.probs[2][1:9]]
    res = tomtom_matrix(queries, ms)
    direct = memelite.tomtom([np.ascontiguousarray(q.T) for q in queries],
                             [np.ascontiguousarray(p.T) for p in ms.probs], n_jobs=1)
    np.testing.assert_allclose(res["p"], np.clip(direct[0], 0, 1))
    np.testing.assert_array_equal(res["offset"], direct[2].astype(int))
    np.testing.assert_array_equal(res["strand"], direct[4].astype(int))
    np.testing.assert_allclose(res["E"], res["p"] * len(ms))
    for i in range(3):
        np.testing.assert_allclose(res["q"][i], sps.false_discovery_control(res["p"][i]))
    # each piece finds its own matrix first, on the right strand and offset
    assert res["p"][0].argmin() == 0 and res["strand"][0, 0] == 0 and res["offset"][0, 0] == 3
    assert res["p"][1].argmin() == 0 and res["strand"][1, 0] == 1
    assert res["p"][2].argmin() == 2 and res["q"][2, 2] < 0.05
    # logo convention: the reverse-complemented piece lies on motif columns 3..11 read backwards
    assert logo_offset(9, len(ctcf), int(res["offset"][1, 0]), 1) == (3, -1)
    assert logo_offset(9, len(ctcf), 3, 0) == (3, 1)


def test_bh_against_reference():
    rng = np.random.default_rng(1)
    p = np.append(rng.uniform(0, 0.05, 8), [np.nan, 0.5, 1e-6])
    ok = np.isfinite(p)
    vals, m = p[ok], ok.sum()
    order = np.argsort(vals)
    ref = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):                   # slow, obviously right step-up
        running = min(running, vals[order[rank]] * m / (rank + 1))
        ref[order[rank]] = running
    got = bh(p)
    assert np.isnan(got[8])
    np.testing.assert_allclose(got[ok], ref)


def _reference_rhos(rankings, match, pairs, reps, seed):
    """Bootstrap by hand: the same random draws as bs.replicate_rhos, scipy's spearmanr."""
    rng = np.random.default_rng(seed)
    n_pairs = int(pairs.max()) + 1
    out = {k: [] for k in rankings}
    for draw in rng.integers(0, n_pairs, (reps, n_pairs)):          # reps <= one chunk
        idx = np.concatenate([np.flatnonzero(pairs == c) for c in draw])
        for k, v in rankings.items():
            out[k].append(sps.spearmanr(v[idx], match[idx]).statistic)
    return {k: np.array(v) for k, v in out.items()}


def test_bootstrap_over_pairs_matches_reference():
    from genemask_viz.motifs.scoring import all_kmers
    kmers = all_kmers(3)                                    # 64 3-mers: 32 pairs, no palindromes
    pairs = bs.pair_index(canonical(kmers))
    assert pairs.max() + 1 == 32
    assert all(pairs[i] == pairs[list(kmers).index(revcomp(k))] for i, k in enumerate(kmers))
    rng = np.random.default_rng(2)
    match = rng.normal(size=64)
    rankings = {"pmi": match + rng.normal(size=64), "ctrl": rng.normal(size=64),
                "tied": np.round(match)}                            # ties: mean ranks

    got = bs.replicate_rhos(rankings, match, pairs, reps=30, seed=5)
    ref = _reference_rhos(rankings, match, pairs, 30, 5)
    for k in rankings:
        np.testing.assert_allclose(got[k], ref[k], atol=1e-12)
    del rankings["tied"]
    table = bs.bootstrap_table(rankings, match, pairs, ("pmi",), reps=200, seed=5)
    diff = table[table.versus == "ctrl"].iloc[0]
    assert diff.lo < diff.estimate < diff.hi and diff.lo > 0 and diff.p < 0.05
    rho = table[(table.ranking == "ctrl") & (table.versus == "")].iloc[0]
    assert rho.lo < 0 < rho.hi                              # an unrelated ranking: interval spans 0
    # rows resampled (pairs=None): same draws as a hand loop
    got = bs.replicate_rhos({"a": rankings["pmi"]}, match, None, reps=7, seed=3)["a"]
    r = np.random.default_rng(3)
    idx = r.integers(0, 64, (7, 64))
    ref = [sps.spearmanr(rankings["pmi"][i], match[i]).statistic for i in idx]
    np.testing.assert_allclose(got, ref, atol=1e-12)
    reps = np.array([1.0, 2.0, 3.0, 4.0])
    se = reps.std(ddof=1)
    assert bs.boot_p(reps, 2.5) == pytest.approx(2 * sps.norm.sf(2.5 / se))
    assert diff.p == pytest.approx(bs.boot_p(
        bs.replicate_rhos(rankings, match, pairs, 200, 5)["pmi"]
        - bs.replicate_rhos(rankings, match, pairs, 200, 5)["ctrl"], diff.estimate))


def test_correct_family_pools_all_p_values():
    a = pd.DataFrame({"p": [0.01, 0.04]})
    b = pd.DataFrame({"p": [0.02, np.nan]})
    out = bs.correct_family({"a": a, "b": b})
    np.testing.assert_allclose(out["a"]["p_bh"], [0.03, 0.04])     # 3 p-values: 0.01*3, 0.04*3/3
    np.testing.assert_allclose(out["b"]["p_bh"].iloc[:1], [0.03])   # 0.02*3/2
    assert np.isnan(out["b"]["p_bh"].iloc[1])


def test_exact_ranking_from_counts_matches_counting():
    from genemask_viz.motifs.rankings import exact_table_from_counts, ranking_column
    from genemask_viz.ngrams import count_ngrams, score_table
    from genemask_viz.ngrams.counting import index_of
    from genemask_viz.sequences.fasta import str_to_codes
    rng = np.random.default_rng(4)
    seq = "".join(rng.choice(list("ACGT"), 120_000, p=[0.3, 0.2, 0.2, 0.3]))
    counts = count_ngrams([seq], max_n=6)
    counted = score_table(counts, min_count=2)
    assert (counted.n == 6).sum() == 4096
    exact = exact_table_from_counts(counted, min_count=2).set_index("ngram")
    # marginalised counts are the n-grams that begin a 6-mer; the counter also counts the
    # ones that start in the record's last 5 bases. Without those, every score must agree exactly
    for n in range(1, 6):
        for start in range(len(seq) - 5, len(seq) - n + 1):
            counts.counts[n][index_of(str_to_codes(seq[start:start + n]))] -= 1
    ref = score_table(counts, min_count=2, ns=[6]).set_index("ngram")
    for col in ("pmi_n", "npmi", "naive_pmi", "genemask_score"):
        np.testing.assert_allclose(exact.loc[ref.index, col], ref[col], rtol=1e-12, atol=1e-12)
    assert ranking_column(counted) == "genemask_score"
    with pytest.raises(Exception, match="all 4,096"):
        exact_table_from_counts(counted[counted.n == 6].head(10))


def test_fisher_enrichment_matches_scipy(small_set):
    from genemask_viz.motifs.tasks import fisher_enrichment
    rng = np.random.default_rng(6)
    labels = np.repeat([1, 0], 30)
    present = rng.random((60, len(small_set))) < 0.3
    present[:30, 1] = rng.random(30) < 0.9                   # motif 1 enriched in positives
    t = fisher_enrichment(present, labels, small_set).set_index("motif_index").sort_index()
    for j in (0, 1, 7):
        a, c = present[:30, j].sum(), present[30:, j].sum()
        ref = sps.fisher_exact([[a, 30 - a], [c, 30 - c]], alternative="greater")
        assert t.loc[j, "p"] == pytest.approx(ref.pvalue)
        assert (t.loc[j, "pos_with"], t.loc[j, "neg_with"]) == (a, c)
    np.testing.assert_allclose(t["q"], sps.false_discovery_control(t["p"]))
    assert t.loc[1, "enriched"] and t["enriched"].sum() <= 3


def test_gc_stratified_test_matches_reference_and_removes_a_gc_effect(small_set):
    from genemask_viz.motifs.tasks import cmh_greater, fisher_enrichment, gc_strata
    rng = np.random.default_rng(8)
    labels = np.repeat([1, 0], 100)
    strata = rng.integers(0, 3, 200)
    present = rng.random((200, 4)) < 0.3
    got = cmh_greater(present, labels, strata)
    for j in range(4):                                   # slow reference: one 2x2 per stratum
        num = var = 0.0
        for k in range(3):
            r = strata == k
            a = int((present[r, j] & (labels[r] == 1)).sum())
            n1, m1, n = int((labels[r] == 1).sum()), int(present[r, j].sum()), int(r.sum())
            num += a - n1 * m1 / n
            var += n1 * (n - n1) * m1 * (n - m1) / (n ** 2 * (n - 1))
        assert got[j] == pytest.approx(sps.norm.sf((num - 0.5) / np.sqrt(var)))
    # positives GC-rich; a "motif" present in GC-rich sequences only: Fisher calls it, CMH does not
    seqs = ["GC" * 20 if i < 70 else "AT" * 20 for i in range(100)] + \
           ["GC" * 20 if i < 30 else "AT" * 20 for i in range(100)]
    gc_hit = np.array([s.startswith("GC") for s in seqs])
    pres = np.column_stack([gc_hit] + [np.zeros(200, bool)] * (len(small_set) - 1))
    t = fisher_enrichment(pres, labels, small_set, gc_strata(seqs, 2)).set_index("motif_index")
    assert t.loc[0, "q"] < 1e-6 and not t.loc[0, "enriched_gc"] and t.loc[0, "p_gc"] > 0.4


def test_scan_presence_matches_direct_fimo(small_set):
    from genemask_viz.motifs.tasks import one_hot, scan_presence
    rng = np.random.default_rng(7)
    seqs = ["".join(rng.choice(list("ACGT"), 60)) for _ in range(12)]
    cons = "".join("ACGT"[i] for i in small_set.probs[2].argmax(axis=1))     # NRF1 consensus
    seqs[3] = seqs[3][:10] + cons + seqs[3][10 + len(cons):]
    seqs[5] = seqs[5][:20] + revcomp(cons) + seqs[5][20 + len(cons):]
    got = scan_presence(seqs, small_set, threshold=1e-4)
    hits = memelite.fimo({m: np.ascontiguousarray(p.T) for m, p in zip(small_set.ids, small_set.probs)},
                         one_hot(seqs), threshold=1e-4)
    ref = np.zeros_like(got)
    for frame in hits:
        for row in frame.itertuples():
            ref[int(row.sequence_name), small_set.ids.index(row.motif_name.removesuffix("-rc"))] = True
    np.testing.assert_array_equal(got, ref)
    assert got[3, 2] and got[5, 2]
    assert one_hot(["ACGTN"])[0].sum() == 4
