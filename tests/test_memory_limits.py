"""Decompression bombs and giant lines under a hard memory limit (issue 14, item 11).

Each case runs a command in a subprocess that first imports what it needs, then caps its
own address space (``resource.setrlimit(RLIMIT_AS)``) at what it uses plus ``HEADROOM``,
and runs the command in-process. A reader that followed the bomb would hit the cap (a
MemoryError, or a kill); the readers must stop first with the clear limit error (exit 2),
and the streaming counter must finish inside the cap.

The bombs are multi-member gzip files built from one compressed block repeated: a few MB
on disk, gigabytes when read, written in well under a second.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEADROOM = 1536 << 20  # address space allowed beyond what the imports took
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_AS and /proc are Linux-only")

_DRIVER = r"""
import json, os, resource, sys
import numpy, pandas, torch  # the big imports, before the limit
import genemask_viz.cli, genemask_viz.masking, genemask_viz.ngrams, genemask_viz.sequences
import genemask_viz.training.tasks, genemask_viz.app_logic.inputs
def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
limit = vm("VmSize:") + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
spec = json.loads(sys.argv[2])
if spec.get("upload"):
    from genemask_viz.app_logic.inputs import read_upload
    from genemask_viz.errors import GeneMaskInputError
    try:
        read_upload(os.path.basename(spec["upload"]), open(spec["upload"], "rb").read())
        code = 0
    except GeneMaskInputError as exc:
        print(f"upload: error: {exc}", file=sys.stderr)
        code = 2
else:
    code = genemask_viz.cli.main(spec["argv"])
print(json.dumps({"peak_over_limit": vm("VmPeak:") - limit}), file=sys.stderr)
sys.exit(code)
"""


def _bomb(path: Path, block: bytes, copies: int, head: bytes = b"") -> Path:
    """``head`` then ``block`` ``copies`` times, as a multi-member gzip (one member per copy)."""
    member = gzip.compress(block, compresslevel=9, mtime=0)
    with open(path, "wb") as fh:
        if head:
            fh.write(gzip.compress(head, mtime=0))
        for _ in range(copies):
            fh.write(member)
    return path


def _run(tmp_path: Path, spec: dict, timeout: float = 300.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1")
    env.pop("GENEMASK_MAX_INPUT_BYTES", None)
    env.pop("GENEMASK_MAX_LINE_BYTES", None)
    return subprocess.run([sys.executable, "-c", _DRIVER, str(HEADROOM), json.dumps(spec)],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)


def _assert_limit_error(proc, command: str, message: str, name: str) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode} (a kill is negative):\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"{command}: error: ")]
    assert len(lines) == 1 and message in lines[0] and name in lines[0], proc.stderr[-3000:]


SEQ_BLOCK = (b"ACGTTGCAAGCT" * 5 + b"\n") * (1 << 14)  # 1 MiB of 60-nt lines


def test_fasta_bomb_in_mask_and_upload_stops_at_the_input_limit(tmp_path):
    """2 GiB of sequence in a ~9 MB gzip: mask --fasta and the app's read_upload held it all
    (3 GB); they stop at the 256 MiB input limit."""
    bomb = _bomb(tmp_path / "bomb.fa.gz", SEQ_BLOCK, 2048, head=b">chr1\n")
    assert bomb.stat().st_size < 50 << 20  # passes the app's 50 MB upload cap
    proc = _run(tmp_path, {"argv": ["mask", "--strategy", "random", "--fasta", str(bomb)]})
    _assert_limit_error(proc, "genemask mask", "holds more than 256.0 MiB", "bomb.fa.gz")
    proc = _run(tmp_path, {"upload": str(bomb)})
    _assert_limit_error(proc, "upload", "holds more than 256.0 MiB", "bomb.fa.gz")


def test_table_bomb_in_fewshot_leaves_no_run(tmp_path):
    rows = b"".join(b"ACGTTGCAAGCTACGTTGCAAGCTACGTTGCA\t" + str(i % 2).encode() + b"\n"
                    for i in range(1 << 15))
    bomb = _bomb(tmp_path / "bomb.tsv.gz", rows, 2048, head=b"sequence\tlabel\n")
    proc = _run(tmp_path, {"argv": ["fewshot", "--data", str(bomb), "--out",
                                    str(tmp_path / "run"), "--quiet"]})
    _assert_limit_error(proc, "genemask fewshot", "holds more than 256.0 MiB", "bomb.tsv.gz")
    assert not (tmp_path / "run").exists()


def test_giant_lines_stop_at_the_line_limit(tmp_path):
    """A table with a 1 GiB line (motifs) and a FASTA whose header is 2 GiB (mask --fasta:
    the unfinished header was carried and re-joined block after block; the counter of npmi
    parses headers in its kernel and never held one)."""
    line = _bomb(tmp_path / "line.csv.gz", b"A" * (1 << 20), 1024, head=b"ngram,n,genemask_score\n")
    proc = _run(tmp_path, {"argv": ["motifs", "--table", str(line), "--out", str(tmp_path / "m")]})
    _assert_limit_error(proc, "genemask motifs", "a line is longer than 1.0 MiB", "line.csv.gz")
    header = _bomb(tmp_path / "header.fa.gz", b"x" * (1 << 20), 2048, head=b">")
    proc = _run(tmp_path, {"argv": ["mask", "--strategy", "random", "--fasta", str(header)]})
    _assert_limit_error(proc, "genemask mask", "a header line is longer than 1.0 MiB", "header.fa.gz")


def test_streaming_count_of_a_bomb_stays_flat(tmp_path):
    """Counting streams: 384 MiB of sequence (over the whole-file limit) is counted inside
    the same address-space cap."""
    bomb = _bomb(tmp_path / "big.fa.gz", SEQ_BLOCK, 384, head=b">chr1\n")
    proc = _run(tmp_path, {"argv": ["npmi", str(bomb), "--max-n", "2", "--min-count", "1",
                                    "--out", str(tmp_path / "t.csv"), "--quiet"]})
    assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd
    table = pd.read_csv(tmp_path / "t.csv")
    assert table.loc[table["n"] == 1, "count"].sum() == 384 * (1 << 14) * 60
