"""Motif library, scoring, statistics and similarity (genemask_viz.motifs)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.motifs import (all_kmers, enrichment, group_kmers, load_jaspar,
                                 motif_set, partial_spearman, read_motifs, revcomp, score_kmers,
                                 spearman)
from genemask_viz.motifs.library import biopython_pssm, is_repeat_derived
from genemask_viz.motifs.scoring import build_placements, placement_thresholds

pytest.importorskip("pyjaspar")


@pytest.fixture(scope="module")
def jaspar():
    return {m.matrix_id: m for m in load_jaspar("JASPAR2024")}


@pytest.fixture(scope="module")
def mset(jaspar):
    return motif_set(list(jaspar.values()))


@pytest.fixture(scope="module")
def all6(mset):
    return score_kmers(all_kmers(6), mset, fpr=0.01)


def test_jaspar_release_and_size(jaspar):
    assert len(jaspar) == 879
    assert jaspar["MA0139.2"].name == "CTCF"
    with pytest.raises(GeneMaskInputError, match="JASPAR2014"):
        load_jaspar("JASPAR1999")


def test_scoring_matches_biopython_calculate(jaspar):
    rng = np.random.default_rng(1)
    chosen = [jaspar[i] for i in rng.choice(sorted(jaspar), 12, replace=False)]
    one = motif_set(chosen)
    for j, m in enumerate(chosen):
        pssm = biopython_pssm(m)
        n = m.length + 7                                   # motif inside the k-mer
        seqs = ["".join(rng.choice(list("ACGT"), n)) for _ in range(20)]
        res = score_kmers(seqs, one, fpr=None)
        for i, s in enumerate(seqs):
            fwd, rev = np.atleast_1d(pssm.calculate(s)), np.atleast_1d(pssm.calculate(revcomp(s)))
            assert res.score[i, j] == pytest.approx(max(fwd.max(), rev.max()), abs=1e-4)
            q = -int(res.offset[i, j])
            got = fwd[q] if res.strand[i, j] == 1 else rev[q]
            assert got == pytest.approx(res.score[i, j], abs=1e-4)
        # k-mer inside the motif: sum of Biopython PSSM entries over the window
        kmers = ["".join(rng.choice(list("ACGT"), 4)) for _ in range(10)]
        res = score_kmers(kmers, one, fpr=None)
        for i, k in enumerate(kmers):
            o, strand = int(res.offset[i, j]), res.strand[i, j]
            word = k if strand == 1 else revcomp(k)
            assert sum(pssm[b][o + t] for t, b in enumerate(word)) == pytest.approx(res.score[i, j], abs=1e-4)
            best = max(sum(pssm[b][oo + t] for t, b in enumerate(w))
                       for w in (k, revcomp(k)) for oo in range(m.length - 3))
            assert res.score[i, j] == pytest.approx(best, abs=1e-4)


def test_reverse_complement_symmetry(all6):
    idx = {k: i for i, k in enumerate(all6.kmers)}
    for k in ["CCTCCC", "GCATGC", "TATAAA", "ACGTTT"]:
        a, b = idx[k], idx[revcomp(k)]
        np.testing.assert_allclose(all6.score[a], all6.score[b], atol=1e-4)
        np.testing.assert_allclose(all6.core_rel[a], all6.core_rel[b], atol=1e-5)
        np.testing.assert_array_equal(all6.pass_p[a], all6.pass_p[b])
        if k != revcomp(k):
            nonpal = np.abs(all6.score[a] - all6.score[b]) < 1e-5
            assert (all6.strand[a] == -all6.strand[b])[nonpal].mean() > 0.9


def test_consensus_matches_its_motif_best(jaspar, mset):
    ids = np.array(mset.ids)
    for mid in ["MA0139.2", "MA0108.3", "MA0506.3", "MA0095.4"]:     # CTCF, TBP, NRF1, YY1
        cons = str(jaspar[mid].consensus)
        res = score_kmers([cons], mset, fpr=None)
        j = list(ids).index(mid)
        assert ids[np.argmax(res.score[0])] == mid
        assert res.rel[0, j] == pytest.approx(1.0) and res.offset[0, j] == 0
        assert res.score[0, j] == pytest.approx(mset.pssms[j].max(axis=1).sum(), abs=1e-4)


def test_p_value_match_rate_is_honest(mset, all6):
    # exhaustively: no motif admits more than fpr of all 6-mers
    rate = all6.pass_p.mean(axis=0)
    assert rate.max() <= 0.01 + 1e-12
    assert 0.005 < rate.mean() <= 0.01
    # random k-mers pass at (about) the same rate
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 4, (3000, 6))
    idx = codes @ (4 ** np.arange(5, -1, -1))                # index into all_kmers order
    assert abs(all6.pass_p[idx].mean() - rate.mean()) < 0.002
    # the saturated definition: almost every 6-mer is near some window's consensus
    assert (all6.best_rel.max(axis=1) >= 0.9).mean() > 0.95


def test_pvalue_all_is_bonferroni_across_motifs(jaspar, mset, all6):
    from genemask_viz.motifs.stats import definitions, match_table
    # a small library, where fpr / M still admits some 6-mers: any-motif rate <= fpr
    few = motif_set([jaspar[m] for m in ("MA0004.1", "MA0139.2", "MA0079.5", "MA0108.3")])
    res = score_kmers(all_kmers(6), few, fpr=0.04)
    assert res.fpr_all == pytest.approx(0.01)
    assert res.pass_p_all.mean(axis=0).max() <= 0.01 + 1e-12
    any_all = res.pass_p_all.any(axis=1)
    assert 0 < any_all.mean() <= 0.04                        # family-wise over the 4 motifs
    assert not (res.pass_p_all & ~res.pass_p).any()          # stricter than pvalue
    assert res.pass_p.any(axis=1).mean() > any_all.mean()
    table = match_table(res)
    assert "pvalue_all" in definitions(table)
    np.testing.assert_array_equal(table["pvalue_all"].to_numpy(), any_all)
    # all 879 motifs: 0.01 / 879 * 4^6 < 1, so no 6-mer can reach it (the documented floor)
    assert all6.fpr_all == pytest.approx(0.01 / len(mset))
    assert not all6.pass_p_all.any()
    assert all6.pass_p.any(axis=1).mean() > 0.85              # while pvalue is near-saturated


def test_thresholds_agree_with_biopython_distribution(jaspar):
    m = jaspar["MA0004.1"]                                   # Arnt, width 6
    pl = build_placements(motif_set([m]), 6)
    scores = np.round(np.array([biopython_pssm(m).calculate(k) for k in all_kmers(6)]), 4)
    for fpr in (0.01, 0.001):
        t = float(placement_thresholds(pl, fpr)[0])
        assert (scores >= t).mean() <= fpr
        bio = biopython_pssm(m).distribution(precision=10 ** 4).threshold_fpr(fpr)
        assert abs(t - bio) < 0.5 and (scores >= bio - 1e-3).mean() >= (scores >= t).mean()


def test_statistics_against_scipy():
    rng = np.random.default_rng(3)
    x, z = rng.normal(size=200), rng.normal(size=200)
    y = x + z + rng.normal(size=200)
    rho, p = spearman(x, y)
    ref = sps.spearmanr(x, y)
    assert rho == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    r, p = partial_spearman(x, y, [z])
    rx, ry, rz = (sps.rankdata(v) for v in (x, y, z))
    c = np.corrcoef([rx, ry, rz])
    expect = (c[0, 1] - c[0, 2] * c[1, 2]) / np.sqrt((1 - c[0, 2] ** 2) * (1 - c[1, 2] ** 2))
    assert r == pytest.approx(expect, abs=1e-10)
    t = expect * np.sqrt(197 / (1 - expect ** 2))
    assert p == pytest.approx(2 * sps.t.sf(abs(t), 197))
    top = np.zeros(100, bool); top[:10] = True
    match = np.zeros(100, bool); match[:6] = True; match[50:70] = True
    e = enrichment(top, match)
    assert (e["top_matches"], e["all_matches"]) == (6, 26)
    assert e["fold"] == pytest.approx(0.6 / 0.26)
    assert e["p"] == pytest.approx(sum(sps.hypergeom.pmf(k, 100, 26, 10) for k in range(6, 11)))


def test_repeat_derived_flag(jaspar, mset):
    assert is_repeat_derived(jaspar["MA1125.2"])            # ZNF384
    assert not is_repeat_derived(jaspar["MA0139.2"])        # CTCF
    assert not is_repeat_derived(jaspar["MA0079.5"])        # SP1
    assert 50 < mset.repeat_derived.sum() < 150


def test_group_kmers_merges_overlaps_and_revcomps():
    groups = group_kmers(["CCTCCC", "GGGAGG", "CTCCCA", "ACACAC", "TCCTCC", "GTGTGT", "AAAAAA"],
                         weights=[10, 10, 5, 4, 3, 2, 1])
    assert [len(g.kmers) for g in groups] == [4, 2, 1]
    assert groups[0].consensus == "TCCTCCCA"
    assert groups[0].counts.sum(axis=1).max() == pytest.approx(28)   # 10 + 10 + 5 + 3 overlap


def test_corrupt_motif_files_give_clear_errors(tmp_path, jaspar):
    good = tmp_path / "ok.jaspar"
    m = jaspar["MA0004.1"]
    good.write_text(">MA0004.1 Arnt\n" + "".join(
        f"{b} [ {' '.join(str(int(v)) for v in m.counts[b])} ]\n" for b in "ACGT"))
    back = read_motifs(good)[0]
    assert back.name == "Arnt" and list(back.counts["C"]) == list(m.counts["C"])
    bad = tmp_path / "bad.jaspar"
    bad.write_text(">X1 foo\nA [ 1 2 3 ]\nC [ 1 x 3 ]\nG [ 1 2 3 ]\nT [ 1 2 3 ]\n")
    with pytest.raises(GeneMaskInputError) as err:
        read_motifs(bad)
    assert err.value.line == 3 and "non-numeric" in str(err.value) and err.value.fix
    short = tmp_path / "short.jaspar"
    short.write_text(">X1 foo\nA [ 1 2 3 ]\nC [ 1 2 ]\nG [ 1 2 3 ]\nT [ 1 2 3 ]\n")
    with pytest.raises(GeneMaskInputError, match="lengths"):
        read_motifs(short)
    meme = tmp_path / "bad.meme"
    meme.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF M1 one\n"
                    "letter-probability matrix: alength= 4 w= 2 nsites= 10\n"
                    "0.25 0.25 0.25 0.25\n0.9 0.9 0.1 0.1\n")
    with pytest.raises(GeneMaskInputError) as err:
        read_motifs(meme)
    assert err.value.line == 8 and "summing to 1" in str(err.value)
    meme.write_text(meme.read_text().replace("0.9 0.9 0.1 0.1", "0.7 0.1 0.1 0.1"))
    assert read_motifs(meme)[0].counts["A"][1] == pytest.approx(7.0)
    with pytest.raises(GeneMaskInputError, match="not found"):
        read_motifs(tmp_path / "none.meme")


def test_reader_agrees_with_biopython(tmp_path, jaspar):
    """Our reader gives Biopython's counts on a well-formed file (it adds line-numbered errors)."""
    from Bio import motifs as bio_motifs
    path = tmp_path / "two.jaspar"
    path.write_text("".join(format(jaspar[m], "jaspar") for m in ("MA0139.2", "MA0079.5")))
    with open(path) as fh:
        ref = list(bio_motifs.parse(fh, "jaspar"))
    ours = read_motifs(path)
    assert [m.matrix_id for m in ours] == [m.matrix_id for m in ref]
    for a, b in zip(ours, ref):
        for base in "ACGT":
            assert list(a.counts[base]) == pytest.approx(list(b.counts[base]))
