"""Attribution (in-silico saturation mutagenesis) of one 300-nt sequence: 900 mutants + 1.

Target: under 1 s for ``tiny`` on 2 cores. Baseline in the same process, interleaved:
the same batched ISM with the model's full forward (every position of the last layer);
the measured path runs the last layer for [CLS] only (``class_logits``). Fresh weights
(the speed does not depend on training). Prints wall and CPU seconds (medians) and the
ratio baseline / measured.

    python bench/attribution_speed.py [--threads 2] [--repeats 3] [--models tiny,logo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--length", type=int, default=300)
    ap.add_argument("--models", default="tiny,logo")
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    from transformers import BertForSequenceClassification

    from genemask_viz.interpret import saturation_mutagenesis
    from genemask_viz.training.models import model_config
    seq = "".join(np.random.default_rng(0).choice(list("ACGT"), args.length))
    print(f"ISM of a {args.length}-nt sequence ({3 * args.length} mutants), {args.threads} thread(s), "
          f"batch {args.batch_size}, {args.repeats} interleaved repeats; load average "
          f"{open('/proc/loadavg').read().split()[0]}")
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = BertForSequenceClassification(model_config(name, 6, num_labels=2)).eval()
        saturation_mutagenesis(model, seq[:60])  # warm-up
        base, fast = [], []
        for _ in range(args.repeats):
            base.append(_timed(lambda: saturation_mutagenesis(model, seq, fast=False,
                                                              batch_size=args.batch_size)))
            fast.append(_timed(lambda: saturation_mutagenesis(model, seq, fast=True,
                                                              batch_size=args.batch_size)))
        bw, bc = (statistics.median(x) for x in zip(*base))
        fw, fc = (statistics.median(x) for x in zip(*fast))
        target = f"; target < 1 s: {'met' if fw < 1 else 'MISSED'}" if name == "tiny" else ""
        print(f"  {name:5s} full forward {bw:6.2f} s wall ({bc:6.2f} s CPU) | [CLS]-only last layer "
              f"{fw:6.2f} s wall ({fc:6.2f} s CPU) | ratio {bw / fw:4.2f}x wall, {bc / fc:4.2f}x CPU"
              f"{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
