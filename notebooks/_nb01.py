"""Cells of 01_kmers_and_masks.ipynb (built by _build.py)."""

from _build import code, md

CELLS = [
md("""
# 1. DNA as k-mers, and what masking really hides

DNA language models such as DNABERT read a sequence as **overlapping k-mers**, and learn by
guessing tokens that were masked out (masked language modelling, as BERT does for text).
With overlapping tokens, masking is less simple than it looks: a masked token can usually be
read off its neighbours. This notebook shows

1. how a sequence becomes overlapping 6-mer tokens;
2. why masking one token hides nothing;
3. why DNABERT's 6-token span hides exactly one nucleotide;
4. how GeneMask chooses longer spans with PMI, a statistic of the genome's k-mers;
5. how much of the sequence each strategy really hides, measured over many random draws.

Everything runs on the built-in **demo genome** (2 Mbp, synthetic, with known planted motifs and
repeats; nothing is downloaded). Run the cells top to bottom; the defaults take well under a
minute on 2 CPU cores.
"""),
code("""
# Parameters: change them here, then "Run all". Defaults run in under a minute on 2 CPU cores.
SEED = 0            # seed of the demo genome and of every random draw in this notebook
K = 6               # k-mer size (DNABERT ships 3, 4, 5, 6; GeneMask uses 6)
SEGMENT_NT = 515    # nucleotides per sequence: 515 nt = 510 six-mers = one full DNABERT input
N_SEQUENCES = 32    # sequences per batch when measuring rates (the paper's batch: 250)
N_DRAWS = 20        # masking draws per strategy: more draws give tighter error bars
STRATEGIES = ["random", "dnabert", "genemask", "genemask-released", "pmi-span"]
# Scaling up: N_SEQUENCES = 250 and N_DRAWS = 200 take a few minutes ("pmi-span" is the slowest).
""", tags=["parameters"]),
code("""
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm: no Jupyter widgets here

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from genemask_viz.app_logic import demo_window, mask_view, span_lengths
from genemask_viz.masking import (mask_batch, mask_dnabert, mask_genemask, mask_random,
                                  token_scores, unit_vocabulary)
from genemask_viz.ngrams import compute_table
from genemask_viz.plots import overlap_schematic, rates_figure, run_length_figure, sequence_track
from genemask_viz.sequences import SegmentSpec, demo_genome, take_segments
from genemask_viz.tokens import KmerTokenizer, id_to_kmer, kmers_to_seq, seq_to_kmers

pd.set_option("display.width", 140)
genome = demo_genome(seed=SEED)
chromosomes = {r.name: r.sequence for r in genome.records}
tok = KmerTokenizer(k=K)
print(f"demo genome: {len(genome.records)} records, {genome.total_length:,} nt, "
      f"{len(genome.motifs)} planted motif sites, {len(genome.repeats)} tandem repeats")
"""),
md("""
## 1. A sequence as overlapping k-mers

DNABERT cuts a sequence into every k-mer, moving one base at a time (stride 1): a sequence of
L nucleotides gives L - k + 1 tokens, and a nucleotide away from the ends is part of k tokens.
Going back is easy: the first base of each k-mer, plus the whole last one.

Here are 20 nucleotides around the first planted motif site of the demo genome.
"""),
code("""
site = genome.motifs.iloc[0]
short = chromosomes[site.record][site.start - 4: site.start + 16].upper()
kmer_text = seq_to_kmers(short, K)
print(f"{short}  ({len(short)} nt; planted {site.motif_name} site at 4..{4 + site.end - site.start})")
print(f"{kmer_text}  ({len(kmer_text.split())} tokens)")
assert kmers_to_seq(kmer_text) == short   # first base of each k-mer + the last k-mer
"""),
md("""
Each k-mer is a token id: 5 special tokens (`[PAD] [UNK] [CLS] [SEP] [MASK]`), then all 4^k
k-mers in DNABERT's order (A, T, C, G), so `id = 5 + sum_i code(b_i) * 4^(k-1-i)` with A=0,
T=1, C=2, G=3. A model input is wrapped as `[CLS] k-mers [SEP]`.
"""),
code("""
batch1 = tok.encode_batch([short])
ids = batch1["input_ids"][0]
pd.DataFrame({"token id": ids.numpy(), "token": [id_to_kmer(int(i), K) for i in ids]},
             index=pd.Index(range(len(ids)), name="position")).T
"""),
code("""
n_tok = len(short) - K + 1
fig, ax = plt.subplots(figsize=(9, 3.4))
for t in range(n_tok):
    ax.barh(t, K, left=t, height=0.75, color="#9ecae1", edgecolor="white")
    ax.text(t + K / 2, t, short[t:t + K], ha="center", va="center", fontsize=7, family="monospace")
ax.set_xticks(np.arange(len(short)) + 0.5, list(short), family="monospace")
ax.set_yticks([])
ax.set_xlim(0, len(short))
ax.invert_yaxis()
ax.set_title(f"{len(short)} nucleotides -> {n_tok} overlapping {K}-mer tokens", loc="left")
plt.show()
"""),
md("""
## 2. Masking one token hides nothing

BERT masks 15% of the tokens independently. Mask one 6-mer, and its left neighbour still shows
its first five bases, its right neighbour its last five: the answer can be copied. A nucleotide
is **hidden** only when *every* token that covers it is masked. The library reports both: the
token mask (what the model must predict) and the hidden nucleotides (what it cannot see).

We mask token 8 by hand (`centres=` injects the draw instead of sampling it).
"""),
code("""
T = ids.numel()
centre = torch.zeros(1, T, dtype=torch.bool)
centre[0, 8] = True          # position 8 (position 0 is [CLS])
one = mask_random(batch1["input_ids"], batch1["attention_mask"], k=K, centres=centre)
print("masked token:   ", id_to_kmer(int(ids[8]), K))
print("left neighbour: ", id_to_kmer(int(ids[7]), K), "  right neighbour:", id_to_kmer(int(ids[9]), K))
print(f"masked tokens: {int(one.token_mask.sum())}, hidden nucleotides: {int(one.hidden_nt.sum())}")
"""),
md("""
A small drawing helper: for each result, the top line marks the masked tokens and the bottom
line the hidden nucleotides. Both use the same columns: the token at position p covers
nucleotide columns p .. p+k-1 (column p is its first base; column 0 sits under `[CLS]`).
"""),
code("""
def draw_masks(results, labels, row=0):
    fig, axes = plt.subplots(len(results), 1, figsize=(10, 0.95 * len(results) + 0.6), squeeze=False)
    for ax, res, label in zip(axes[:, 0], results, labels):
        tokens, hidden = res.token_mask[row].numpy(), res.hidden_nt[row].numpy()
        image = np.vstack([np.pad(tokens, (0, hidden.size - tokens.size)), hidden])
        ax.imshow(image, aspect="auto", cmap="Greys", vmin=0, vmax=1.3, interpolation="nearest")
        ax.set_yticks([0, 1], ["masked tokens", "hidden nt"], fontsize=8)
        ax.set_title(f"{label}: {int(tokens.sum())} tokens masked, {int(hidden.sum())} nucleotides "
                     "hidden", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("column (token position / its first nucleotide)")
    fig.tight_layout()
    plt.show()
"""),
md("""
## 3. DNABERT's span: six tokens, one hidden nucleotide

DNABERT masks spans instead: around a centre c it masks the k tokens c-2 .. c+3 (for k = 6).
Nucleotide column q is covered by the tokens q-5 .. q, so all of them are masked only for
q = c+3: **a 6-token span hides exactly one nucleotide**. Everything around it stays visible,
so the six masked labels follow from one letter with four possible values; the task is nearly
trivial.
"""),
code("""
dn = mask_dnabert(batch1["input_ids"], batch1["attention_mask"], k=K, centres=centre)
hidden_cols = dn.hidden_nt[0].nonzero()[:, 0].tolist()
print("masked token positions:", dn.token_mask[0].nonzero()[:, 0].tolist())
print("hidden nucleotide columns:", hidden_cols,
      f"= sequence position {hidden_cols[0] - 1} ('{short[hidden_cols[0] - 1]}')")
draw_masks([one, dn], ["one token (BERT-style)", "DNABERT 6-token span"])
"""),
code("""
# The four sequences the visible tokens allow, and the six masked k-mers each one implies
q = hidden_cols[0] - 1
masked = dn.token_mask[0].nonzero()[:, 0] - 1          # token index in the sequence (no [CLS])
rows = {}
for base in "ACGT":
    s = short[:q] + base + short[q + 1:]
    rows[base + (" (true)" if base == short[q] else "")] = [s[t:t + K] for t in masked.tolist()]
pd.DataFrame(rows, index=[f"token {t}" for t in masked.tolist()]).T
"""),
md("""
The three cases side by side on a toy sequence (an interactive figure from `genemask_viz.plots`,
the same the app shows): one masked token, a DNABERT span, and the 11-token span GeneMask adds,
which hides a whole 6-mer.
"""),
code("""
overlap_schematic(K).show()
"""),
md("""
## 4. GeneMask: spans chosen by PMI

GeneMask (Roy et al., ECAI 2023) keeps DNABERT's spans but makes some of them longer, where the
genome says the k-mer is a unit:

* centres are drawn with probability 0.0176 per token, each masks its DNABERT span c-2 .. c+3;
* for each centre, the 6-mers **at** positions c-2 .. c+3 are scored with a PMI table (how much
  more often a k-mer occurs than its parts predict; notebook 2 explains it) and the best one, j*,
  is kept;
* the best half of the centres (all of them when that is fewer than 5) also mask j*-5 .. j*+5,
  an 11-token span that hides the **whole 6-mer** at j*.

About 15% of the tokens end up masked, as in BERT, but whole k-mers are hidden. First the PMI
table of the demo genome and the score of every token id:
"""),
code("""
table = compute_table(genome.records, max_n=10, min_count=101)   # counts, PMI, NPMI, GeneMask score
scores = token_scores(table, k=K)   # one score per token id; -inf for special or unscored k-mers
units = unit_vocabulary(table)      # the top n-grams, n = 2..10, used by "pmi-span"
print(f"{int(np.isfinite(scores).sum())} of {4 ** K} {K}-mers are scored (count >= 101)")
table[table.n == K].head(8)
"""),
code("""
window = demo_window(genome, record=0, window=0, length=SEGMENT_NT)  # around a planted motif
long = window.sequence
batch_long = tok.encode_batch([long])
gm = mask_genemask(batch_long["input_ids"], batch_long["attention_mask"], scores=scores, k=K,
                   seed=SEED)
chosen = pd.DataFrame({
    "centre": gm.centre_index[:, 1].numpy(),
    "best position j*": gm.chosen_pos.numpy(),
    "k-mer at j*": [id_to_kmer(int(i), K) for i in gm.chosen_id],
    "its score": gm.chosen_score.numpy().round(3),
    "extended to 11 tokens": gm.extended.numpy(),
})
print(f"{window.label}: {len(long)} nt, {len(chosen)} centres, {int(gm.extended.sum())} extended")
chosen.sort_values("its score", ascending=False)
"""),
md("""
The sequence track (from `genemask_viz.plots`, as in the app) draws the same mask: the letters
(hidden ones on red), the masked-token spans, the centres, the chosen k-mer of each centre with
its score, the planted motif site, and below, the PMI score of the k-mer starting at each
position. Drag to pan along the sequence.
"""),
code("""
view = mask_view(long, "genemask", table, k=K, seed=SEED)   # the same draw as above
assert view.n_masked == int(gm.token_mask.sum())
sequence_track(view, motifs=window.motifs, title=f"genemask on {window.label}").show()
"""),
md("""
The same sequence and seed under each strategy. `genemask-released` is the public code's
behaviour: it looks the score up by the centre's **position** instead of the k-mer found there,
so its span choice ignores the sequence. It is kept, clearly labelled, for replication only.
"""),
code("""
views = [mask_batch(batch_long["input_ids"], batch_long["attention_mask"], s, k=K, scores=scores,
                    units=units, seed=SEED) for s in STRATEGIES]
draw_masks(views, STRATEGIES)
"""),
md("""
## 5. How much does each strategy hide? Many draws

One draw is an anecdote. Below, each strategy masks the same batch of `N_SEQUENCES` full-length
sequences `N_DRAWS` times with different seeds; for every draw we record the share of tokens
masked, the share of nucleotides hidden (the **effective** masking rate), the hidden nucleotides
per centre, and the mean PMI score of the k-mers GeneMask chose.
"""),
code("""
spec = SegmentSpec(max_len=SEGMENT_NT, min_len=SEGMENT_NT, p_full=1.0)   # full-length segments
segments = take_segments(genome.records, N_SEQUENCES, seed=SEED, spec=spec)
batch = tok.encode_batch(segments)
scores_t = torch.as_tensor(scores)
rows, runs = [], []
for strategy in STRATEGIES:
    for draw in range(N_DRAWS):
        res = mask_batch(batch["input_ids"], batch["attention_mask"], strategy, k=K,
                         scores=scores, units=units, seed=SEED * 100_003 + draw)
        n_centres = int(res.centres.sum())
        per_centre = (int(res.hidden_nt.sum()) / n_centres
                      if strategy in ("dnabert", "genemask", "genemask-released") and n_centres else np.nan)
        chosen = scores_t[res.chosen_id] if res.chosen_id is not None else torch.empty(0)
        chosen = chosen[torch.isfinite(chosen)]            # unscored k-mers have no score
        chosen_score = float(chosen.mean()) if chosen.numel() else np.nan
        rows.append({"strategy": strategy, "draw": draw, "token_rate": res.token_rate,
                     "hidden_rate": res.hidden_rate, "hidden nt per centre": per_centre,
                     "score of chosen k-mers": chosen_score})
        if draw == 0:   # lengths of the runs of masked tokens and of hidden nucleotides
            for what, mask in (("masked tokens", res.token_mask), ("hidden nucleotides", res.hidden_nt)):
                runs.append(pd.DataFrame({"strategy": strategy, "what": what,
                                          "length": span_lengths(mask.numpy())}))
rates = pd.DataFrame(rows)
runs = pd.concat(runs, ignore_index=True)
summary = (rates.assign(**{"masked tokens %": 100 * rates.token_rate, "hidden nt %": 100 * rates.hidden_rate})
           .drop(columns=["draw", "token_rate", "hidden_rate"])
           .groupby("strategy", sort=False).agg(["mean", "std"]).round(2))
summary
"""),
md("""
Each box is the spread over the `N_DRAWS` draws (the line in the box is the median, the dashed
line the mean). The left panel is what the model must predict, the right one what it cannot
see: the effective masking rate.
"""),
code("""
rates_figure(rates).show()
"""),
md("""
How long are the masked stretches? Runs of consecutive masked tokens and of hidden nucleotides in
one draw: DNABERT's hidden runs are mostly single nucleotides, GeneMask's extended spans hide 6 (or
more where spans touch), pmi-span hides whole units of various lengths.
"""),
code("""
run_length_figure(runs).show()
"""),
code("""
m = summary.xs("mean", axis=1, level=1)
print(f"random:   {m.loc['random', 'masked tokens %']:.1f}% of tokens masked, but only "
      f"{m.loc['random', 'hidden nt %']:.2f}% of nucleotides hidden")
print(f"dnabert:  {m.loc['dnabert', 'hidden nt per centre']:.2f} hidden nucleotides per centre "
      f"(1 for a lone span; more where spans overlap)")
print(f"genemask: {m.loc['genemask', 'masked tokens %']:.1f}% of tokens masked and "
      f"{m.loc['genemask', 'hidden nt %']:.1f}% of nucleotides hidden; chosen k-mers score "
      f"{m.loc['genemask', 'score of chosen k-mers']:.3f} on average versus "
      f"{m.loc['genemask-released', 'score of chosen k-mers']:.3f} for the released code")
"""),
md("""
## What to take away

* With overlapping k-mers, **the masking rate that matters is the hidden-nucleotide rate**.
  BERT's 15% of tokens hides almost nothing: the model learns to copy from neighbours.
* DNABERT's 6-token spans hide about one nucleotide each: a 4-way guess per span.
* GeneMask masks about as many tokens, but hides whole 6-mers, and chooses the ones the genome
  treats as units (high PMI), so the model must predict k-mers from their context.
* The released code's position lookup gives spans of the same size but k-mers chosen without
  looking at the sequence (lower mean score of the chosen k-mers above).

Next: notebook 2 builds the PMI table step by step and asks whether its top k-mers are known
transcription-factor motifs; notebook 3 pretrains small models with two strategies.
"""),
]
