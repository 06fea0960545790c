"""CPU tokens/s of tiny-model MLM training: GeneMask collator vs the plain HF collator.

Both collators train the same tiny model on the same demo-genome segments in the same
process, interleaved (A B A B ...) so that load from other users hits both alike.
A step = collate one batch + forward + backward + AdamW update. Reports tokens/s
(non-padding positions) of each and the masking overhead in percent (target < 3%).

    python bench/train_overhead.py [--steps 40] [--batch 8] [--length 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per collator")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--length", type=int, default=512, help="positions per sequence")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--strategy", default="genemask")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from genemask_viz.ngrams import compute_table
    from genemask_viz.sequences import SegmentSpec
    from genemask_viz.training.corpus import BatchCollator, make_collator, pretraining_corpus
    from genemask_viz.training.models import build_mlm, load_tokenizer, resolve_model

    source = resolve_model("tiny")
    tok = load_tokenizer(source)
    spec = SegmentSpec(max_len=args.length - 2 + 5, min_len=6, p_full=1.0)  # fixed-length rows
    corpus = pretraining_corpus("demo", n_train=args.batch * (args.steps + 2) * 2, n_val=1,
                                max_length=args.length, segment_spec=spec)
    table = compute_table(corpus.source, max_n=6, min_count=101)
    collators = {"hf": BatchCollator(make_collator("hf", tok, seed=0), seed=0),
                 args.strategy: BatchCollator(make_collator(args.strategy, tok, table=table, seed=0), seed=0)}
    models = {}
    for name in collators:
        models[name] = build_mlm(source, seed=0)
    opts = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    clock = {name: 0.0 for name in collators}
    collate_clock = {name: 0.0 for name in collators}
    tokens = {name: 0 for name in collators}
    masked = {name: 0 for name in collators}
    n = len(corpus.train)

    def step(name, i, timed):
        rows = [corpus.train[(i * args.batch + j) % n] for j in range(args.batch)]
        t0 = time.perf_counter()
        batch = collators[name](rows)
        t1 = time.perf_counter()
        loss = models[name](**batch).loss
        loss.backward()
        opts[name].step()
        opts[name].zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        if timed:
            clock[name] += t2 - t0
            collate_clock[name] += t1 - t0
            tokens[name] += int(batch["attention_mask"].sum())
            masked[name] += int((batch["labels"] != -100).sum())

    for i in range(2):  # warm-up
        for name in collators:
            step(name, i, False)
    for i in range(2, args.steps + 2):
        order = list(collators) if i % 2 else list(collators)[::-1]
        for name in order:
            step(name, i, True)
    print(f"tiny model MLM training on CPU ({args.threads} thread(s)), batch {args.batch} x "
          f"{args.length} positions, {args.steps} timed steps per collator, interleaved")
    for name in collators:
        print(f"  {name:>10}: {tokens[name] / clock[name]:9.0f} tokens/s   "
              f"collate {1000 * collate_clock[name] / args.steps:6.2f} ms/batch   "
              f"masked tokens {masked[name] / tokens[name]:.1%}")
    hf, gm = tokens["hf"] / clock["hf"], tokens[args.strategy] / clock[args.strategy]
    overhead = (hf - gm) / hf
    extra_ms = 1000 * (collate_clock[args.strategy] - collate_clock["hf"]) / args.steps
    share = (collate_clock[args.strategy] - collate_clock["hf"]) / clock[args.strategy]
    print(f"  throughput overhead of {args.strategy} vs hf: {overhead:+.1%} "
          f"(collation costs {extra_ms:+.2f} ms/batch more = {share:+.2%} of a step; target < 3%)")


if __name__ == "__main__":
    main()
