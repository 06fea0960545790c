"""Both rankings, each by its name: the release's recipe from counts, the importer, consumers.

The acceptance test recovers the integer 6-mer counts from the release's hg38
file, derives the shorter counts, scores them in ``release`` mode and matches
the file's dp.true.pmi for all 4,096 6-mers.
"""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.ngrams import (RELEASE_TABLE_COLUMNS, TABLE_COLUMNS, compute_table,
                                 counts_from_release_6mers, load_table,
                                 ranking_column, ranking_name, save_table, score_table,
                                 table_scoring, with_ranking)
from genemask_viz.ngrams.release import recover_release_counts

RELEASE = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask"
           / "hg38_chr1-3_6mer_npmi_ranking.csv")
needs_release = pytest.mark.skipif(not RELEASE.exists(),
                                   reason=f"../shared/data absent: no release ranking at {RELEASE}")


# --- the recipe against a slow reference written from the definitions --------------------------

def segmentations(n, max_piece):
    """All ways to cut range(n) into >= 2 contiguous pieces of length <= max_piece."""
    for cuts in itertools.product((False, True), repeat=n - 1):
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [n]
        pieces = list(zip(bounds, bounds[1:]))
        if len(pieces) >= 2 and all(b - a <= max_piece for a, b in pieces):
            yield pieces


def reference_release(seqs, max_n, min_count):
    """Slow: count with dicts, then the release's three scores by enumeration."""
    counts = {}
    for s in seqs:
        for run in "".join(c if c in "ACGT" else " " for c in s.upper()).split():
            for n in range(1, max_n + 1):
                for i in range(len(run) - n + 1):
                    counts[run[i:i + n]] = counts.get(run[i:i + n], 0) + 1
    T = sum(c for w, c in counts.items() if len(w) <= 2)
    lq = {w: math.log(c / T) for w, c in counts.items()}
    out = {}
    for w, c in counts.items():
        n = len(w)
        if n < 2 or c < min_count:
            continue
        naive = lq[w] - sum(lq[b] for b in w)
        true = (lq[w] - max(lq[w[:i]] + lq[w[i:]] for i in range(1, n - 1))) if n >= 3 else math.nan
        dp = lq[w] - max(sum(lq[w[a:b]] for a, b in seg) for seg in segmentations(n, 2))
        lc = math.log(c)
        norm = dp * lc / (lc + math.log(min_count)) if lc + math.log(min_count) > 0 else dp
        out[w] = (naive, true, dp, norm)
    return out


def test_release_scoring_matches_reference():
    rng = random.Random(3)
    seqs = ["".join(rng.choice("ACGT" if rng.random() > 0.01 else "ACGTN") for _ in range(rng.randint(20, 400)))
            for _ in range(12)]
    seqs.append("ACACACACACACGTGTGTGTAAAAAAAAAA" * 5)
    table = compute_table(seqs, max_n=7, min_count=2, scoring="release").set_index("ngram")
    ref = reference_release(seqs, 7, 2)
    assert list(table.reset_index().columns) == RELEASE_TABLE_COLUMNS
    scored = table[table["release_score"].notna()]
    assert set(scored.index) == set(ref) and len(ref) > 500
    cols = ["release_naive_pmi", "release_true_pmi", "release_dp_pmi", "release_score"]
    got = scored.loc[list(ref), cols].to_numpy()
    np.testing.assert_allclose(got, np.array(list(ref.values())), rtol=1e-9, atol=1e-12)
    assert table_scoring(table) == "release" and ranking_column(table) == "release_score"
    # rank within n follows release_score
    six = scored[scored["n"] == 6].sort_values("rank")
    assert (np.diff(six["release_score"].to_numpy()) <= 0).all() and six["rank"].iloc[0] == 1


