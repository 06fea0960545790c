"""n-gram counts and PMI tables against brute-force references and hand-computed values."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.ngrams import compute_table, count_ngrams, load_table, save_table

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask"
RELEASE = SHARED / "hg38_chr1-3_6mer_npmi_ranking.csv"


# --- slow, obviously-right references -------------------------------------------------
def brute_counts(records: list[str], max_n: int) -> dict[int, Counter]:
    """Counter of every n-gram inside maximal ACGT runs of every record."""
    out = {n: Counter() for n in range(1, max_n + 1)}
    for rec in records:
        for run in "".join(c if c in "ACGT" else " " for c in rec.upper()).split():
            for n in range(1, max_n + 1):
                for i in range(len(run) - n + 1):
                    out[n][run[i:i + n]] += 1
    return out


def segmentations(w: str):
    """Every split of w into >= 2 contiguous pieces."""
    n = len(w)
    for k in range(1, n):
        for cuts in itertools.combinations(range(1, n), k):
            bounds = (0,) + cuts + (n,)
            yield [w[a:b] for a, b in zip(bounds, bounds[1:])]


def brute_table(records: list[str], max_n: int, min_count: int) -> dict[str, dict]:
    counts = brute_counts(records, max_n)
    totals = {n: sum(c.values()) for n, c in counts.items()}

    def logp(w):
        c = counts[len(w)].get(w, 0)
        return math.log(c / totals[len(w)]) if c else -math.inf

    rows = {}
    for n in range(2, max_n + 1):
        for w, c in counts[n].items():
            if c < min_count:
                continue
            lp = logp(w)
            naive = lp - sum(logp(b) for b in w)
            best = max(sum(logp(p) for p in seg) for seg in segmentations(w))
            pmi_n = lp - best
            lc = math.log(c)
            denom = lc + math.log(min_count)
            gm = pmi_n * lc / denom if denom > 0 else pmi_n
            rows[w] = dict(count=c, p=math.exp(lp), naive_pmi=naive, pmi_n=pmi_n,
                           npmi=pmi_n / -lp, genemask_score=gm)
    return rows


def random_records(rng: random.Random, n_records: int, length: int, p_n: float = 0.05) -> list[str]:
    recs = []
    for _ in range(n_records):
        chars = []
        for _ in range(rng.randint(1, length)):
            r = rng.random()
            chars.append("N" if r < p_n else rng.choice("ACGTacgt" if r < 0.5 else "AACGTTT"))
        recs.append("".join(chars))
    return recs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table_equals_brute_force(seed):
    rng = random.Random(seed)
    records = random_records(rng, n_records=rng.randint(1, 6), length=300)
    max_n, min_count = 6, 2
    table = compute_table(records, max_n=max_n, min_count=min_count)
    ref = brute_table(records, max_n, min_count)
    scored = table[table["genemask_score"].notna()].set_index("ngram")
    assert set(scored.index) == set(ref)
    for w, row in ref.items():
        got = scored.loc[w]
        assert got["count"] == row["count"]
        for col in ("p", "naive_pmi", "pmi_n", "npmi", "genemask_score"):
            assert got[col] == pytest.approx(row[col], abs=1e-9), (w, col)


def test_counts_equal_brute_force_all_lengths():
    rng = random.Random(7)
    records = random_records(rng, 8, 200, p_n=0.1) + ["", "N", "ACG", "nnACGTnn"]
    counts = count_ngrams(records, max_n=7)
    ref = brute_counts(records, 7)
    for n in range(1, 8):
        for w, c in ref[n].items():
            assert counts.count(w) == c, w
        assert counts.total(n) == sum(ref[n].values())


def test_hand_computed_example():
    # one record "AACA": unigrams A=3, C=1 (N_1=4); bigrams AA, AC, CA (N_2=3)
    table = compute_table(["AACA"], max_n=2, min_count=1).set_index("ngram")
    assert table.loc["A", "count"] == 3 and table.loc["C", "count"] == 1
    # naive PMI(AC) = log(1/3) - log(3/4) - log(1/4) = log(16/9); for n=2 PMI_n equals it
    assert table.loc["AC", "naive_pmi"] == pytest.approx(math.log(16 / 9))
    assert table.loc["AC", "pmi_n"] == pytest.approx(math.log(16 / 9))
    # PMI(AA) = log(1/3) - 2 log(3/4) = log(16/27); NPMI = PMI / -log(1/3)
    assert table.loc["AA", "pmi_n"] == pytest.approx(math.log(16 / 27))
    assert table.loc["AA", "npmi"] == pytest.approx(math.log(16 / 27) / math.log(3))
    # ranks within n: AC and CA tie on score, alphabetical order breaks it
    assert list(table[table.n == 2].sort_values("rank").index) == ["AC", "CA", "AA"]


def test_pmi_n_takes_the_best_segmentation():
    # "ACGT" repeated: ACG and T are frequent pieces; PMI_n(ACGT) <= every segmentation's PMI
    records = ["ACGT" * 20 + "N" + "ACGA" * 5]
    table = compute_table(records, max_n=4, min_count=1).set_index("ngram")
    counts = brute_counts(records, 4)
    totals = {n: sum(c.values()) for n, c in counts.items()}
    lp = {w: math.log(c / totals[len(w)]) for n in counts for w, c in counts[n].items()}
    all_pmis = [lp["ACGT"] - sum(lp[p] for p in seg) for seg in segmentations("ACGT")]
    assert table.loc["ACGT", "pmi_n"] == pytest.approx(min(all_pmis))
    assert table.loc["ACGT", "pmi_n"] < table.loc["ACGT", "naive_pmi"]


def test_counting_edge_cases():
    # records shorter than n, N at both ends, lower case
    counts = count_ngrams(["ac", "NNacgtNN", "A"], max_n=3)
    assert counts.count("ACG") == 1 and counts.count("CGT") == 1
    assert counts.count("AC") == 2 and counts.count("A") == 3
    assert counts.total(3) == 2 and counts.total(2) == 4
    # a 10-mer needs a run of 10: nothing across N
    counts = count_ngrams(["ACGTA" + "N" + "CGTAC"], max_n=10)
    assert counts.total(10) == 0 and counts.total(5) == 2


def test_streaming_fasta_matches_in_memory(tmp_path):
    rng = random.Random(3)
    records = random_records(rng, 5, 3000)
    fasta = tmp_path / "g.fa"
    with open(fasta, "w", newline="") as fh:  # Windows line ends, 7-nt lines
        for i, r in enumerate(records):
            fh.write(f">r{i} description\r\n")
            for j in range(0, len(r), 7):
                fh.write(r[j:j + 7] + "\r\n")
    from genemask_viz.ngrams import NgramCounter
    counter = NgramCounter(max_n=6)
    import genemask_viz.sequences.fasta as fasta_mod
    # tiny blocks force records to span many blocks
    for chunk in fasta_mod.stream_fasta(fasta, block_bytes=64):
        if chunk.first:
            counter.end_record()
        counter.add_codes(chunk.codes)
    streamed = counter.finish()
    direct = count_ngrams(records, max_n=6)
    for n in range(1, 7):
        np.testing.assert_array_equal(streamed.counts[n], direct.counts[n])
    via_path = count_ngrams(fasta, max_n=6)
    np.testing.assert_array_equal(via_path.counts[6], direct.counts[6])
    assert via_path.n_records == 5
    # the fused parse-and-count kernel, with blocks that cut lines, headers and runs
    for block, threads in [(1, 1), (13, 1), (1, 2), (5, 3), (13, 2), (64, 2), (100, 4)]:
        fused = NgramCounter(max_n=6)
        fused.add_fasta(fasta, block_bytes=block, threads=threads)
        got = fused.finish()
        for n in range(1, 7):
            np.testing.assert_array_equal(got.counts[n], direct.counts[n], err_msg=f"{block}, {threads}")
        assert got.n_records == 5 and got.n_bases == direct.n_bases


def test_counting_fasta_reports_bad_line(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">a\nACGT\nACGT\n>b\nAC#T\n")
    with pytest.raises(GeneMaskInputError, match="unexpected character '#'") as err:
        count_ngrams(path, max_n=3)
    assert err.value.line == 5
    (tmp_path / "plain.txt").write_text("ACGT\n")
    with pytest.raises(GeneMaskInputError, match="is not FASTA"):
        count_ngrams(tmp_path / "plain.txt", max_n=3)


def test_gzip_input(tmp_path):
    import gzip
    path = tmp_path / "g.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">a\nACGTACGT\n>b\nacgt\n")
    counts = count_ngrams(path, max_n=4)
    assert counts.count("ACGT") == 3 and counts.n_records == 2


def test_min_count_and_columns():
    table = compute_table(["ACGTACGTAAAA"], max_n=3, min_count=2)
    assert list(table.columns) == ["ngram", "n", "count", "p", "naive_pmi", "pmi_n", "npmi",
                                   "genemask_score", "rank"]
    assert (table.loc[table.n >= 2, "count"] >= 2).all()
    kept = compute_table(["ACGTACGTAAAA"], max_n=3, min_count=2, keep_unscored=True)
    low = kept[(kept.n >= 2) & (kept["count"] < 2)]
    assert len(low) > 0 and low["genemask_score"].isna().all() and low["rank"].isna().all()
    with pytest.raises(GeneMaskInputError, match="min_count"):
        compute_table(["ACGT"], max_n=2, min_count=0)
    with pytest.raises(GeneMaskInputError, match="max_n"):
        count_ngrams(["ACGT"], max_n=13)
    with pytest.raises(GeneMaskInputError, match="no A/C/G/T"):
        count_ngrams(["NNNN"], max_n=2)


def test_save_and_load_roundtrip(tmp_path):
    table = compute_table(["ACGTACGTAAAACCCGT" * 3], max_n=4, min_count=1)
    for name in ("t.csv", "t.parquet"):
        path = save_table(table, tmp_path / name)
        back = load_table(path)
        pd.testing.assert_frame_equal(back.reset_index(drop=True), table, check_dtype=False,
                                      atol=1e-9)
    with pytest.raises(GeneMaskInputError, match=r"\.csv or \.parquet"):
        save_table(table, tmp_path / "t.txt")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(GeneMaskInputError, match="not a score table"):
        load_table(bad)


@pytest.mark.skipif(not RELEASE.exists(), reason=f"shared data absent: {RELEASE}")
def test_import_release_ranking():
    table = load_table(RELEASE)
    assert len(table) == 4096 and (table["n"] == 6).all()
    raw = pd.read_csv(RELEASE)
    # counts recovered exactly: norm = dp * ln c / (ln c + ln 101) holds with integer c
    merged = table.merge(raw, on="ngram")
    c = merged["count"].astype(float)
    recon = merged["dp.true.pmi"] * np.log(c) / (np.log(c) + math.log(101))
    np.testing.assert_allclose(recon, merged["norm_dp_true_pmi"], rtol=1e-9)
    # the unigram counts of chr1-3 give ~669 M counted 6-mer positions
    assert 6.6e8 < table["count"].sum() < 6.8e8
    # rank within n = the release's relative rank
    assert (merged["rank"].astype(int) == merged["norm_pmi_rank_rel"]).all()
    assert list(table.sort_values("rank")["ngram"][:3]) == ["CCTCCC", "GGGAGG", "GTGTGT"]


@pytest.mark.parametrize("width, eol, seed", [(1, "\n", 0), (61, "\r\n", 1), (5000, "\n", 2)])
def test_parallel_blocks_equal_sequential(tmp_path, monkeypatch, width, eol, seed):
    """Threads start blocks from the previous block's tail: any cut gives the sequential counts."""
    from genemask_viz.ngrams import NgramCounter, counting
    if seed == 1:  # add the uint32 work counters into the totals after every group
        monkeypatch.setattr(counting, "MERGE_BYTES", 1)
    rng = random.Random(seed)
    records = random_records(rng, 6, 2000, p_n=0.02)
    fasta = tmp_path / "g.fa"
    with open(fasta, "w", newline="") as fh:
        for i, r in enumerate(records):
            fh.write(f">record_{i} a long description line {'x' * rng.randint(0, 90)}{eol}")
            for j in range(0, len(r), width):
                fh.write(r[j:j + width] + eol)
            if rng.random() < 0.5:
                fh.write(eol)  # blank lines between records
    direct = count_ngrams(records, max_n=8)
    for block in rng.sample(range(2, 400), 6):
        counter = NgramCounter(max_n=8)
        counter.add_fasta(fasta, block_bytes=block, threads=2)
        got = counter.finish()
        for n in (1, 5, 8):
            np.testing.assert_array_equal(got.counts[n], direct.counts[n], err_msg=str(block))


def test_corrupt_table_files(tmp_path):
    bad_parquet = tmp_path / "t.parquet"
    bad_parquet.write_bytes(b"not parquet at all")
    with pytest.raises(GeneMaskInputError, match="cannot be read as a table"):
        load_table(bad_parquet)
    ragged = tmp_path / "t.csv"
    ragged.write_text("ngram,n,genemask_score\nACG,3,1.0\nACG,3,1.0,9,9\n")
    with pytest.raises(GeneMaskInputError, match="cannot be read as a table"):
        load_table(ragged)
