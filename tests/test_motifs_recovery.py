"""Planted-motif recovery (issue 16): the power curve's pieces against brute force, and its
one claim on a small genome: a motif that is not planted is not found, one planted densely is."""

from __future__ import annotations

import re

import numpy as np

from genemask_viz.motifs.recovery import commonest_site_word, genome_count, planted_recovery
from genemask_viz.sequences.fasta import Record


def _rc(word: str) -> str:
    return word.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def test_commonest_site_word_against_brute_force():
    rng = np.random.default_rng(4)
    sites = ["".join(rng.choice(list("ACGT"), 9)) for _ in range(40)] + ["GGGGCGGGG"] * 7
    sites += ["CCCCGCCCC"] * 5  # the same site on the other strand
    word, held = commonest_site_word(sites, 8)
    # brute force: for every 8-mer over ACGT, the sites that hold it or its reverse complement
    held_by = {min(a, _rc(a)): sum(any(w in s for w in (a, _rc(a))) for s in sites)
               for a in {s[i:i + 8] for s in sites for i in range(2)}}
    most = max(held_by.values())
    assert held == most >= 12
    # ties (GGGGCGGG and GGGCGGGG are both in all 12 SP1 sites) go to the first canonical word
    assert word == min(w for w, c in held_by.items() if c == most) == "CCCCGCCC"
    assert commonest_site_word(["ACGTACG"], 8) == ("", 0)  # site narrower than n


def test_genome_count_counts_overlaps_on_the_plus_strand_and_skips_n():
    records = [Record("a", "AAAAAACGTNAAAA"), Record("b", "acgtAAAA")]
    for word in ("AAAA", "ACGT", "TAAA", "CGTA"):
        brute = sum(len(re.findall(f"(?={word})", r.sequence.upper())) for r in records)
        assert genome_count(records, word) == brute
    assert genome_count(records, "") == 0 and genome_count(records, "GTNA") == 0


def test_planted_recovery_finds_a_dense_motif_and_not_an_absent_one():
    df = planted_recovery(sites=(0, 1000), seeds=(0,), group_n=8, top=100,
                          genome_kwargs=dict(n_records=1, record_length=300_000,
                                             motif_ids=("MA0079.5",)))   # SP1
    assert list(df["sites_per_motif"]) == [0, 1000] and set(df["motif_name"]) == {"SP1"}
    none, dense = df.iloc[0], df.iloc[1]
    assert not none["found"] and none["q"] > 0.5 and none["word_sites"] == 0
    assert dense["found"] and dense["q"] < 0.05 and dense["found_extended"]
    # its commonest 8-mer is held by a share of the 1,000 sites and counted on both strands
    assert 0 < dense["word_sites"] <= 1000
    assert dense["word_count"] + dense["word_rc_count"] >= dense["word_sites"]
    assert dense["word_count"] >= 101 or dense["word_rc_count"] >= 101  # so it is scored...
    assert dense["word_rank"] >= 1                                       # ...and ranked
