"""10-shot Prom-core with the tiny model: fine-tune + evaluate on the 5,920-row test set.

Target: under 60 s on 2 cores (wall time of the whole run, data loading included).

    python bench/fewshot_promcore.py [--threads 1] [--seeds 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask" / "fewshot" / "Prom-core"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--model", default="tiny")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"Prom-core not found at {DATA}: nothing to benchmark.", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    import torch
    torch.set_num_threads(args.threads)
    from genemask_viz.training.fewshot import FewShotConfig, run_fewshot
    t1 = time.perf_counter()
    result = run_fewshot(FewShotConfig(data=str(DATA), shots=[10], seeds=args.seeds, model=args.model,
                                       threads=args.threads), None, progress=False)
    t2 = time.perf_counter()
    r = result.results
    print(f"Prom-core 10-shot, model {args.model}, {args.seeds} seed(s), {args.threads} thread(s)")
    for row in r.itertuples():
        print(f"  seed {row.seed}: {row.n_train} train / {row.n_test} test rows; fine-tune "
              f"{row.train_s:.1f} s, evaluate {row.eval_s:.1f} s; accuracy {row.accuracy:.3f}, "
              f"MCC {row.mcc:.3f}, AUROC {row.auroc:.3f}")
    print(f"  wall: {t2 - t1:.1f} s for the run (+{t1 - t0:.1f} s imports) = {t2 - t0:.1f} s; "
          f"target < 60 s: {'met' if t2 - t0 < 60 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
