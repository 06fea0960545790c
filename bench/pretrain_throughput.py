"""CPU pretraining tokens/s: ``genemask pretrain`` (fast path) vs a plain Hugging Face baseline.

Ours: :func:`genemask_viz.training.pretrain.pretrain` (sparse MLM head, SDPA, length-grouped
batches, GeneMask masking). Baseline: ``BertForMaskedLM`` + ``Trainer`` +
``DataCollatorForLanguageModeling`` (i.i.d. 15% masking, random batches padded to the
longest), the same model configuration, batch, optimiser settings, threads and segments
(the spec's lengths: half full length, the rest uniform 6..515 nt). Both run in this
process, interleaved (ours, hf, hf, ours, ...) so that load from other users hits both
alike; each measurement is a fresh run whose first ``--warmup`` steps are not timed.
Tokens are the non-padding positions of the batches actually trained on.

    python bench/pretrain_throughput.py [--models tiny,logo] [--steps 10] [--rounds 2]
    python bench/pretrain_throughput.py --curve-steps 200 --models tiny   # loss curves
    python bench/pretrain_throughput.py --memory --models tiny,logo       # peak RSS (children)
    python bench/pretrain_throughput.py --profile --models tiny           # top ops, both

Targets (issue 11): >= 4x on tiny, >= 2x on logo; the same validation loss within noise
after the same steps (``--curve-steps``, ours with ``random`` masking = the baseline's
objective); peak memory no higher than the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

TOKENS: list[int] = []  # non-padding tokens of every batch collated, in order


def _count(batch):
    TOKENS.append(int(batch["attention_mask"].sum()))
    return batch


def patch_our_collator():
    from genemask_viz.training.corpus import BatchCollator
    if getattr(BatchCollator, "_bench_counting", False):
        return
    original = BatchCollator.__call__
    BatchCollator.__call__ = lambda self, examples: _count(original(self, examples))
    BatchCollator._bench_counting = True


def make_clock(profile_steps=None):
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self):
            self.marks, self.losses, self.first_batch, self.prof = [], {}, None, None

        def on_train_begin(self, args, state, control, **kw):
            self.first_batch = len(TOKENS)

        def on_step_begin(self, args, state, control, **kw):
            if profile_steps and state.global_step == profile_steps[0]:
                import torch
                self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                self.prof.__enter__()

        def on_step_end(self, args, state, control, **kw):
            cpu = os.times()
            self.marks.append((state.global_step, time.perf_counter(), cpu.user + cpu.system))
            if self.prof is not None and state.global_step == profile_steps[1]:
                self.prof.__exit__(None, None, None)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.losses[state.global_step] = float(logs["loss"])
    return Clock()


def rate(clock, warmup: int, batch_start: int) -> tuple[float, float, float]:
    """(tokens/s, s/step, CPU s/step of this process) over the steps after ``warmup``."""
    marks = [m for m in clock.marks if m[0] >= warmup]
    (s0, t0, c0), (s1, t1, c1) = marks[0], marks[-1]
    tokens = sum(TOKENS[batch_start + s0:batch_start + s1])  # batches s0..s1-1 = steps s0+1..s1
    return tokens / (t1 - t0), (t1 - t0) / (s1 - s0), (c1 - c0) / (s1 - s0)


def ours(model, steps, args, table, tmp, strategy="genemask", logging_steps=10, profile=None):
    from genemask_viz.training.pretrain import PretrainConfig, pretrain
    from genemask_viz.training.registry import create_run
    patch_our_collator()
    cfg = PretrainConfig(corpus="demo", strategy=strategy, model=model, steps=steps,
                         batch_size=args.batch, seed=args.seed, n_val=args.n_val, save_steps=10 ** 9,
                         logging_steps=logging_steps, threads=args.threads,
                         precision=args.precision, table=None if strategy == "random" else table)
    run = create_run("pretrain", asdict(cfg), run_dir=Path(tempfile.mkdtemp(dir=tmp)) / "run")
    clock = make_clock(profile)
    result = pretrain(cfg, run, progress=False, callbacks=[clock])
    return clock, result.eval.get("eval_loss")


def baseline_data(n_train, args):
    """The same segments ``pretrain`` trains on (first n_train of the corpus), for HF."""
    import torch

    from genemask_viz.sequences import SegmentSpec
    from genemask_viz.training.corpus import pretraining_corpus
    spec = SegmentSpec(max_len=512 - 2 + 5, min_len=6, p_full=0.5)
    corpus = pretraining_corpus("demo", n_train=n_train, n_val=args.n_val, seed=args.seed, k=6,
                                max_length=512, segment_spec=spec)

    class Plain(torch.utils.data.Dataset):
        def __init__(self, ds):
            self.ds = ds

        def __len__(self):
            return len(self.ds)

        def __getitem__(self, i):
            return {"input_ids": self.ds[i]["input_ids"].tolist()}
    return Plain(corpus.train), Plain(corpus.val)


def baseline(model, steps, args, tmp, logging_steps=10, profile=None):
    import torch
    from transformers import (BertForMaskedLM, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments)

    from genemask_viz.training.models import load_tokenizer, model_config, resolve_model
    torch.set_num_threads(args.threads)
    tok = load_tokenizer(resolve_model(model))
    train, val = baseline_data(steps * args.batch, args)
    hf_collate = DataCollatorForLanguageModeling(tokenizer=tok, mlm_probability=0.15, seed=args.seed)
    torch.manual_seed(args.seed)
    net = BertForMaskedLM(model_config(model))
    targs = TrainingArguments(
        output_dir=tempfile.mkdtemp(dir=tmp), max_steps=steps, per_device_train_batch_size=args.batch,
        per_device_eval_batch_size=args.batch, learning_rate=8e-4, warmup_steps=0.05,
        weight_decay=0.01, adam_beta1=0.9, adam_beta2=0.98, adam_epsilon=1e-6, max_grad_norm=1.0,
        lr_scheduler_type="linear", logging_steps=logging_steps, save_strategy="no",
        report_to="none", disable_tqdm=True, use_cpu=True, seed=args.seed, data_seed=args.seed,
        bf16=args.hf_precision == "bf16")
    clock = make_clock(profile)
    trainer = Trainer(model=net, args=targs, train_dataset=train, eval_dataset=val,
                      data_collator=lambda ex: _count(hf_collate(ex)), callbacks=[clock])
    from transformers.trainer_callback import PrinterCallback
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return clock, trainer.evaluate()["eval_loss"]


def shared_table(tmp):
    from genemask_viz.ngrams import compute_table, save_table
    from genemask_viz.training.corpus import corpus_path
    path = Path(tmp) / "table.csv"
    save_table(compute_table(str(corpus_path("demo")), max_n=6, min_count=101), path)
    return str(path)


def throughput(args, table, tmp):
    steps = args.warmup + args.steps
    print(f"throughput: {args.threads} thread(s), batch {args.batch}, spec segment lengths, "
          f"{args.steps} timed steps after {args.warmup} warm-up, {args.rounds} round(s), interleaved")
    out = {}
    for model in args.models:
        figures = {"ours": [], "hf": []}
        for r in range(args.rounds):
            for side in (("ours", "hf") if r % 2 == 0 else ("hf", "ours")):
                start = len(TOKENS)
                clock = (ours(model, steps, args, table, tmp)[0] if side == "ours"
                         else baseline(model, steps, args, tmp)[0])
                figures[side].append(rate(clock, args.warmup, start))
                tps, sps, cps = figures[side][-1]
                print(f"  {model:>5} round {r} {side:>4}: {tps:9.0f} tokens/s ({sps:.3f} s/step, "
                      f"{cps:.3f} CPU s/step)", flush=True)
        med = {k: float(np.median([f[0] for f in v])) for k, v in figures.items()}
        sps = {k: float(np.median([f[1] for f in v])) for k, v in figures.items()}
        cps = {k: float(np.median([f[2] for f in v])) for k, v in figures.items()}
        ratios = [a[0] / b[0] for a, b in zip(figures["ours"], figures["hf"])]
        out[model] = {"ours_tokens_s": med["ours"], "hf_tokens_s": med["hf"],
                      "ours_s_per_step": sps["ours"], "hf_s_per_step": sps["hf"],
                      "ours_cpu_s_per_step": cps["ours"], "hf_cpu_s_per_step": cps["hf"],
                      "ratio": med["ours"] / med["hf"], "ratio_per_round": ratios}
        print(f"  {model}: ours {med['ours']:.0f} tokens/s ({sps['ours']:.3f} s/step), hf "
              f"{med['hf']:.0f} tokens/s ({sps['hf']:.3f} s/step): {med['ours'] / med['hf']:.2f}x "
              f"(per round {', '.join(f'{x:.2f}' for x in ratios)})", flush=True)
    return out


def curves(args, table, tmp):
    out = {}
    n = args.curve_steps
    for model in args.models:
        runs = {"ours-random": lambda: ours(model, n, args, table, tmp, strategy="random"),
                "hf": lambda: baseline(model, n, args, tmp),
                "ours-genemask": lambda: ours(model, n, args, table, tmp)}
        res = {}
        for name, fn in runs.items():
            if name not in args.curve_sides:
                continue
            t0 = time.perf_counter()
            clock, ev = fn()
            res[name] = {"eval_loss": ev, "wall_s": time.perf_counter() - t0,
                         "loss": {int(k): round(v, 4) for k, v in sorted(clock.losses.items())}}
            tail = [v for k, v in clock.losses.items() if k > n - 50]
            print(f"  {model} {name:>13}: {n} steps, validation loss {ev:.4f}, mean logged loss "
                  f"over the last 50 steps {np.mean(tail):.4f}, {res[name]['wall_s']:.0f} s", flush=True)
        out[model] = res
    return out


def memory(args):
    """Peak RSS of each side in its own child process (os.wait4 gives that child's maxrss)."""
    out = {}
    for model in args.models:
        for side in ("ours", "hf"):
            cmd = [sys.executable, __file__, "--child", side, "--models", model, "--steps",
                   str(args.steps), "--warmup", "1", "--threads", str(args.threads),
                   "--batch", str(args.batch)]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            out[f"{model}/{side}"] = usage.ru_maxrss / 1024  # KiB -> MiB
            print(f"  {model:>5} {side:>4}: peak RSS {usage.ru_maxrss / 1024:7.0f} MiB "
                  f"(exit {os.waitstatus_to_exitcode(status)})", flush=True)
    return out


def profile(args, table, tmp):
    steps = args.warmup + args.steps
    for model in args.models:
        for side in ("ours", "hf"):
            window = (args.warmup, steps)
            clock = (ours(model, steps, args, table, tmp, profile=window)[0] if side == "ours"
                     else baseline(model, steps, args, tmp, profile=window)[0])
            print(f"\n### {model} {side}: top ops over steps {window[0] + 1}..{window[1]}")
            print(clock.prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top,
                                                  max_name_column_width=48))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tiny,logo", help="comma-separated presets")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    ap.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (ours, hf, hf, ours)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-val", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                    help="ours: auto = bf16 where the CPU multiplies bf16 natively (AMX/AVX512-BF16)")
    ap.add_argument("--hf-precision", default="fp32", choices=["fp32", "bf16"],
                    help="the baseline: fp32 (plain Trainer, the default) or bf16 (like for like)")
    ap.add_argument("--curve-steps", type=int, default=0, help="also compare loss over N steps")
    ap.add_argument("--curve-sides", default="ours-random,hf,ours-genemask",
                    type=lambda text: text.split(","), help="which runs --curve-steps makes")
    ap.add_argument("--memory", action="store_true", help="only peak memory, in child processes")
    ap.add_argument("--profile", action="store_true", help="only the top ops of both sides")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--child", choices=["ours", "hf"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(args.threads)
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    report = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="gm-bench-pt-") as tmp:
        if args.memory:
            report["peak_rss_mib"] = memory(args)
        elif args.child:
            table = shared_table(tmp) if args.child == "ours" else None
            for model in args.models:
                (ours(model, args.warmup + args.steps, args, table, tmp) if args.child == "ours"
                 else baseline(model, args.warmup + args.steps, args, tmp))
            return 0
        else:
            table = shared_table(tmp)
            if args.profile:
                profile(args, table, tmp)
                return 0
            if args.rounds:
                report["throughput"] = throughput(args, table, tmp)
            if args.curve_steps:
                report["curves"] = curves(args, table, tmp)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
