"""Masking throughput: sequences/s on 64 x 512 token ids, one thread.

Each strategy (``GeneMaskCollator.torch_mask_tokens``: mask + 80/10/10) against,
in the same process and on the same tensors, Hugging Face's plain
``DataCollatorForLanguageModeling(mlm_probability=0.15).torch_mask_tokens`` and
the loop reference (:func:`genemask_viz.masking.reference_mask`, which also
computes spans and hidden nucleotides, so it is compared with the batched
strategy run with ``details=True``). Also: whole collator calls (padding
included) and masking time as a fraction of one training step of a tiny
BertForMaskedLM (2 layers, 128 hidden).

    python bench/mask_throughput.py [--repeats 20] [--batch 64] [--skip-train]

Timings on a shared machine are noisy: read the ratios, measured side by side.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from genemask_viz.masking import GeneMaskCollator, mask_batch, reference_mask, token_scores
from genemask_viz.tokens import KmerTokenizer, kmer_vocab

RELEASE_TABLE = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask"
                 / "hg38_chr1-3_6mer_npmi_ranking.csv")


def best_time(fn, repeats: int) -> float:
    """Median seconds per call after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def make_table(rng):
    import pandas as pd
    if RELEASE_TABLE.exists():
        from genemask_viz.ngrams import load_table
        six = load_table(RELEASE_TABLE)
        source = "hg38 release ranking"
    else:
        kmers = kmer_vocab(6)[5:]
        six = pd.DataFrame({"ngram": kmers, "n": 6, "genemask_score": rng.normal(size=len(kmers))})
        source = "random scores"
    rows = [six[["ngram", "n", "genemask_score"]]]
    for n in range(2, 11):  # pmi-span units: random n-grams, top 10% kept
        grams = {"".join(rng.choice(list("ACGT"), n)) for _ in range(min(4 ** n, 4000))}
        rows.append(pd.DataFrame({"ngram": sorted(grams), "n": n,
                                  "genemask_score": rng.normal(size=len(grams))}))
    return pd.concat(rows, ignore_index=True), source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--ref-repeats", type=int, default=3)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from transformers import DataCollatorForLanguageModeling

    rng = np.random.default_rng(0)
    tok = KmerTokenizer(k=6)
    table, source = make_table(rng)
    seqs = ["".join(rng.choice(list("ACGT"), 515)) for _ in range(args.batch)]
    batch = tok.encode_batch(seqs)
    ids = batch["input_ids"]                                        # [64, 512]
    feats = [{"input_ids": ids[i], "attention_mask": batch["attention_mask"][i]}
             for i in range(args.batch)]
    B = args.batch
    print(f"batch {B} x {ids.shape[1]} ids, torch threads {torch.get_num_threads()}, "
          f"table: {source}\n")

    hf = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, seed=0)
    hf(feats)  # creates its generator
    t_hf = best_time(lambda: hf.torch_mask_tokens(ids.clone()), args.repeats)
    t_hf_call = best_time(lambda: hf(feats), max(3, args.repeats // 4))
    rows = [("HF DataCollatorForLanguageModeling", t_hf, t_hf_call)]
    colls = {}
    for strategy in ("random", "dnabert", "genemask", "genemask-released", "pmi-span"):
        coll = GeneMaskCollator(tok, strategy=strategy, table=table, seed=0)
        coll(feats)
        colls[strategy] = coll
        t = best_time(lambda: coll.torch_mask_tokens(ids), args.repeats)
        t_call = best_time(lambda: coll(feats), max(3, args.repeats // 4))
        rows.append((f"GeneMaskCollator {strategy}", t, t_call))

    scores = token_scores(table, 6)
    g = torch.Generator().manual_seed(0)
    t_det = best_time(lambda: mask_batch(ids, None, "genemask", scores=scores, generator=g),
                      args.repeats)
    centres = torch.rand(ids.shape, generator=g) < 0.0176
    t_ref = best_time(lambda: reference_mask("genemask", ids, centres, scores=scores),
                      args.ref_repeats)
    t_ref_det = best_time(lambda: mask_batch(ids, None, "genemask", scores=scores,
                                             centres=centres), args.repeats)

    print(f"{'masking (torch_mask_tokens)':42s} {'ms/batch':>9s} {'seq/s':>9s} "
          f"{'vs HF':>7s} {'collator call ms':>17s} {'seq/s':>8s}")
    for name, t, t_call in rows:
        print(f"{name:42s} {t * 1e3:9.2f} {B / t:9.0f} {t_hf / t:6.2f}x {t_call * 1e3:17.2f} "
              f"{B / t_call:8.0f}")
    print(f"\ngenemask with spans + hidden nucleotides (details=True): {t_det * 1e3:.2f} ms "
          f"({B / t_det:.0f} seq/s)")
    print(f"loop reference genemask (same outputs):                  {t_ref * 1e3:.1f} ms "
          f"({B / t_ref:.0f} seq/s)")
    print(f"batched / loop reference speed-up (same centres):        {t_ref / t_ref_det:.0f}x")
    t_gm = rows[3][1]
    print(f"genemask collator masking vs HF plain masking:           {t_hf / t_gm:.2f}x "
          f"(>= 1 means at least as fast)")

    if args.skip_train:
        return
    from transformers import BertConfig, BertForMaskedLM
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tok), hidden_size=128, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=512, max_position_embeddings=512)
    model = BertForMaskedLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs = colls["genemask"](feats)

    def step():
        out = model(**inputs)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t_step = best_time(step, 2)
    print(f"\ntiny BertForMaskedLM (2 layers, 128 hidden) train step on {B} x {ids.shape[1]}: "
          f"{t_step * 1e3:.0f} ms")
    print(f"genemask masking = {t_gm / t_step:.2%} of a step; "
          f"whole genemask collator call = {rows[3][2] / t_step:.2%}; "
          f"HF plain masking = {t_hf / t_step:.2%}")


if __name__ == "__main__":
    main()
