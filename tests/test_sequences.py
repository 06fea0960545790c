"""Reading FASTA / tables / lists, clear errors on bad input, segments, the demo genome."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.sequences import (SegmentSpec, demo_genome, iter_segments, kmers_to_seq,
                                    read_fasta, read_labelled, read_sequences, seq_to_kmers,
                                    take_segments, write_fasta)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask"
FEWSHOT = SHARED / "fewshot"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_fasta_multi_record_lower_case_n_runs_crlf(tmp_path):
    fa = write(tmp_path / "x.fa", ">chr1 first\r\nacgtNNNNac\r\nGT\r\n\r\n>chr2\nRYAC\n>empty\n")
    recs = read_fasta(fa)
    assert [r.name for r in recs] == ["chr1", "chr2", "empty"]
    assert recs[0].sequence == "ACGTNNNNACGT"
    assert recs[1].sequence == "NNAC"  # IUPAC codes read as N
    assert recs[2].sequence == ""


def test_fasta_gz_equals_plain(tmp_path):
    text = ">a\nACGT\nAC\n>b\nGGGG\n"
    plain = write(tmp_path / "a.fa", text)
    gz = tmp_path / "a.fa.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(text)
    assert read_fasta(plain) == read_fasta(gz)


def test_write_fasta_roundtrip(tmp_path):
    recs = [("r1", "ACGT" * 40), ("r2", "NNAC")]
    path = write_fasta(recs, tmp_path / "o.fa", width=7)
    back = read_fasta(path)
    assert [(r.name, r.sequence) for r in back] == recs


@pytest.mark.parametrize("content, message, line", [
    ("", "is empty", None),
    ("\n\n  \n", "is empty", None),
    (b"\x00\x01\x02binary", "binary data", 1),
    ("ACGT\nACGT\n", "first line is 'ACGT'", 1),
    (">a\nACGT\nAC1T\n", "unexpected character '1'", 3),
    (">a\nAC GT\n>b\nAC;GT\n", "unexpected character ';'", 4),
])
def test_bad_fasta_names_file_line_and_fix(tmp_path, content, message, line):
    path = write(tmp_path / "bad.fa", content)
    with pytest.raises(GeneMaskInputError, match=message) as err:
        read_fasta(path)
    assert str(path) in str(err.value) and "Fix:" in str(err.value)
    assert err.value.line == line


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(GeneMaskInputError, match="file not found"):
        read_fasta(tmp_path / "nope.fa")
    with pytest.raises(GeneMaskInputError, match="is a folder"):
        read_fasta(tmp_path)


def test_kmer_text_roundtrip_and_checks():
    assert seq_to_kmers("ACGTACG", 6) == "ACGTAC CGTACG"
    assert kmers_to_seq("ACGTAC CGTACG") == "ACGTACG"
    seq = "ACGTTGCAAGT"
    for k in range(3, 7):
        assert kmers_to_seq(seq_to_kmers(seq, k)) == seq
    with pytest.raises(GeneMaskInputError, match="do not overlap"):
        kmers_to_seq("ACGTAC GGGGGG")
    with pytest.raises(GeneMaskInputError, match="shorter than k=6"):
        seq_to_kmers("ACG", 6)
    with pytest.raises(GeneMaskInputError, match="k must be"):
        seq_to_kmers("ACGTACGT", 7)


def test_tables_quoted_kmers_unquoted_csv(tmp_path):
    tsv = write(tmp_path / "train.tsv",
                '"sequence"\t"label"\n"ACGTAC CGTACG GTACGG"\t1\n"AAAAAA AAAAAT"\t0\n')
    df = read_labelled(tsv)
    assert df["sequence"].tolist() == ["ACGTACGG", "AAAAAAT"]
    assert df["label"].tolist() == [1, 0] and df["line"].tolist() == [2, 3]
    csv = write(tmp_path / "gue.csv", "sequence,label\nacgtacgt,2\nTTTTGGGG,0\n")
    assert read_labelled(csv)["sequence"].tolist() == ["ACGTACGT", "TTTTGGGG"]
    swapped = write(tmp_path / "swap.tsv", "label\tsequence\n1\tACGTACGT\n")
    assert read_labelled(swapped)["label"].tolist() == [1]
    headless = write(tmp_path / "nohead.tsv", "ACGTACGT\t1\nCCCCCCCC\t0\n")
    assert len(read_labelled(headless)) == 2


@pytest.mark.parametrize("content, message, line", [
    ("sequence\tlabel\nACGTACGT\tpositive\n", "label 'positive' is not an integer", 2),
    ("sequence\tlabel\nACGTACGT\n", "row has 1 column", 2),
    ("sequence\tlabel\nACGTXXGT\t1\n", "not a nucleotide letter", 2),
    ("sequence\tlabel\n", "has a header but no rows", None),
    ("seq\tfoo\nACGT\t1\n", "lacks a label column", 1),
])
def test_bad_tables(tmp_path, content, message, line):
    path = write(tmp_path / "bad.tsv", content)
    with pytest.raises(GeneMaskInputError, match=message) as err:
        read_labelled(path)
    assert err.value.line == line and str(path) in str(err.value)


def test_read_sequences_formats(tmp_path):
    assert read_sequences(write(tmp_path / "a.fa", ">x\nACGT\n")) == ["ACGT"]
    assert read_sequences(write(tmp_path / "l.txt", "ACGTT\n\nacgga\n")) == ["ACGTT", "ACGGA"]
    assert read_sequences(write(tmp_path / "t.tsv", "sequence\tlabel\nACGTAC\t1\n")) == ["ACGTAC"]


@pytest.mark.skipif(not FEWSHOT.exists(), reason=f"shared data absent: {FEWSHOT}")
@pytest.mark.parametrize("rel, rows, length", [
    ("Prom-core/10/train.tsv", 20, 70), ("Prom-core/test.tsv", 5920, 70),
    ("Splice-40/10/train_splice40_10.tsv", 300, 40), ("Cohn-enh/10/train.tsv", 20, 500),
])
def test_benchmark_files_load(rel, rows, length):
    df = read_labelled(FEWSHOT / rel)
    assert len(df) == rows
    assert (df["sequence"].str.len() == length).all()
    assert set(df["label"]) <= {0, 1, 2}


# --- segments ------------------------------------------------------------------------
def test_segments_lengths_and_no_n():
    rng = np.random.default_rng(0)
    genome = "".join(rng.choice(list("ACGT"), 20000)) + "N" * 50 + "ACGT" * 500
    segs = take_segments([genome], 200, seed=3)
    lengths = np.array([len(s) for s in segs])
    assert all(set(s) <= set("ACGT") for s in segs)
    assert lengths.max() <= 511 and lengths.min() >= 6
    full = (lengths == 511).mean()
    assert 0.35 < full < 0.7  # p_full = 0.5 (some runs end early)
    # every segment is a real substring of the genome
    assert all(s in genome for s in segs[:20])
    # deterministic for a seed, different across seeds
    assert take_segments([genome], 50, seed=3) == segs[:50]
    assert take_segments([genome], 50, seed=4) != segs[:50]


def test_segments_stream_from_fasta_in_blocks(tmp_path):
    rng = np.random.default_rng(1)
    recs = [("a", "".join(rng.choice(list("ACGT"), 5000))), ("b", "ACGT" * 2000)]
    path = write_fasta(recs, tmp_path / "g.fa")
    from_file = list(iter_segments(path, seed=0))
    from_memory = list(iter_segments([r for _, r in recs], seed=0))
    assert from_file == from_memory
    # offsets skip at most max_offset bases of each record: coverage is nearly complete
    assert sum(map(len, from_file)) > 13000 - 2 * 1000 - 2 * 511


def test_segment_spec_validation():
    with pytest.raises(GeneMaskInputError, match="min_len"):
        SegmentSpec(min_len=10, max_len=5)
    with pytest.raises(GeneMaskInputError, match="no segment"):
        take_segments(["ACG"], 5, spec=SegmentSpec(max_offset=0))


# --- demo genome ---------------------------------------------------------------------
def test_demo_genome_is_deterministic_and_has_ground_truth():
    small = dict(n_records=2, record_length=60_000, sites_per_motif=40, repeats_per_record=10)
    g1, g2 = demo_genome(seed=5, **small), demo_genome(seed=5, **small)
    assert [r.sequence for r in g1.records] == [r.sequence for r in g2.records]
    assert demo_genome(seed=6, **small).records[0].sequence != g1.records[0].sequence
    assert g1.total_length == 120_000 and len(g1.motifs) == 5 * 40
    seqs = {r.name: r.sequence.upper() for r in g1.records}
    # each planted site is where the ground truth says
    for row in g1.motifs.itertuples():
        assert seqs[row.record][row.start:row.end] == row.site
    # soft-masked repeats are lower case in the records
    rep = g1.repeats.iloc[0]
    rec = next(r for r in g1.records if r.name == rep.record)
    assert rec.sequence[rep.start:rep.end].islower()


def test_demo_genome_background_statistics():
    g = demo_genome(seed=0, n_records=1, record_length=400_000, sites_per_motif=20,
                    repeats_per_record=0)
    s = g.records[0].sequence.upper()
    at = (s.count("A") + s.count("T")) / len(s)
    assert 0.55 < at < 0.62  # AT-rich like the human genome
    c, gg, cg = s.count("C") / len(s), s.count("G") / len(s), s.count("CG") / len(s)
    assert cg / (c * gg) < 0.35  # CpG depleted


def test_single_line_chromosome_streams_in_blocks(tmp_path):
    from genemask_viz.sequences import stream_fasta
    seq = "ACGT" * 5000  # 20 kbp on one line
    path = write(tmp_path / "one.fa", f">chr1 one line\n{seq}\n>chr2\nAC\nGT\n")
    chunks = list(stream_fasta(path, block_bytes=1000))
    assert max(c.codes.size for c in chunks) <= 1000  # never the whole record at once
    recs = read_fasta(path)
    assert [(r.name, r.sequence) for r in recs] == [("chr1", seq), ("chr2", "ACGT")]
    # a header cut by the block boundary is carried, not read as sequence
    path2 = write(tmp_path / "h.fa", ">" + "x" * 50 + "\nACGT\n>b\nGG\n")
    assert [r.name for r in read_fasta(path2)] == ["x" * 50, "b"]
    starts = [c.name for c in stream_fasta(path2, block_bytes=7) if c.first]
    assert starts == ["x" * 50, "b"]


def test_truncated_gzip_is_a_clear_error(tmp_path):
    import random
    rnd = random.Random(0)
    text = ">a\n" + "".join(rnd.choice("ACGT") for _ in range(300_000)) + "\n"
    full = tmp_path / "full.fa.gz"
    with gzip.open(full, "wt") as fh:
        fh.write(text)
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(GeneMaskInputError, match="cannot be read to its end") as err:
        read_fasta(cut)
    assert "truncated or corrupt" in str(err.value)
    from genemask_viz.ngrams import count_ngrams
    with pytest.raises(GeneMaskInputError, match="cannot be read to its end"):
        count_ngrams(cut, max_n=3)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("sequence,label\nACGTACGT,1\n".encode("utf-8-sig"))
    assert read_labelled(path)["label"].tolist() == [1]


@pytest.mark.parametrize("params, message", [
    (dict(record_length=15), "record_length must be an integer >= 1000"),
    (dict(n_records=0), "n_records must be"),
    (dict(sites_per_motif=-1), "sites_per_motif must be"),
    (dict(n_records=1, record_length=2000, sites_per_motif=600), "too small"),
])
def test_demo_genome_bad_parameters(params, message):
    with pytest.raises(GeneMaskInputError, match=message):
        demo_genome(**params)


# --- issue 14: hostile input ends in GeneMaskInputError, never another exception -----------

def _corrupt_gzip(payload: bytes) -> bytes:
    """A gzip file with a valid header whose compressed data is garbled (zlib.error)."""
    data = bytearray(gzip.compress(payload, mtime=0))
    for i in range(12, min(len(data) - 8, 40)):
        data[i] ^= 0x5A
    return bytes(data)


def _table_text(n_rows: int, seq_len: int = 60) -> str:
    rng = np.random.default_rng(0)
    rows = ["".join(rng.choice(list("ACGT"), seq_len)) + f"\t{i % 2}" for i in range(n_rows)]
    return "sequence\tlabel\n" + "\n".join(rows) + "\n"


def test_corrupt_gzip_data_is_a_clear_error_in_every_reader(tmp_path):
    """Item 1: a valid gzip header with corrupt data raised zlib.error."""
    from genemask_viz.ngrams import load_table
    fa = write(tmp_path / "bad.fa.gz", _corrupt_gzip(b">a\n" + b"ACGT" * 200 + b"\n"))
    tsv = write(tmp_path / "bad.tsv.gz", _corrupt_gzip(_table_text(50).encode()))
    csv = write(tmp_path / "bad.csv.gz", _corrupt_gzip(b"ngram,n,genemask_score\nAAAAAA,6,1.0\n" * 20))
    for reader, path in [(read_fasta, fa), (read_sequences, fa), (read_labelled, tsv),
                         (read_sequences, tsv), (load_table, csv)]:
        with pytest.raises(GeneMaskInputError, match="gzip|truncated or corrupt") as err:
            reader(path)
        assert str(path) in str(err.value)


def test_truncated_gzip_past_the_first_64_kib_in_tables(tmp_path):
    """Item 2: a truncated .gz of more than 64 KiB raised EOFError in read_labelled/load_table."""
    from genemask_viz.ngrams import load_table
    text = _table_text(3000).encode()
    assert len(text) > 1 << 17
    tsv = write(tmp_path / "cut.tsv.gz", gzip.compress(text, mtime=0)[:-2000])
    rows = "".join(f"{a}{b}{c}{d}{e}{f},6,{i / 7:.6f},{i + 1}\n" for i, (a, b, c, d, e, f) in
                   enumerate(np.random.default_rng(1).choice(list("ACGT"), (4000, 6))))
    table = ("ngram,n,genemask_score,rank\n" + rows).encode()
    csv = write(tmp_path / "cut.csv.gz", gzip.compress(table, compresslevel=1, mtime=0)[:-3000])
    for reader, path in [(read_labelled, tsv), (read_sequences, tsv), (load_table, csv)]:
        with pytest.raises(GeneMaskInputError, match="truncated or corrupt") as err:
            reader(path)
        assert str(path) in str(err.value)


def test_overlong_tsv_field_is_a_clear_error(tmp_path):
    """Item 3: a field over csv's 131,072-character limit raised _csv.Error."""
    path = write(tmp_path / "long.tsv", "sequence\tlabel\n" + '"' + "A" * 140_000 + '"\t1\nACGTACGT\t0\n')
    with pytest.raises(GeneMaskInputError, match="cannot be split into columns") as err:
        read_labelled(path)
    assert err.value.line == 2


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", "\u2028".encode(), "\ufeff\u2028\n\u00a0\n".encode(),
                                     b"\xef\xbb\xbf\n\n"])
