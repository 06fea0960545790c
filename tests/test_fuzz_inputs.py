"""Hostile and broken input (issue 14): every reader and a representative set of CLI commands
end in the project's own error (GeneMaskInputError; on the command line one line naming the
file, exit code 2, no traceback) and leave no run folder or temporary file behind.

The inputs are generated from a fixed seed: valid FASTA / TSV / CSV / score tables mutated
(bytes inserted, deleted, duplicated, truncated; BOMs, U+2028, NUL, quotes, overlong fields,
bad numbers) and wrapped as plain, gzip, truncated gzip or gzip with corrupt data; plus the
exact cases of the issue.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genemask_viz.cli import main
from genemask_viz.errors import GeneMaskInputError

SEED = 20261130
N_MUTANTS = 240  # plus the fixed cases below: a few hundred inputs in all
REPO = Path(__file__).resolve().parents[1]

_ACGT = "ACGT"
_SPECIAL = ["\r", "\t", ",", '"', ">", "\u2028", "\ufeff", "\x00", "\x1c", "\u00e9", "\n\n", " ",
            "1.5", "inf", "nan", "-1", "six", "N", "\\", "'", "\x85", "\xff"]


def _rand_seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ACGT) for _ in range(n))


def _bases(rng: random.Random) -> dict[str, str]:
    """Valid inputs of each kind, to be mutated."""
    fasta = "".join(f">rec{i} description\n" + "\n".join(_rand_seq(rng, 60) for _ in range(3)) + "\n"
                    for i in range(3))
    tsv = "sequence\tlabel\n" + "".join(f"{_rand_seq(rng, 40)}\t{i % 2}\n" for i in range(20))
    kmer_tsv = '"sequence"\t"label"\n' + "".join(
        '"' + " ".join(s[j:j + 6] for j in range(len(s) - 5)) + f'"\t{i % 2}\n'
        for i, s in enumerate(_rand_seq(rng, 30) for _ in range(10)))
    csv = "sequence,label\n" + "".join(f"{_rand_seq(rng, 40)},{i % 3}\n" for i in range(20))
    kmers = sorted({_rand_seq(rng, 6) for _ in range(40)})
    table = "ngram,n,count,genemask_score,rank\n" + "".join(
        f"{k},6,{200 + i},{1 - i / 50:.4f},{i + 1}\n" for i, k in enumerate(kmers))
    release = "ngram,naive.pmi,true.pmi,dp.true.pmi,norm_dp_true_pmi,ngram_size\n" + "".join(
        f"{k},{0.5 + i / 90:.4f},0.4,{0.6 + i / 80:.4f},{0.3 + i / 200:.4f},6\n" for i, k in enumerate(kmers))
    return {"fasta": fasta, "tsv": tsv, "kmer_tsv": kmer_tsv, "csv": csv, "table": table,
            "release": release}


_SUFFIX = {"fasta": ".fa", "tsv": ".tsv", "kmer_tsv": ".tsv", "csv": ".csv", "table": ".csv",
           "release": ".csv"}


def _mutate(rng: random.Random, text: str) -> bytes:
    data = text
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
        pos = rng.randrange(len(data) + 1)
        if op == 0:  # insert special characters
            data = data[:pos] + rng.choice(_SPECIAL) * rng.randint(1, 3) + data[pos:]
        elif op == 1:  # delete a range
            data = data[:pos] + data[pos + rng.randint(1, 30):]
        elif op == 2:  # duplicate a line
            lines = data.split("\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = "\n".join(lines)
        elif op == 3:  # truncate
            data = data[:pos]
        elif op == 4:  # an overlong field (csv's limit is 131,072 characters)
            data = data[:pos] + "A" * rng.choice([200, 140_000]) + data[pos:]
        elif op == 5:  # a BOM in front
            data = "\ufeff" + data
        elif op == 6:  # other line ends
            data = data.replace("\n", rng.choice(["\r", "\u2028", "\r\n", "\x0b"]))
        elif op == 7:  # a cell replaced by a bad number or text
            cells = data.split(",") if "," in data else data.split("\t")
            if len(cells) > 1:
                i = rng.randrange(len(cells))
                cells[i] = rng.choice(["1.5", "inf", "-inf", "nan", "six", "", "1e400", "9" * 25,
                                       '"', "-3"])
                data = ("," if "," in data else "\t").join(cells)
        else:  # random bytes (latin-1 so that any byte value appears)
            data = data[:pos] + "".join(chr(rng.randrange(256)) for _ in range(rng.randint(1, 8))) + data[pos:]
    return data.encode("utf-8", errors="surrogatepass") if rng.random() < 0.8 else data.encode("latin-1", "replace")


def _wrap(rng: random.Random, raw: bytes) -> tuple[bytes, str]:
    r = rng.random()
    if r < 0.55:
        return raw, ""
    gz = gzip.compress(raw, compresslevel=rng.choice([1, 6, 9]), mtime=0)
    if r < 0.75:
        return gz, ".gz"
    if r < 0.88:  # truncated
        return gz[:rng.randint(2, max(3, len(gz) - 1))], ".gz"
    bad = bytearray(gz)  # a valid header, corrupt data
    for i in range(10, len(bad) - 8):
        if rng.random() < 0.3:
            bad[i] ^= rng.randrange(1, 256)
    return bytes(bad), ".gz"


def _fixed_cases() -> list[tuple[str, bytes]]:
    """The defects the issue lists, each exactly."""
    big = "sequence\tlabel\n" + "".join(f"{'ACGT' * 10}\t{i % 2}\n" for i in range(3000))
    table = "ngram,n,genemask_score,rank\n"
    corrupt = bytearray(gzip.compress(b">a\n" + b"ACGT" * 500 + b"\n", mtime=0))
    corrupt[20:30] = b"\xff" * 10
    return [
        ("corrupt.fa.gz", bytes(corrupt)),
        ("cut_big.tsv.gz", gzip.compress(big.encode(), mtime=0)[:-500]),
        ("cut_big.csv.gz", gzip.compress(("ngram,n,genemask_score\n" + "ACGTAC,6,0.5\n" * 20000)
                                         .encode(), mtime=0)[:-500]),
        ("longfield.tsv", ("sequence\tlabel\n" + "A" * 140_000 + "\t1\n").encode()),
        ("bom.tsv", b"\xef\xbb\xbf"), ("bom.fa", b"\xef\xbb\xbf"), ("ls.tsv", "\u2028".encode()),
        ("ls.csv", "\u2028".encode()),
        ("rank_frac.csv", (table + "AAAAAA,6,0.5,1.5\n").encode()),
        ("rank_inf.csv", (table + "AAAAAA,6,0.5,inf\n").encode()),
        ("rank_text.csv", (table + "AAAAAA,6,0.5,first\n").encode()),
        ("rank_huge.csv", (table + "AAAAAA,6,0.5,1e300\n").encode()),
        ("release_numeric.csv", b"ngram,naive.pmi,true.pmi,dp.true.pmi,norm_dp_true_pmi\n"
                                b"123456,0.5,0.4,0.6,0.3\n"),
        ("header_only.csv", table.encode()),
        ("text_scores.csv", (table + "AAAAAA,6,high,1\n").encode()),
        ("n_six.csv", b"ngram,n,genemask_score\nAAAAAA,six,0.5\n"),
        ("empty.fa", b""), ("nul.fa", b">a\nAC\x00GT\n"), ("gzip_magic_only.fa.gz", b"\x1f\x8b"),
        ("garbage.parquet", bytes(range(256)) * 4), ("header_long.fa", b">" + b"x" * (2 << 20)),
    ]


def fuzz_inputs() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    bases = _bases(rng)
    cases = _fixed_cases()
    kinds = sorted(bases)
    for i in range(N_MUTANTS):
        kind = kinds[i % len(kinds)]
        data, gz = _wrap(rng, _mutate(rng, bases[kind]))
        cases.append((f"m{i:03d}_{kind}{_SUFFIX[kind]}{gz}", data))
    return cases


CASES = fuzz_inputs()


def _readers(tmp_path: Path):
    from genemask_viz.app_logic.inputs import read_upload
    from genemask_viz.app_logic.labs import save_upload
    from genemask_viz.motifs.library import read_motifs
    from genemask_viz.ngrams import load_table
    from genemask_viz.sequences import read_fasta, read_labelled, read_sequences, stream_fasta
    from genemask_viz.sequences.fasta import check_fasta_start
    from genemask_viz.training.tasks import load_task
    return {
        "read_fasta": read_fasta, "stream_fasta": lambda p: sum(1 for _ in stream_fasta(p)),
        "check_fasta_start": check_fasta_start, "read_sequences": read_sequences,
        "read_labelled": read_labelled, "load_table": load_table, "read_motifs": read_motifs,
        "load_task": lambda p: load_task(train=p),
        "read_upload": lambda p: read_upload(p.name, p.read_bytes()),
        "save_upload": lambda p: save_upload(tmp_path / "runs", p.name, p.read_bytes()),
    }


def _leftovers(root: Path) -> list[str]:
    """Temporary files, or upload folders that should have been removed, under ``root``."""
    bad = []
    for p in root.rglob("*"):
        if p.name.endswith(".tmp") or p.name.startswith("genemask_upload_"):
            bad.append(str(p.relative_to(root)))
    return bad


def test_every_reader_ends_in_its_own_error(tmp_path, monkeypatch):
    """A few hundred malformed inputs through every reader: each returns or raises
    GeneMaskInputError naming the file (no zlib.error, EOFError, _csv.Error, StopIteration,
    ValueError, TypeError, OverflowError, AttributeError ...)."""
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where read_upload makes its folder
    readers = _readers(tmp_path)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    failures, errors = [], 0
    for name, data in CASES:
        path = inputs / name
        path.write_bytes(data)
        for reader, fn in readers.items():
            uploads = tmp_path / "runs" / "uploads"
            before = set(uploads.iterdir()) if uploads.exists() else set()
            try:
                fn(path)
            except GeneMaskInputError as exc:
                errors += 1
                # (load_task's "too few rows to hold out a test part" does not name the file:
                # training/tasks.py is not this issue's; reported to its owner)
                if name not in str(exc) and "too few to hold out" not in str(exc):
                    failures.append(f"{reader}({name}): error does not name the file: {exc}")
                after = set(uploads.iterdir()) if uploads.exists() else set()
                if after - before:
                    failures.append(f"{reader}({name}): rejected upload kept: {after - before}")
            except Exception as exc:  # noqa: BLE001 - the point of the test
                failures.append(f"{reader}({name}): {type(exc).__name__}: {str(exc)[:150]}")
    assert not failures, f"{len(failures)} of {len(CASES) * len(readers)} calls:\n" + "\n".join(failures[:40])
    assert errors > len(CASES) * 3  # most inputs are refused by most readers
    assert not _leftovers(tmp_path) and not any(scratch.iterdir())


def _motif_file(folder: Path) -> Path:
    path = folder / "two.meme"
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
                    "MOTIF M1 ONE\nletter-probability matrix: alength= 4 w= 4\n"
                    "0.7 0.1 0.1 0.1\n0.1 0.7 0.1 0.1\n0.1 0.1 0.7 0.1\n0.1 0.1 0.1 0.7\n\n"
                    "MOTIF M2 TWO\nletter-probability matrix: alength= 4 w= 4\n"
                    "0.1 0.1 0.1 0.7\n0.1 0.1 0.7 0.1\n0.1 0.7 0.1 0.1\n0.7 0.1 0.1 0.1\n")
    return path


def _table_fails(path: Path) -> bool:
    from genemask_viz.ngrams import load_table
    try:
        load_table(path)
    except GeneMaskInputError:
        return True
    return False


def _commands(path: Path, out: Path, motifs: Path) -> list[list[str]]:
    kind = path.name.split("_", 1)[-1]
    fasta_like = [["mask", "--strategy", "random", "--fasta", str(path)],
                  ["npmi", str(path), "--max-n", "2", "--min-count", "1", "--out",
                   str(out / "t.csv"), "--quiet"],
                  ["pretrain", "--corpus", str(path), "--model", str(out / "no-model"),
                   "--out", str(out / "run"), "--quiet"]]
    table_like = [["mask", "--strategy", "genemask", "--table", str(path), "--sequence",
                   "ACGTACGTTGCAACGT"]]
    if _table_fails(path):  # (a table that loads would start the whole motif comparison)
        table_like.append(["motifs", "--table", str(path), "--jaspar", str(motifs), "--top", "3",
                           "--bootstrap", "10", "--logos", "0", "--out", str(out / "motifs")])
    labelled = [["fewshot", "--data", str(path), "--model", str(out / "no-model"),
                 "--out", str(out / "run"), "--quiet"]]
    if kind.startswith("fasta") or path.suffixes[:1] == [".fa"]:
        return fasta_like
    if kind.startswith(("table", "release")) or path.name.startswith(("rank", "release", "header_only",
                                                                        "text_scores", "n_six")):
        return table_like
    return labelled + fasta_like[:1]


def test_cli_commands_end_in_one_line_and_exit_2(tmp_path, capsys):
    """The fuzzed inputs (every third one, and all fixed cases) through mask, npmi, pretrain,
    fewshot and motifs in-process: exit 0 or 2, one error line naming the file (or the
    missing model, when the data were fine), no run folder and no temp file left."""
    motifs = _motif_file(tmp_path)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    n_fixed = len(_fixed_cases())
    chosen = CASES[:n_fixed] + CASES[n_fixed::3]
    failures, codes = [], []
    for name, data in chosen:
        path = inputs / name
        path.write_bytes(data)
        out = tmp_path / "out" / name.replace(".", "_")
        out.mkdir(parents=True)
        for argv in _commands(path, out, motifs):
            code = main(argv)
            captured = capsys.readouterr()
            codes.append(code)
            lines = captured.err.strip().splitlines()
            errors = [ln for ln in lines if ln.startswith(f"genemask {argv[0]}: error: ")]
            what = f"genemask {' '.join(argv[:1])} on {name}"
            if code not in (0, 2) or "Traceback" in captured.err:
                failures.append(f"{what}: exit {code}: {captured.err[-300:]}")
            elif code == 2:  # progress lines may come first; the error is one line, the last
                if len(errors) != 1 or lines[-1] != errors[0]:
                    failures.append(f"{what}: not one error line: {captured.err[-300:]!r}")
                elif name not in errors[0] and "no-model" not in errors[0]:
                    failures.append(f"{what}: the error does not name the file: {errors[0][:300]}")
            if (out / "run").exists():
                failures.append(f"{what}: left a run folder")
    assert not failures, "\n".join(failures[:30])
    assert codes.count(2) > len(codes) // 2
    assert not _leftovers(tmp_path)


_SUBPROCESS_CASES = [  # (input name from the fixed cases, command template)
    ("corrupt.fa.gz", ["mask", "--strategy", "random", "--fasta", "{path}"]),
    ("cut_big.tsv.gz", ["fewshot", "--data", "{path}", "--out", "{out}/run", "--quiet"]),
    ("bom.fa", ["npmi", "{path}", "--max-n", "2", "--out", "{out}/t.csv", "--quiet"]),
    ("rank_frac.csv", ["motifs", "--table", "{path}", "--out", "{out}/m"]),
]


@pytest.mark.parametrize("name,argv", _SUBPROCESS_CASES, ids=[c[0] for c in _SUBPROCESS_CASES])
def test_real_subprocess_prints_one_line_without_traceback(tmp_path, name, argv):
    data = dict(_fixed_cases())[name]
    path = tmp_path / name
    path.write_bytes(data)
    argv = [a.format(path=path, out=tmp_path) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "genemask_viz.cli", *argv], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith(f"genemask {argv[0]}: error: ") and name in lines[0], lines[0]
    assert not (tmp_path / "run").exists() and not _leftovers(tmp_path)


# --- output paths (item 6) -----------------------------------------------------------------

def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def test_output_path_errors_are_one_line(tmp_path, capsys, monkeypatch):
    """A folder in the way, a file where a folder should be, a locked folder: one line,
    exit 2, no temp file (npmi and demo-genome used to leave ``.tmp`` files)."""
    fa = tmp_path / "in.fa"
    fa.write_text(">a\n" + "ACGT" * 50 + "\n")
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "dir.fa").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = [
        (["npmi", str(fa), "--max-n", "2", "--min-count", "1", "--out", str(tmp_path / "dir.csv"),
          "--quiet"], "dir.csv: is a folder"),
        (["npmi", str(fa), "--max-n", "2", "--min-count", "1", "--out",
          str(tmp_path / "afile" / "t.csv"), "--quiet"], "afile"),
        (["demo-genome", "--out", str(tmp_path / "dir.fa"), "--records", "1", "--length", "100000",
          "--sites", "5"], "dir.fa: is a folder"),
        (["demo-genome", "--out", str(tmp_path / "afile" / "x.fa"), "--records", "1", "--length",
          "100000", "--sites", "5"], "afile: File exists"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and "Fix:" in err[0], err
    # a locked folder: as root permissions are not enforced, so the write itself is refused
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if _as_root():
        real_open = open

        def refuse(file, mode="r", *args, **kwargs):
            if str(file).startswith(str(locked)) and any(m in mode for m in "wax"):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, mode, *args, **kwargs)
        monkeypatch.setattr("builtins.open", refuse)
    try:
        code = main(["demo-genome", "--out", str(locked / "x.fa"), "--records", "1", "--length",
                     "100000", "--sites", "5"])
    finally:
        monkeypatch.undo()
        locked.chmod(0o700)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Permission denied" in err[0] and "permissions" in err[0]
    assert not _leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "dir.csv", "dir.fa", "in.fa", "locked"]


def test_full_disk_on_stdout_is_one_line(tmp_path):
    """``mask --json > /dev/full`` gave a traceback."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "genemask_viz.cli", "mask", "--strategy",
                               "random", "--sequence", "ACGT" * 40, "--json"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=300, cwd=tmp_path,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "No space left on device" in lines[0] and "Traceback" not in proc.stderr


