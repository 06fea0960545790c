"""CM-GEMS stages (issue 18): masking rates at 510 tokens and global-pmi's speed.

Rows are 515-nt windows of the demo genome (as ``bench/control_rates.py``), masked
with the hg38 release's GeneMask ranking when ``../shared/data`` has it (else the
demo genome's own table). Prints each stage's token and hidden-nucleotide rates,
then the time of batched ``global-pmi`` against ``genemask`` (compiled kernel) and
against the loop reference, interleaved in this process (ratios, not seconds, are
the result on a shared machine).

    python bench/cm_gems.py [--rows 2048] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from control_rates import RELEASE_TABLE, demo_windows  # noqa: E402

from genemask_viz.masking import mask_batch, reference_mask, token_scores  # noqa: E402
from genemask_viz.sequences import demo_fasta_path  # noqa: E402
from genemask_viz.tokens import KmerTokenizer  # noqa: E402

STAGES = ("genemask", "global-pmi", "cm-gems-released-genemask", "cm-gems-released-global-pmi")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: as the collator's workers)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from genemask_viz.ngrams import compute_table, load_table
    if RELEASE_TABLE.exists():
        table, name = load_table(RELEASE_TABLE), "hg38 release ranking"
    else:
        table, name = compute_table(demo_fasta_path(), max_n=6, min_count=101), "demo genome"
    scores = token_scores(table, 6)
    b = KmerTokenizer(k=6).encode_batch(demo_windows(args.rows, seed=0))
    ids, att = b["input_ids"], b["attention_mask"]
    print(f"{args.rows} windows of 510 tokens, {name}")
    for s in STAGES:
        r = mask_batch(ids, att, s, scores=scores, seed=0)
        print(f"  {s:30s} token rate {r.token_rate:.4f}  hidden rate {r.hidden_rate:.4f}")
    small, satt = ids[:64], att[:64]
    tie = torch.rand(small.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = {"global-pmi": 0.0, "genemask": 0.0}
    for rep in range(args.repeats):
        for s in t:
            t0 = time.perf_counter()
            mask_batch(small, satt, s, scores=scores, seed=rep, details=False)
            t[s] += time.perf_counter() - t0
    t0 = time.perf_counter()
    reference_mask("global-pmi", small, attention_mask=satt, scores=scores, tie_break=tie)
    ref = time.perf_counter() - t0
    per = {s: v / args.repeats for s, v in t.items()}
    print(f"64 x 512 batch: global-pmi {1000 * per['global-pmi']:.1f} ms, genemask "
          f"{1000 * per['genemask']:.1f} ms, loop reference {1000 * ref:.0f} ms")
    print(f"global-pmi / genemask time: {per['global-pmi'] / per['genemask']:.2f}x; "
          f"loop reference / global-pmi: {ref / per['global-pmi']:.0f}x")


if __name__ == "__main__":
    main()
