"""Hidden-nucleotide rates at 510 tokens: genemask, its two controls, dnabert (issue 10).

Rows are 515-nt windows (510 6-mer tokens) of the demo genome at random
offsets (windows with N skipped), masked with the GeneMask ranking of the hg38
release when ``../shared/data`` has it (else the demo genome's own exact table).
Prints each strategy's pooled hidden rate with a binomial-free spread (the SD
over 16 equal chunks of rows / sqrt(16)), how often each hides a planted
top-ranked 6-mer (all 6 nt), then the DNABERT centre probability
that matches GeneMask's measured rate in closed form
(:func:`genemask_viz.masking.matched_centre_prob`): the derivation of
``DNABERT_MATCHED_CENTRE_PROB``.

    python bench/control_rates.py [--rows 20480] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from genemask_viz.masking import (STRATEGIES, dnabert_hidden_rate, mask_batch,
                                  matched_centre_prob, token_scores)
from genemask_viz.sequences import demo_fasta_path
from genemask_viz.sequences.fasta import read_fasta
from genemask_viz.tokens import KmerTokenizer, kmer_vocab

RELEASE_TABLE = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "genemask"
                 / "hg38_chr1-3_6mer_npmi_ranking.csv")


def demo_windows(n: int, n_tokens: int = 510, k: int = 6, seed: int = 0) -> list[str]:
    """``n`` windows of ``n_tokens + k - 1`` A/C/G/T nucleotides of the demo genome."""
    rng = np.random.default_rng(seed)
    seqs = [r.sequence.upper() for r in read_fasta(demo_fasta_path())]
    width = n_tokens + k - 1
    out = []
    while len(out) < n:
        s = seqs[rng.integers(len(seqs))]
        a = int(rng.integers(len(s) - width))
        w = s[a:a + width]
        if set(w) <= set("ACGT"):
            out.append(w)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20480)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from genemask_viz.ngrams import compute_table, load_table
    if RELEASE_TABLE.exists():
        table, name = load_table(RELEASE_TABLE), "hg38 release ranking"
    else:
        table, name = compute_table(demo_fasta_path(), max_n=6, min_count=101), "demo genome"
    scores = token_scores(table, 6)
    batch = KmerTokenizer(k=6).encode_batch(demo_windows(args.rows, seed=args.seed))
    ids, att = batch["input_ids"], batch["attention_mask"]
    print(f"{args.rows} rows of 510 tokens (demo genome), scores: {name}")
    rates = {}
    for strategy in STRATEGIES:
        if strategy == "pmi-span":
            continue
        g = torch.Generator().manual_seed(args.seed)
        hidden = valid = 0
        chunk_rates = []
        for part in torch.tensor_split(torch.arange(args.rows), 16):
            r = mask_batch(ids[part], att[part], strategy, scores=scores, generator=g)
            h, v = int(r.hidden_nt.sum()), int(r.nt_valid.sum())
            hidden, valid = hidden + h, valid + v
            chunk_rates.append(h / v)
        rates[strategy] = hidden / valid
        print(f"  {strategy:24s} hidden {100 * rates[strategy]:6.3f}%  "
              f"(+- {100 * np.std(chunk_rates) / 4:.3f})")
    # the top-ranked 6-mer planted at nucleotide 250 of every row: how often all 6 nt are hidden
    top = kmer_vocab(6)[int(np.argmax(scores))]
    seqs = [KmerTokenizer(k=6).decode_to_sequence(row) for row in ids]
    batch = KmerTokenizer(k=6).encode_batch([x[:250] + top + x[256:] for x in seqs])
    for strategy in ("genemask", "genemask-random-anchor", "dnabert-matched"):
        g = torch.Generator().manual_seed(args.seed)
        hit = 0
        for part in torch.tensor_split(torch.arange(args.rows), 16):
            r = mask_batch(batch["input_ids"][part], batch["attention_mask"][part], strategy,
                           scores=scores, generator=g)
            hit += int(r.hidden_nt[:, 251:257].all(1).sum())
        print(f"  planted {top}: {strategy:24s} hidden in {100 * hit / args.rows:5.2f}% of rows")
    q = matched_centre_prob(rates["genemask"])
    print(f"closed form: dnabert at 0.025 hides {100 * dnabert_hidden_rate(0.025):.3f}%; "
          f"centre probability matching genemask's {100 * rates['genemask']:.3f}%: q = {q:.5f}")


if __name__ == "__main__":
    main()