def test_bom_or_unicode_separator_only_files(tmp_path, content):
    """Item 4: a file holding only a BOM or U+2028 raised StopIteration in tables.py."""
    for name, reader in [("x.tsv", read_labelled), ("x.txt", read_sequences), ("x.fa", read_fasta)]:
        path = write(tmp_path / name, content)
        with pytest.raises(GeneMaskInputError, match="empty|no text") as err:
            reader(path)
        assert str(path) in str(err.value)


def test_unicode_line_separator_inside_a_table_keeps_line_numbers(tmp_path):
    path = write(tmp_path / "x.tsv", "sequence\tlabel\nACGT\u2028ACGT\t1\nACGTAC\t0\n")
    with pytest.raises(GeneMaskInputError, match="not a nucleotide letter") as err:
        read_labelled(path)
    assert err.value.line == 2  # split at \n only: the editor's line numbers


@pytest.mark.parametrize("label", ["1e999", "9" * 30, "nan", "-inf"])
def test_labels_out_of_range_are_refused(tmp_path, label):
    path = write(tmp_path / "x.tsv", f"sequence\tlabel\nACGTACGT\t0\nACGTAA\t{label}\n")
    with pytest.raises(GeneMaskInputError, match="not an integer class number") as err:
        read_labelled(path)
    assert err.value.line == 3


