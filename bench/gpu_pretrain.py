"""Short dnabert-base pretraining with GeneMask masking on one GPU: tokens/s and MFU.

Paper batch shape: 250 sequences of 512 positions per optimizer step (default 125 per
forward pass x 2 accumulation steps), bf16 autocast, fixed-length segments, the real engine
(:func:`genemask_viz.training.pretrain.pretrain`: Trainer + GeneMaskCollator, the sparse MLM
head of :mod:`genemask_viz.training.fastmlm` and SDPA attention, which picks the flash
kernel on the GPU). The first ``--warmup`` steps (CUDA/compile warm-up) are not timed.

Model FLOPs per token (training = 3 x forward, forward = 2 x multiply-adds):

    6 * [L (4 d^2 + 2 d f)] + 6 * 2 L T d  +  6 * m (d^2 + d V)

with L layers, d hidden, f intermediate, V vocabulary, T positions and m the fraction of
positions that are masked (the head runs only there; m is measured on the validation
batches). ``mfu`` counts these FLOPs; ``mfu_dense_head`` counts the head at every position
(m = 1, the convention of dense-head MLM code, for comparison). MFU = achieved
model FLOP/s / the card's dense bf16 peak (H100 SXM / H200: 989 TFLOP/s; H100 PCIe:
756; ``--peak-tflops`` overrides). Target: >= 40% at 512 positions, so that the paper's
GeneMask budget (10,000 steps x 250 sequences) takes about 30 minutes on one H100.

    python bench/gpu_pretrain.py [--steps 40] [--compile]      # on a GPU machine
    python bench/gpu_pretrain.py --cpu-smoke                   # tiny model, 3 steps, CPU
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0}


def model_flops_per_token(cfg, positions: int, masked_fraction: float = 1.0) -> float:
    L, d, f, V = cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    encoder = L * (4 * d * d + 2 * d * f)
    head = masked_fraction * (d * d + d * V)
    return 6.0 * (encoder + head) + 6.0 * 2 * L * positions * d


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_BF16_TFLOPS[key]
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps in all")
    ap.add_argument("--warmup", type=int, default=5, help="untimed first steps")
    ap.add_argument("--batch-size", type=int, default=125, help="sequences per forward pass")
    ap.add_argument("--grad-accum", type=int, default=2, help="(paper: 250 sequences per step)")
    ap.add_argument("--length", type=int, default=512, help="positions per sequence")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--workers", type=int, default=6, help="dataloader worker processes")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the card's dense bf16 peak")
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="no GPU: run the same code path with the tiny model for 3 steps on CPU")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()

    import torch
    from transformers import TrainerCallback

    from genemask_viz.training.models import model_config
    from genemask_viz.training.pretrain import PretrainConfig, pretrain

    cuda = torch.cuda.is_available()
    if not cuda and not args.cpu_smoke:
        print("bench/gpu_pretrain.py needs a CUDA GPU (none found). Run it on an H100/H200, or "
              "use --cpu-smoke to exercise the code path with the tiny model on CPU.", file=sys.stderr)
        return 2
    model = "dnabert-base" if cuda else "tiny"
    if not cuda:
        args.steps, args.warmup, args.batch_size, args.grad_accum, args.workers = 3, 1, 2, 1, 0
        args.length = min(args.length, 128)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True

    class StepClock(TrainerCallback):
        def __init__(self):
            self.marks = []

        def on_step_end(self, args_, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            self.marks.append((state.global_step, time.perf_counter()))

    clock = StepClock()
    config = PretrainConfig(corpus="demo", strategy="genemask", model=model, steps=args.steps,
                            batch_size=args.batch_size, grad_accum=args.grad_accum,
                            max_length=args.length, full_length_fraction=1.0, n_val=32 if cuda else 8,
                            save_steps=10 ** 9, save_total_limit=1, logging_steps=10,
                            precision="auto", num_workers=args.workers,
                            torch_compile=args.compile, max_segments=50_000,
                            threads=None if cuda else 1)
    with tempfile.TemporaryDirectory(prefix="gm-gpu-bench-") as tmp:
        from genemask_viz.training.registry import create_run
        run = create_run("pretrain", asdict(config), run_dir=Path(tmp) / "run")
        t0 = time.perf_counter()
        result = pretrain(config, run, progress=False, callbacks=[clock])
        total = time.perf_counter() - t0
    timed = [t for s, t in clock.marks if s >= args.warmup]
    steps_timed = len(timed) - 1
    if steps_timed < 1:
        print("too few steps to time; raise --steps", file=sys.stderr)
        return 1
    seconds = timed[-1] - timed[0]
    per_step = args.batch_size * args.grad_accum
    positions = args.length
    tokens_s = per_step * positions * steps_timed / seconds
    # masked share of the (fixed-length) validation positions: where the sparse head runs
    masked = (result.eval.get("eval_masked_tokens") or 0) / (config.n_val * positions)
    flops = model_flops_per_token(model_config(model), positions, masked) * tokens_s
    flops_dense = model_flops_per_token(model_config(model), positions, 1.0) * tokens_s
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    peak = peak_tflops(name, args.peak_tflops) if cuda else None
    report = {"device": name, "model": model, "precision": "bf16" if cuda else "fp32",
              "sequences_per_step": per_step, "positions": positions, "timed_steps": steps_timed,
              "seconds_per_step": seconds / steps_timed, "tokens_per_second": tokens_s,
              "model_tflops_per_second": flops / 1e12,
              "mfu": (flops / 1e12 / peak) if peak else None, "peak_bf16_tflops": peak,
              "masked_fraction": masked, "attention": "sdpa", "head": "sparse (masked positions)",
              "mfu_dense_head": (flops_dense / 1e12 / peak) if peak else None,
              "compile": args.compile, "wall_s_incl_setup": total,
              "paper_budget_minutes": 10_000 * seconds / steps_timed / 60,
              "eval_loss": result.eval.get("eval_loss"),
              "max_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None}
    print(f"{name}: {model}, genemask masking, {report['precision']}, {per_step} x {positions} "
          f"per step ({args.batch_size} x {args.grad_accum} accumulation), compile={args.compile}")
    print(f"  {report['seconds_per_step']:.3f} s/step over {steps_timed} timed steps; "
          f"{tokens_s:,.0f} tokens/s; {report['model_tflops_per_second']:.1f} model TFLOP/s "
          f"(head at the {masked:.1%} masked positions)")
    if report["mfu"] is not None:
        print(f"  MFU {report['mfu']:.1%} of {peak:.0f} TFLOP/s bf16 (target >= 40%; counting the "
              f"head at every position: {report['mfu_dense_head']:.1%}); "
              f"paper budget (10,000 steps) ~ {report['paper_budget_minutes']:.0f} min")
    elif not cuda:
        print("  CPU smoke run: the code path works; MFU is only measured on a GPU.")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
