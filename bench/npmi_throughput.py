"""Counting throughput of `genemask npmi --max-n 10` against KMC and Jellyfish, same run.

Generates a synthetic FASTA (default 100 Mbp in 10 records, human-like
dinucleotide statistics, 50-nt lines) under bench/out/, then times, each as a
separate process with its peak memory (wait4 rusage):

  genemask npmi G.fa --max-n 10 --min-count 101 --out T.parquet   (parse, count n<=10, score, write)
  kmc -k10 -b -ci1 -t2 -fm G.fa ...                               (one k; Debian package `kmc`)
  jellyfish count -m 10 -s 2M -t 2 G.fa                           (one k; Debian package `jellyfish`)

and, in this process with the compiled kernels loaded, counting alone on 1 and
2 threads (median of 3); then prints Mbp/s and the ratios. The command's
counting phase includes loading the compiled kernels from numba's cache (~0.3 s,
once per process). `genemask npmi` reports its counting and
scoring times separately (scoring depends on the number of distinct
n-grams, not on genome size). A second, 4x smaller genome shows whether peak
memory grows with genome size.

    apt-get install -y kmc jellyfish     # optional anchors; skipped with a message when absent
    python bench/npmi_throughput.py [--mbp 100] [--records 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def make_fasta(path: Path, mbp: float, records: int, seed: int = 0) -> Path:
    from genemask_viz.sequences.demo import _TRANSITIONS, _markov_chain
    from genemask_viz.sequences.fasta import LETTERS

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    cum = np.cumsum(_TRANSITIONS, axis=1)
    per = int(mbp * 1e6 / records) // 50 * 50
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for r in range(records):
            arr = LETTERS[_markov_chain(0, rng.random(per), cum)]
            fh.write(b">chr%d synthetic\n" % (r + 1))
            lines = np.concatenate([arr.reshape(-1, 50), np.full((per // 50, 1), 10, np.uint8)], axis=1)
            fh.write(lines.tobytes())
    os.replace(tmp, path)
    return path


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stderr) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_maxrss / 1024, err


def run_genemask(fasta: Path, work: Path) -> dict:
    exe = shutil.which("genemask") or sys.executable
    cmd = ([exe] if exe != sys.executable else [sys.executable, "-m", "genemask_viz.cli"]) + [
        "npmi", str(fasta), "--max-n", "10", "--min-count", "101", "--out", str(work / "t.parquet")]
    wall, rss, err = timed(cmd)
    m = re.search(r"\(([\d.]+) s, [\d.]+ Mbp/s\); scored [\d,]+ n-grams in ([\d.]+) s", err)
    count_s, score_s = (float(m.group(1)), float(m.group(2))) if m else (float("nan"),) * 2
    return dict(wall=wall, rss=rss, count_s=count_s, score_s=score_s)


def warm_counting(fasta: Path, repeats: int = 3) -> dict[int, float]:
    """Median seconds of counting all n <= 10 in this process, kernels loaded, per thread count."""
    from genemask_viz.ngrams import NgramCounter

    NgramCounter(10).add_sequence("ACGT" * 10)  # load the compiled kernels once
    out = {}
    for threads in (1, 2):
        times = []
        for _ in range(repeats):
            counter = NgramCounter(10)
            t0 = time.perf_counter()
            counter.add_fasta(fasta, threads=threads)
            counter.finish()
            times.append(time.perf_counter() - t0)
        out[threads] = float(np.median(times))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mbp", type=float, default=100)
    ap.add_argument("--records", type=int, default=10)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    big = make_fasta(OUT / f"synthetic_{args.mbp:g}mbp.fa", args.mbp, args.records)
    small = make_fasta(OUT / f"synthetic_{args.mbp / 4:g}mbp.fa", args.mbp / 4, args.records)
    mbp = args.mbp
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_genemask(small, work)  # warm the numba cache and the page cache
        g = run_genemask(big, work)
        g_small = run_genemask(small, work)
        rows.append(("genemask npmi (n=1..10, end to end)", g["wall"], g["rss"]))
        rows.append(("  of which counting all n<=10", g["count_s"], float("nan")))
        rows.append(("  of which scoring (PMI_n DP, ranks)", g["score_s"], float("nan")))
        warm = warm_counting(big)
        for threads, sec in warm.items():
            rows.append((f"counting n<=10 in process, warm, {threads} thread(s)", sec, float("nan")))
        anchors = {}
        if shutil.which("kmc"):
            (work / "kmc").mkdir()
            w, r, _ = timed(["kmc", "-k10", "-b", "-ci1", "-t2", "-fm", str(big), str(work / "k"),
                             str(work / "kmc")])
            anchors["kmc -k10 -t2"] = w
            rows.append(("kmc -k10 -b -ci1 -t2 (one k)", w, r))
        else:
            print("kmc not found: `apt-get install kmc` to compare against it", file=sys.stderr)
        if shutil.which("jellyfish"):
            w, r, _ = timed(["jellyfish", "count", "-m", "10", "-s", "2M", "-t", "2", "-o",
                             str(work / "j.jf"), str(big)])
            anchors["jellyfish -m 10 -t 2"] = w
            rows.append(("jellyfish count -m 10 -t 2 (one k)", w, r))
        else:
            print("jellyfish not found: `apt-get install jellyfish` to compare", file=sys.stderr)
    print(f"\n{mbp:g} Mbp synthetic FASTA, {args.records} records, {os.cpu_count()} cores")
    print(f"{'command':42s} {'seconds':>8s} {'Mbp/s':>8s} {'peak MB':>8s}")
    for name, sec, rss in rows:
        print(f"{name:42s} {sec:8.2f} {mbp / sec:8.1f} {rss:8.0f}")
    for name, sec in anchors.items():
        print(f"ratio vs {name}: counting n<=10 (warm, 2 threads) {sec / warm[2]:.2f}x its throughput; "
              f"counting phase of the command {sec / g['count_s']:.2f}x; "
              f"whole command {sec / g['wall']:.2f}x")
    print(f"peak memory at {mbp / 4:g} Mbp: {g_small['rss']:.0f} MB; at {mbp:g} Mbp: {g['rss']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