# --- tables with no usable scores (item 9) ----------------------------------------------------

@pytest.mark.parametrize("body", ["", "AAAAAA,6,\nCCCCCC,6,nan\n", "AAAAAA,5,0.5\n",
                                  "AAAXAA,6,0.5\nAA,6,0.5\n"])
def test_score_table_without_usable_scores_is_refused(tmp_path, body, capsys):
    """Item 9: ``mask --strategy genemask`` accepted a table with no usable scores (header
    only, no scores, wrong lengths, not A/C/G/T): every centre then had score null and the
    PMI guidance silently disappeared."""
    from genemask_viz.masking import token_scores, unit_vocabulary
    from genemask_viz.ngrams import load_table
    path = tmp_path / "scores.csv"
    path.write_text("ngram,n,genemask_score\n" + body)
    table = load_table(path)
    with pytest.raises(GeneMaskInputError, match="no usable scores for n = 6") as err:
        token_scores(table, 6)
    assert "scores.csv" in str(err.value)
    with pytest.raises(GeneMaskInputError, match="no usable scores for n = 2..10"):
        unit_vocabulary(table)
    for strategy in ("genemask", "pmi-span"):
        assert main(["mask", "--strategy", strategy, "--table", str(path), "--sequence",
                     "ACGTACGTTGCA"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "no usable scores" in err[0] and "scores.csv" in err[0]
    # one usable score is enough: the other k-mers rank lowest
    path.write_text("ngram,n,genemask_score\n" + body + "ACGTAC,6,0.25\n")
    scores = token_scores(load_table(path), 6)
    assert np.isfinite(scores).sum() == 1 and scores.max() == 0.25


@pytest.mark.parametrize("row,message", [("AAAAAA,6,high", "genemask_score 'high' is not a number"),
                                         ("AAAAAA,six,0.5", "n 'six' is not a whole number"),
                                         ("AAAAAA,,0.5", "n \\(empty\\) is not a whole number"),
                                         ("AAAAAA,6.5,0.5", "n 6.5 is not a whole number")])
def test_score_table_with_text_scores_or_lengths_is_refused(tmp_path, row, message, capsys):
    from genemask_viz.ngrams import load_table
    path = tmp_path / "scores.csv"
    path.write_text("ngram,n,genemask_score\nCCCCCC,6,0.5\n" + row + "\n")
    with pytest.raises(GeneMaskInputError, match=message) as err:
        load_table(path)
    assert err.value.line == 3
    assert main(["motifs", "--table", str(path), "--out", str(tmp_path / "m")]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_release_table_with_numeric_ngrams_and_bad_ranks(tmp_path):
    """Item 5: a non-integer rank (1.5, inf, text) raised ValueError/TypeError/OverflowError;
    a release-format CSV with numeric n-grams raised AttributeError."""
    from genemask_viz.ngrams import load_table
    head = "ngram,n,genemask_score,rank\nAAAAAA,6,0.9,1\n"
    for rank in ("1.5", "inf", "first", "1e300", "-inf"):
        path = tmp_path / f"rank_{rank}.csv"
        path.write_text(head + f"CCCCCC,6,0.5,{rank}\n")
        with pytest.raises(GeneMaskInputError, match="is not a whole number") as err:
            load_table(path)
        assert err.value.line == 3 and path.name in str(err.value)
    ok = tmp_path / "ok.csv"
    ok.write_text(head + "CCCCCC,6,0.5,\n")
    assert load_table(ok)["rank"].tolist()[:1] == [1] and pd.isna(load_table(ok)["rank"].iloc[1])
    release = tmp_path / "release.csv"
    release.write_text("ngram,naive.pmi,true.pmi,dp.true.pmi,norm_dp_true_pmi\n"
                       "123456,0.5,0.4,0.6,0.3\nACGTAC,0.5,0.4,0.6,0.35\n")
    table = load_table(release)  # read as text: '123456' is an n-gram (of no nucleotide)
    assert table["ngram"].tolist() == ["ACGTAC", "123456"] and table["n"].tolist() == [6, 6]