def test_release_scoring_by_hand():
    # "AACA": unigrams A3 C1, bigrams AA AC CA (1 each): T = 4 + 3 = 7
    t = compute_table(["AACA"], max_n=3, min_count=1, scoring="release").set_index("ngram")
    q = {"A": 3 / 7, "C": 1 / 7, "AA": 1 / 7, "AC": 1 / 7, "CA": 1 / 7, "AAC": 1 / 7}
    # AAC: naive = log q(AAC) - 2 log q(A) - log q(C); dp: best of A|A|C, AA|C, A|AC
    assert t.loc["AAC", "release_naive_pmi"] == pytest.approx(math.log(q["AAC"] / (q["A"] ** 2 * q["C"])))
    best = max(q["A"] ** 2 * q["C"], q["AA"] * q["C"], q["A"] * q["AC"])
    assert t.loc["AAC", "release_dp_pmi"] == pytest.approx(math.log(q["AAC"] / best))
    # true.pmi of a 3-mer: only the split at 1 (A|AC); the split at 2 (AA|C) is skipped
    assert t.loc["AAC", "release_true_pmi"] == pytest.approx(math.log(q["AAC"] / (q["A"] * q["AC"])))
    assert math.isnan(t.loc["AC", "release_true_pmi"])          # n = 2: no split left
    assert t.loc["AC", "release_dp_pmi"] == pytest.approx(t.loc["AC", "release_naive_pmi"])
    with pytest.raises(GeneMaskInputError, match="scoring"):
        compute_table(["AACA"], max_n=2, scoring="nope")


# --- acceptance: the release's own file ------------------------------------------------------

@needs_release
def test_release_mode_reproduces_the_hg38_file():
    raw = pd.read_csv(RELEASE)
    count, ok = recover_release_counts(raw["dp.true.pmi"], raw["norm_dp_true_pmi"])
    assert ok.all() and count.sum() == 669_128_271              # integers, chr1-3's 6-mers
    counts = counts_from_release_6mers(raw["ngram"], count)
    assert counts.total(1) == counts.total(6)                   # marginals: record edges ignored
    table = score_table(counts, min_count=101, ns=[6], scoring="release")
    merged = raw.merge(table, on="ngram")
    assert len(merged) == 4096
    err = (merged["release_dp_pmi"] - merged["dp.true.pmi"]).abs()
    assert err.max() < 0.005, f"dp.true.pmi off by up to {err.max():.4f}"
    assert spearmanr(merged["release_dp_pmi"], merged["dp.true.pmi"])[0] >= 0.999
    assert (merged["release_true_pmi"] - merged["true.pmi"]).abs().max() < 0.005
    assert (merged["release_naive_pmi"] - merged["naive.pmi"]).abs().max() < 0.005
    assert (merged["release_score"] - merged["norm_dp_true_pmi"]).abs().max() < 0.005
    assert spearmanr(merged["release_score"], merged["norm_dp_true_pmi"])[0] >= 0.999


@needs_release
def test_imported_release_table_names_both_rankings():
    table = load_table(RELEASE)
    raw = pd.read_csv(RELEASE).set_index("ngram")
    t = table.set_index("ngram")
    assert table_scoring(table) == "release" and ranking_column(table) == "release_score"
    assert ranking_name(table) == "GeneMask release score (dp.true.pmi, hg38 chr1-3)"
    # the release's columns under their own names ...
    np.testing.assert_array_equal(t["release_dp_pmi"], raw.loc[t.index, "dp.true.pmi"])
    np.testing.assert_array_equal(t["release_score"], raw.loc[t.index, "norm_dp_true_pmi"])
    np.testing.assert_array_equal(t["release_true_pmi"], raw.loc[t.index, "true.pmi"])
    # ... and pmi_n is the exact PMI_n of the recovered counts, not dp.true.pmi
    assert (t["pmi_n"] - t["release_dp_pmi"]).abs().min() > 0.5
    assert (t["release_naive_pmi"] - t["naive_pmi"]).sub(5 * math.log(2)).abs().max() < 0.01
    rho = spearmanr(t["genemask_score"], t["release_score"])[0]
    assert 0.85 < rho < 0.92                                    # spec: 0.888
    top = lambda col, m: set(t[col].nlargest(m).index)
    assert len(top("genemask_score", 10) & top("release_score", 10)) == 4     # spec: 4 of 10
    assert len(top("genemask_score", 100) & top("release_score", 100)) == 59  # spec: 59 of 100
    assert list(table.sort_values("rank")["ngram"][:3]) == ["CCTCCC", "GGGAGG", "GTGTGT"]
    # either ranking can be chosen from the one file, each under its name
    exact = with_ranking(table, "exact")
    assert ranking_column(exact) == "genemask_score" and table_scoring(table) == "release"
    assert ranking_name(exact).startswith("exact PMI_n GeneMask score (hg38 chr1-3")
    assert list(exact.sort_values("rank")["ngram"][:3]) == ["CCTCCC", "GGGAGG", "TGTGTG"]
    from genemask_viz.masking import token_scores
    assert not np.allclose(token_scores(exact), token_scores(table))
    assert ranking_name(with_ranking(exact, "release")) == ranking_name(table)


