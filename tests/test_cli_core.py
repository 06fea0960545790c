"""The `genemask` command: npmi and demo-genome, and one-line errors instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from genemask_viz.cli import main
from genemask_viz.ngrams import compute_table, load_table
from genemask_viz.sequences import read_fasta


def test_demo_genome_then_npmi(tmp_path, capsys):
    fa = tmp_path / "demo.fa"
    assert main(["demo-genome", "--out", str(fa), "--records", "2", "--length", "40000",
                 "--sites", "30"]) == 0
    recs = read_fasta(fa)
    assert [r.name for r in recs] == ["chr1", "chr2"] and len(recs[0]) == 40000
    truth = pd.read_csv(tmp_path / "demo.motifs.csv")
    assert len(truth) == 5 * 30 and {"motif_id", "strand", "start"} <= set(truth.columns)
    out = tmp_path / "t.parquet"
    assert main(["npmi", str(fa), "--max-n", "5", "--min-count", "3", "--out", str(out)]) == 0
    acgt = sum(sum(r.sequence.count(b) for b in "ACGT") for r in recs)
    assert f"counted {acgt:,} bases in 2 records" in capsys.readouterr().err
    table = load_table(out)
    expected = compute_table([r.sequence for r in recs], max_n=5, min_count=3)
    pd.testing.assert_frame_equal(table.reset_index(drop=True), expected, check_dtype=False)


def test_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGT\nAC!T\n")
    proc = subprocess.run([sys.executable, "-m", "genemask_viz.cli", "npmi", str(bad), "--out",
                           str(tmp_path / "t.csv")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}, line 3: unexpected character '!'" in proc.stderr
    assert not (tmp_path / "t.csv").exists()


def test_bad_output_suffix(tmp_path):
    fa = tmp_path / "a.fa"
    fa.write_text(">a\nACGTACGT\n")
    with pytest.raises(SystemExit):
        main(["npmi"])  # argparse: INPUT and --out are required
    assert main(["npmi", str(fa), "--out", str(tmp_path / "t.xlsx"), "--quiet"]) == 2


def test_npmi_checks_arguments_before_counting(tmp_path, capsys):
    fa = tmp_path / "a.fa"
    fa.write_text(">a\nACGTACGT\n")
    assert main(["npmi", str(fa), "--out", str(tmp_path / "t.txt")]) == 2
    assert main(["npmi", str(fa), "--min-count", "0", "--out", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert "unknown table format" in err and "min_count must be a positive integer" in err
    assert "counted" not in err  # nothing was counted


def test_mask_rejects_non_nucleotide_sequence(capsys):
    assert main(["mask", "--strategy", "random", "--sequence", "ACGT12ACGTAC"]) == 2
    assert "--sequence contains '12'" in capsys.readouterr().err
