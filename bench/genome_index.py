"""Genome index: build time and peak memory against genome size, and segment reads.

    python bench/genome_index.py --mbp 50 200

For each size a synthetic FASTA (60-nt lines, N gaps, soft-masked stretches) is written
to a temporary folder; then, each in a fresh process (so peak RSS is its own):
(a) the baseline: one plain streaming pass over the FASTA (``stream_fasta``), and
(b) indexing it into the 2-bit cache. Printed: wall time of both, their ratio, peak RSS,
cache size; then the time to draw 1 M segments and to read 20,000 of them. Peak memory
that stays flat as the genome grows is what lets a 3.1 Gbp genome index on 24 GiB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, fasta, cache = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
if mode == "stream":
    from genemask_viz.sequences import stream_fasta
    n = sum(c.codes.size for c in stream_fasta(fasta))
else:
    from genemask_viz.sequences.genome_index import index_genome
    idx = index_genome(fasta, cache_dir=cache)
    n = idx.total_length
wall = time.perf_counter() - t
print(json.dumps({"bases": int(n), "wall_s": wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_fasta(path: Path, mbp: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGTacgt", dtype=np.uint8)
    per_record = 50_000_000
    with open(path, "wb") as fh:
        left, r = mbp * 1_000_000, 0
        while left > 0:
            n = min(per_record, left)
            fh.write(f">chr{r + 1}\n".encode())
            for a in range(0, n, 6_000_000):  # 6 Mbp blocks = 100,000 lines of 60
                m = min(6_000_000, n - a)
                seq = letters[rng.integers(0, 8, m)]
                seq[: min(m, 10_000)] = ord("N")  # an N gap at each block start
                full = m - m % 60
                lines = seq[:full].reshape(-1, 60)
                text = np.concatenate((lines, np.full((len(lines), 1), 10, np.uint8)), axis=1)
                fh.write(text.tobytes())
                if m % 60:
                    fh.write(seq[full:].tobytes() + b"\n")
            left -= n
            r += 1


def child(mode: str, fasta: Path, cache: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(fasta), str(cache)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mbp", type=int, nargs="+", default=[50, 200])
    args = ap.parse_args()
    for mbp in args.mbp:
        with tempfile.TemporaryDirectory(prefix="gm-index-bench-") as tmp:
            fasta = Path(tmp) / "g.fa"
            write_fasta(fasta, mbp)
            base = child("stream", fasta, Path(tmp) / "cache")
            built = child("index", fasta, Path(tmp) / "cache")
            from genemask_viz.sequences.genome_index import index_genome
            from genemask_viz.sequences.segments import GenomeIntervals, SegmentSpec, sample_segments
            idx = index_genome(fasta, cache_dir=Path(tmp) / "cache")
            size = (idx.folder / "codes.2bit").stat().st_size / 1e6
            t = time.perf_counter()
            whole = GenomeIntervals(idx.run_start, idx.run_end, idx.run_record)
            s, n, _ = sample_segments(whole, 1_000_000, seed=0, spec=SegmentSpec(max_len=515))
            draw = time.perf_counter() - t
            t = time.perf_counter()
            for i in range(20_000):
                idx.read(int(s[i]), int(n[i]))
            read = time.perf_counter() - t
            print(f"{mbp:>5} Mbp: stream pass {base['wall_s']:.1f} s (peak RSS "
                  f"{base['peak_rss_mb']:.0f} MB); index build {built['wall_s']:.1f} s "
                  f"(x{built['wall_s'] / base['wall_s']:.2f} the stream pass; peak RSS "
                  f"{built['peak_rss_mb']:.0f} MB); cache {size:.0f} MB; 1 M segments drawn in "
                  f"{draw:.2f} s; 20,000 read in {read:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