@needs_release
def test_saved_release_import_keeps_its_ranking(tmp_path):
    table = load_table(RELEASE)
    for t, scoring in ((table, "release"), (with_ranking(table, "exact"), "exact")):
        back = load_table(save_table(t, tmp_path / f"{scoring}.csv"))       # a CSV keeps no attrs
        assert table_scoring(back) == scoring
        assert {"release_score", "genemask_score", "pmi_n"} <= set(back.columns)
        assert back.sort_values("rank")["ngram"].head(3).tolist() == \
            t.sort_values("rank")["ngram"].head(3).tolist()


# --- tables on disk and their consumers ------------------------------------------------------

def test_scoring_survives_csv_and_parquet(tmp_path):
    seqs = ["ACGTTGCAAGGCTTACGATCGATCGGGCTAGCTAGGCTTTAAACG" * 20]
    for scoring, cols, column in (("exact", TABLE_COLUMNS, "genemask_score"),
                                  ("release", RELEASE_TABLE_COLUMNS, "release_score")):
        table = compute_table(seqs, max_n=4, min_count=2, scoring=scoring)
        assert table.attrs["scoring"] == scoring and list(table.columns) == cols
        for suffix in (".csv", ".parquet"):
            back = load_table(save_table(table, tmp_path / f"{scoring}{suffix}"))
            assert list(back.columns) == cols and table_scoring(back) == scoring
            assert ranking_column(back) == column
            np.testing.assert_allclose(back[column].to_numpy(float), table[column].to_numpy(float))
    exact = compute_table(seqs, max_n=3, min_count=2)
    assert ranking_name(exact) == "exact PMI_n GeneMask score"
    with pytest.raises(GeneMaskInputError, match="no release ranking"):
        with_ranking(exact, "release")


def test_masking_scores_use_the_declared_ranking():
    from genemask_viz.masking import token_scores, unit_vocabulary
    from genemask_viz.tokens import kmer_to_id
    seqs = ["ACGTTGCAAGGCTTACGATCGATCGGGCTAGCTAGGCTTTAAACG" * 20]
    rel = compute_table(seqs, max_n=6, min_count=2, scoring="release")
    ex = compute_table(seqs, max_n=6, min_count=2)
    for table, col in ((rel, "release_score"), (ex, "genemask_score")):
        s = token_scores(table, 6)
        six = table[(table["n"] == 6) & table[col].notna()]
        ids = [kmer_to_id(w) for w in six["ngram"]]
        np.testing.assert_allclose(s[ids], six[col].to_numpy(float))
        assert unit_vocabulary(table).column == col
    assert not np.allclose(token_scores(rel, 6)[5:], token_scores(ex, 6)[5:], equal_nan=True)


def test_cli_npmi_scoring(tmp_path):
    import argparse
    from genemask_viz.cli.npmi import register
    fasta = tmp_path / "g.fa"
    fasta.write_text(">a\n" + "ACGTTGCAAGGCTTACGATCGATCGGGCTAGCTAGGCTTTAAACG" * 20 + "\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    for extra, column in (([], "genemask_score"), (["--scoring", "release"], "release_score")):
        out = tmp_path / f"t{len(extra)}.csv"
        args = parser.parse_args(["npmi", str(fasta), "--max-n", "4", "--min-count", "2",
                                  "--out", str(out), "--quiet", *extra])
        assert args.func(args) == 0
        back = load_table(out)
        assert ranking_column(back) == column and back[column].notna().sum() > 50
    with pytest.raises(SystemExit):
        parser.parse_args(["npmi", str(fasta), "--out", "x.csv", "--scoring", "pmi"])