def test_fasta_header_line_limit_stops_a_giant_header(tmp_path):
    """Item 11: a FASTA whose header line never ends was carried and re-joined block after
    block (quadratic time, unbounded memory); it now stops at the line limit."""
    from genemask_viz.sequences.fasta import stream_fasta
    path = tmp_path / "h.fa.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(b">" + b"x" * (3 << 20) + b"\nACGT\n")
    with pytest.raises(GeneMaskInputError, match="header line is longer than 1.0 MiB") as err:
        list(stream_fasta(path, block_bytes=1 << 16))
    assert err.value.line == 1
    # a smaller limit by argument, a larger one by environment variable
    with pytest.raises(GeneMaskInputError, match="longer than 1,000 bytes"):
        list(stream_fasta(path, block_bytes=1 << 12, max_line=1000))


def test_input_limits_by_argument_and_environment(tmp_path, monkeypatch):
    from genemask_viz.sequences.fasta import input_limit, line_limit, read_capped
    path = write(tmp_path / "x.fa", ">a\n" + "ACGT" * 1000 + "\n")
    assert input_limit() == 256 << 20 and line_limit() == 1 << 20
    assert len(read_fasta(path, max_bytes=5000)[0]) == 4000
    with pytest.raises(GeneMaskInputError, match="holds more than 3,000 bytes") as err:
        read_fasta(path, max_bytes=3000)
    assert "GENEMASK_MAX_INPUT_BYTES" in str(err.value)
    monkeypatch.setenv("GENEMASK_MAX_INPUT_BYTES", "2K")
    assert input_limit() == 2048
    with pytest.raises(GeneMaskInputError, match="holds more than 2,048 bytes"):
        read_sequences(path)
    monkeypatch.setenv("GENEMASK_MAX_INPUT_BYTES", "lots")
    with pytest.raises(GeneMaskInputError, match="GENEMASK_MAX_INPUT_BYTES.*not a positive size"):
        read_fasta(path)
    monkeypatch.delenv("GENEMASK_MAX_INPUT_BYTES")
    monkeypatch.setenv("GENEMASK_MAX_LINE_BYTES", "100")
    with pytest.raises(GeneMaskInputError, match="line 2: a line is longer than 100 bytes"):
        read_capped(path)
    assert read_capped(path, max_line=10_000) == path.read_bytes()


def test_write_fasta_leaves_no_temp_file(tmp_path):
    """Item 6: a folder in the way of the output left 'out.fa.tmp' behind."""
    (tmp_path / "out.fa").mkdir()
    with pytest.raises(GeneMaskInputError, match="is a folder"):
        write_fasta([("a", "ACGT")], tmp_path / "out.fa")
    target = tmp_path / "ok.fa"
    with pytest.raises(TypeError):  # fails half way through writing
        write_fasta([("a", "ACGT"), ("b", None)], target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fa"]
