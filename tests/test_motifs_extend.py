"""Seed extension (genemask_viz.motifs.extend) against slow, obviously right loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.motifs import extend as ex
from genemask_viz.motifs.scoring import revcomp
from genemask_viz.motifs.similarity import KmerGroup, group_kmers
from genemask_viz.sequences.fasta import Record

COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


def _rc_window(text: str) -> str:
    return "".join(COMP.get(c, "N") for c in reversed(text))


def slow_sites(group: KmerGroup, seqs: list[str]) -> dict:
    """{(record, start, strand): support} by string comparison at every position."""
    n = len(group.oriented[0])
    lo = min(group.offsets)
    width = max(group.offsets) - lo + n
    out: dict = {}
    for ri, seq in enumerate(seqs):
        s = seq.upper()
        for p in range(len(s) - n + 1):
            for word, off in zip(group.oriented, group.offsets):
                o = off - lo
                if s[p:p + n] == word:
                    key = (ri, p - o, "+")
                    out[key] = out.get(key, 0) + 1
                if s[p:p + n] == revcomp(word):
                    key = (ri, p - (width - o - n), "-")
                    out[key] = out.get(key, 0) + 1
    return out


def slow_counts(seqs: list[str], sites, width: int, flank: int) -> np.ndarray:
    out = np.zeros((width + 2 * flank, 4), int)
    for ri, start, strand in sites:
        s = seqs[ri].upper()
        text = "".join(s[i] if 0 <= i < len(s) else "N" for i in range(start - flank, start + width + flank))
        if strand == "-":
            text = _rc_window(text)
        for j, c in enumerate(text):
            if c in "ACGT":
                out[j, "ACGT".index(c)] += 1
    return out


def _random_records(seed=0):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), size)) for size in (300, 1, 180)]
    # planted members on both strands, an N, lower case, a site running off a record's start
    seqs[0] = "GATTACA" + seqs[0][:100] + "nnGCGCATGCx" + seqs[0][100:200].lower() + \
        revcomp("CGCATGCG") + seqs[0][200:]
    seqs[2] = "CATGCGC" + seqs[2][:90] + "AGCGCATGCGCATA" + seqs[2][90:] + "GCGCAT"
    return seqs


def test_kmer_codes_and_markov_match_loops():
    seqs = _random_records()
    for s in seqs:
        for n in (1, 3, 6):
            got = ex.kmer_codes(ex.encode(s), n)
            want = [int("".join(str("ACGT".index(c)) for c in s[p:p + n].upper()), 4)
                    if set(s[p:p + n].upper()) <= set("ACGT") else -1 for p in range(len(s) - n + 1)]
            assert got.tolist() == want
    p0, trans = ex.markov1(seqs)
    mono, di = np.ones(4), np.ones((4, 4))
    for s in seqs:
        s = s.upper()
        for c in s:
            if c in "ACGT":
                mono["ACGT".index(c)] += 1
        for a, b in zip(s, s[1:]):
            if a in "ACGT" and b in "ACGT":
                di["ACGT".index(a), "ACGT".index(b)] += 1
    assert np.allclose(p0, mono / mono.sum())
    assert np.allclose(trans, di / di.sum(axis=1, keepdims=True))
    want = 10 * p0[2] * trans[2, 1] * trans[1, 0]          # G -> C -> A
    assert ex.expected_count("GCA", 10, p0, trans) == pytest.approx(want)


@pytest.mark.parametrize("flank", [0, 3, 8])
def test_sites_and_window_counts_match_slow_loops(flank):
    seqs = _random_records()
    records = [Record(f"r{i}", s) for i, s in enumerate(seqs)]
    groups = group_kmers(["GCGCATGC", "CGCATGCG", "GCATGCGC", "ATGCGCAT"], max_shift=3)
    assert len(groups) == 1 and len(set(groups[0].offsets)) > 1
    g = groups[0]
    width = len(g.counts)
    sites, n_hits, words = ex.find_sites(g, records)
    slow = slow_sites(g, seqs)
    got = {(r.record, r.start, r.strand): r.support for r in sites.itertuples()}
    assert got == slow and len(got) >= 4 and any(v > 1 for v in got.values())
    assert {k[2] for k in got} == {"+", "-"}
    assert (sites["end"] - sites["start"] == width).all()
    assert words == set(g.oriented) | {revcomp(w) for w in g.oriented}
    # hits: positions whose k-mer is a member or a member's reverse complement
    assert n_hits == sum(s.upper()[p:p + 8] in words for s in seqs for p in range(len(s) - 7))
    counts = ex.window_counts(records, sites, width, flank)
    assert counts.tolist() == slow_counts(seqs, list(got), width, flank).tolist()
    # the same through extend_group, and support >= 2 keeps the contig sites only
    e = ex.extend_group(g, records, flank=flank, min_ic=0.0)
    assert e.full_counts.tolist() == counts.tolist() and e.n_sites == len(slow)
    assert e.keep == (0, width + 2 * flank)
    e2 = ex.extend_group(g, records, flank=flank, min_ic=0.0, min_support=2)
    two = [k for k, v in slow.items() if v >= 2]
    assert e2.n_sites == len(two) >= 1
    assert e2.full_counts.tolist() == slow_counts(seqs, two, width, flank).tolist()
    both = ex.extend_groups([g, group_kmers(["ACGTAC"])[0]], records, flank=flank, min_ic=0.0)
    assert both[0].full_counts.tolist() == counts.tolist()
    assert both[1].n_sites == len(slow_sites(group_kmers(["ACGTAC"])[0], seqs))


def test_information_trim_and_dilution_by_hand():
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    counts = np.array([[3, 2, 2, 3], [0, 10, 0, 0], [10, 0, 0, 0], [3, 2, 2, 3]], float)
    ic = ex.information(counts, bg, pseudocount=0.0 + 1e-12)
    assert ic[0] == pytest.approx(0, abs=1e-9) and ic[3] == pytest.approx(0, abs=1e-9)
    assert ic[1] == pytest.approx(math.log2(1 / 0.2)) and ic[2] == pytest.approx(math.log2(1 / 0.3))
    p = (counts[1] + 0.25) / 11
    assert ex.information(counts, bg)[1] == pytest.approx(float((p * np.log2(p / bg)).sum()))
    assert ex.trim_bounds(np.array([0.1, 0.3, 0.0, 0.5, 0.2])) == (1, 4)   # inner low column kept
    assert ex.trim_bounds(np.array([0.1, 0.2])) == (0, 2)                  # none passes: keep all
    # one site of "CCCC" with flank 2 in "AACCCCTT": flanks are single letters, IC > 0.25
    g = group_kmers(["CCCC"])[0]
    e = ex.extend_group(g, ["AACCCCTTTTTTTTTTTT"], flank=2)
    assert e.n_sites == 1 and e.n_hits == 1 and e.sites["strand"].tolist() == ["+"]
    assert e.full_counts.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0],
                                      [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    # background (A, C, G, T) = (3, 5, 1, 13) / 22 with +1 each: a lone T column holds
    # 0.125 log2(.125/(3/22)) + .125 log2(.125/(5/22)) + .125 log2(.125/(1/22))
    # + .625 log2(.625/(13/22)) = 0.110 bits < 0.25 (trimmed); a lone A column 1.17 bits (kept)
    assert e.ic[6] == pytest.approx(0.1095, abs=1e-3) and e.ic[0] == pytest.approx(1.167, abs=1e-3)
    assert e.keep == (0, 6) and e.consensus == "AACCCC" and e.seed_columns == (2, 6)
    want = ex.expected_count("CCCC", 15, *ex.markov1(["AACCCCTTTTTTTTTTTT"])) + \
        ex.expected_count("GGGG", 15, *ex.markov1(["AACCCCTTTTTTTTTTTT"]))
    assert e.expected_hits == pytest.approx(want)
    assert e.background_fraction == pytest.approx(min(1.0, want / 1))
    with pytest.raises(GeneMaskInputError, match="flank"):
        ex.extend_group(g, ["ACGT"], flank=-1)
    with pytest.raises(GeneMaskInputError, match="min_support"):
        ex.extend_group(g, ["ACGT"], min_support=0)
    with pytest.raises(GeneMaskInputError, match="no sequences"):
        ex.extend_group(g, [])


def test_planted_sites_are_recovered_and_flanks_extend_the_seed():
    """A 12-column motif planted 60 times; the seed is one of its 6-mers. The extended matrix
    recovers the motif's columns beyond the seed, and the background estimate is near 0."""
    rng = np.random.default_rng(1)
    motif = "TTGACGCGTCAA"[:11] + "G"
    seqs = []
    for i in range(60):
        s = "".join(rng.choice(list("ACGT"), 80))
        site = motif if i % 2 else revcomp(motif)
        seqs.append(s[:30] + site + s[42:])
    g = group_kmers(["ACGCGT"])[0]                    # a palindrome: columns 3..8 of the motif
    e = ex.extend_group(g, seqs, flank=4)
    assert e.n_sites >= 120                            # both strands of every planted site
    cons = e.consensus
    assert "TGACGCGTCA" in cons or revcomp("TGACGCGTCA") in cons
    assert len(e.counts) > 6 and e.seed_columns[0] > 0
    assert e.background_fraction < 0.2
