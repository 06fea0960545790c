"""Cells of 02_pmi_and_motifs.ipynb (built by _build.py)."""

from _build import code, md

CELLS = [
md("""
# 2. n-gram counts, PMI, and known motifs

GeneMask decides which k-mers to mask whole by their **PMI**: how much more often a k-mer occurs
than its parts would predict. The paper reports that top-ranked PMI k-mers correlate with
conserved DNA motifs. This notebook

1. counts every n-gram of the demo genome and turns counts into PMI scores;
2. checks, on the demo genome where the truth is known, whether the planted motifs and repeats
   come out on top;
3. looks at the paper's own ranking of the human genome (hg38), when the release files are
   present;
4. compares top k-mers with the JASPAR motif database: logos, and statistics with controls
   (and what those statistics do and do not show).

Defaults run in under a minute on 2 CPU cores.
"""),
code("""
# Parameters: change them here, then "Run all". Defaults run in under a minute on 2 CPU cores.
SEED = 0                           # seed of the demo genome
K = 6                              # k-mer length of the ranking GeneMask masks by
MAX_N = 6                          # longest n-gram counted (the paper counts up to 10)
MIN_COUNT = 101                    # n-grams seen fewer times get no score (the paper's threshold)
TOP = 100                          # size of the "top k-mers" set in the enrichment test
N_LOGOS = 4                        # logos drawn for the top k-mers
JASPAR_RELEASE = "JASPAR2024"      # a JASPAR release that pyjaspar ships offline
SHARED_DATA = "../../shared/data"  # the GeneMask release files, relative to notebooks/ (optional)
# Scaling up: MAX_N = 10 (the paper's; a second more), TOP = 500, N_LOGOS = 12.
""", tags=["parameters"]),
code("""
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm: no Jupyter widgets here

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from genemask_viz.motifs import compare_table, match_logo, ranking_figure, summary
from genemask_viz.ngrams import compute_table, load_table
from genemask_viz.plots import ranking_statistics_figure, score_distribution
from genemask_viz.sequences import demo_genome

%matplotlib inline
pd.set_option("display.width", 140)
pd.set_option("display.max_columns", 20)
genome = demo_genome(seed=SEED)
chromosomes = {r.name: r.sequence for r in genome.records}
print(f"demo genome: {genome.total_length:,} nt; planted motifs: "
      f"{', '.join(sorted(genome.motifs.motif_name.unique()))}; repeat units: "
      f"{', '.join(sorted(genome.repeats.unit.unique()))}")
"""),
md("""
## 1. Counting n-grams

`compute_table` counts every n-gram, n = 1..`MAX_N` (an n-gram never crosses a record boundary
or an `N`), and scores those seen at least `MIN_COUNT` times. One row per n-gram:
"""),
code("""
table = compute_table(genome.records, max_n=MAX_N, min_count=MIN_COUNT)
table.groupby("n").agg(distinct=("ngram", "size"), scored=("genemask_score", "count"),
                       positions=("count", "sum"))
"""),
md("""
Single bases: the demo genome is AT-rich like the human genome. For a pair of bases the
simplest PMI is `log p(xy) / (p(x) p(y))`, so `exp(PMI)` is the observed/expected ratio. CpG is
about four times rarer than its bases predict, close to the human genome, where methylated C
mutates to T.
"""),
code("""
bases = table[table.n == 1].set_index("ngram")["p"]
pairs = table[table.n == 2].set_index("ngram")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 3]})
axes[0].bar(bases.index, bases.values, color="#888")
axes[0].set_title("p(base)", loc="left")
ratio = np.exp(pairs["naive_pmi"]).sort_values()
axes[1].bar(ratio.index, ratio.values, color=["#d62728" if d == "CG" else "#888" for d in ratio.index])
axes[1].axhline(1, color="k", lw=0.8)
axes[1].set_title("dinucleotides: observed / expected = exp(PMI)", loc="left")
for ax in axes:
    ax.spines[["top", "right"]].set_visible(False)
plt.show()
"""),
md("""
## 2. From counts to PMI, PMI_n, NPMI and the GeneMask score

For an n-gram w = w_1..w_n with probability p(w) = count / positions (natural logs):

* **naive PMI** = log p(w) - sum_i log p(w_i): compares w with its single letters. Any k-mer made
  of common letters in a common order (a repeat) gets a huge value.
* **PMI_n** (Levine et al. 2021, "PMI-Masking") = log p(w) - max over ways to cut w into >= 2
  pieces of sum log p(piece). It asks: does w occur more often than its *best explanation by
  smaller pieces*? `CACACA` is well explained by `CACA` + `CA`, so its PMI_n is much lower than
  its naive PMI.
* **NPMI** = PMI_n / (-log p(w)), roughly between -1 and 1, comparable across lengths.
* **GeneMask score** = PMI_n * ln c / (ln c + ln 101), which discounts rare n-grams (c = count).
  The paper masks by the 6-mer ranking of this score.
"""),
code("""
score_distribution(table).show()   # the GeneMask score of every scored n-gram, by length
"""),
code("""
k6 = table[table.n == K].dropna(subset=["genemask_score"]).set_index("ngram")
columns = ["count", "naive_pmi", "pmi_n", "npmi", "genemask_score", "rank"]
print(f"top {K}-mers by the GeneMask score (the ranking GeneMask masks by):")
display(k6[columns].head(6).round(3))
print("largest drop from naive PMI to PMI_n (k-mers that their pieces explain well):")
display(k6.assign(drop=k6.naive_pmi - k6.pmi_n).nlargest(6, "drop")[columns + ["drop"]].round(3))
"""),
md("""
## 3. Are the planted motifs and repeats recovered? (the demo genome's ground truth)

We know where every motif site and tandem repeat was planted, so for each 6-mer we can measure
which share of its occurrences lies **inside planted motif sites** or **inside planted repeats**.
The sites cover only a small part of the genome, so a 6-mer with at least 10% of its occurrences
inside the sites of one motif is strongly enriched there: we say it belongs to that motif. A
6-mer with at least half of its occurrences inside repeats belongs to the repeats.
"""),
code("""
def kmer_counts(sequences):
    t = compute_table(list(sequences), max_n=K, min_count=1)
    return t[t.n == K].set_index("ngram")["count"]

per_motif = pd.DataFrame({name: kmer_counts(g.site) for name, g in genome.motifs.groupby("motif_name")})
per_motif = per_motif.reindex(k6.index).fillna(0)
in_repeats = kmer_counts(chromosomes[r.record][r.start:r.end].upper()
                         for r in genome.repeats.itertuples()).reindex(k6.index).fillna(0)
k6["in motif sites %"] = 100 * per_motif.sum(axis=1) / k6["count"]
k6["motif"] = per_motif.idxmax(axis=1).where(per_motif.max(axis=1) > 0, "")
k6["in repeats %"] = 100 * in_repeats / k6["count"]
k6["planted as"] = np.where(k6["in repeats %"] >= 50, "repeat",
                           np.where(k6["in motif sites %"] >= 10, "motif: " + k6["motif"], "background"))
site_share = 100 * (genome.motifs.end - genome.motifs.start).sum() / genome.total_length
print(f"planted motif sites cover {site_share:.2f}% of the genome")
k6[["rank", "count", "genemask_score", "in motif sites %", "in repeats %", "planted as"]].head(15).round(2)
"""),
code("""
rows = []
for name, sites in genome.motifs.groupby("motif_name"):
    mine = k6[k6["planted as"] == f"motif: {name}"]
    rows.append({"motif": name, "sites": len(sites),
                 "site width": int((sites.end - sites.start).median()),
                 "its 6-mers": len(mine),
                 "best-ranked": mine["rank"].idxmin() if len(mine) else "",
                 "best rank": mine["rank"].min() if len(mine) else None,
                 f"in the top {TOP}": int((mine["rank"] <= TOP).sum())})
recovered = pd.DataFrame(rows).set_index("motif")
print(f"{len(k6)} scored {K}-mers; the top {TOP} hold "
      f"{(k6['rank'] <= TOP).mul(k6['planted as'] == 'repeat').sum()} repeat k-mers and "
      f"{(k6['rank'] <= TOP).mul(k6['planted as'].str.startswith('motif')).sum()} motif k-mers")
recovered
"""),
code("""
fig, ax = plt.subplots(figsize=(10, 3.8))
k6["planted share %"] = k6[["in motif sites %", "in repeats %"]].max(axis=1)
kind = k6["planted as"].str.split(":").str[0]
for label, color in (("background", "#bbb"), ("repeat", "#1f77b4"), ("motif", "#d62728")):
    g = k6[kind == label]
    ax.scatter(g["rank"], g["planted share %"], s=6 if label == "background" else 16, color=color,
               label=f"{label} ({len(g)} {K}-mers)", alpha=0.8)
for motif, row in recovered[recovered["its 6-mers"] > 0].iterrows():
    kmer = row["best-ranked"]
    ax.annotate(f"{kmer} ({motif})", (k6.at[kmer, "rank"], k6.at[kmer, "planted share %"]),
                fontsize=8, xytext=(5, 5), textcoords="offset points")
ax.axvline(TOP, color="k", lw=0.8, ls=":")
ax.set_xscale("log")
ax.set_xlabel(f"GeneMask rank of the {K}-mer (1 = highest score; dotted: top {TOP})")
ax.set_ylabel("% of its occurrences in\\nplanted sites or repeats")
ax.legend(fontsize=8)
ax.spines[["top", "right"]].set_visible(False)
plt.show()
"""),
md("""
What this shows: the very top of the ranking is **repeats**: a tandem repeat makes its k-mers far
more frequent than their pieces predict. Planted motifs are recovered only in part, and the table
says which. PMI_n asks whether a k-mer is *more than its pieces*; a motif site raises the count
of its k-mer and of that k-mer's pieces together, so a motif is not automatically a PMI unit.
A motif whose 6-mers are common anyway (an AT-rich TATA box in an AT-rich genome) stays in the
background, and 6-mers with the rare CpG (the cores of SP1's GC box and of NRF1's site) score low:
such motifs come up through their CpG-free 6-mers, if at all. PMI finds *units* of the sequence;
it does not know which units are functional.

## 4. The paper's ranking of the human genome (hg38)

The GeneMask release ships its 6-mer ranking of chr1-3 of GRCh38. `load_table` reads it into
the same table shape (the counts are recovered exactly from its two score columns). The file is
not part of this repository: the section is skipped when `SHARED_DATA` does not hold it.
"""),
code("""
hg38_path = Path(SHARED_DATA) / "genemask" / "hg38_chr1-3_6mer_npmi_ranking.csv"
hg38 = load_table(hg38_path) if hg38_path.is_file() else None
if hg38 is None:
    print(f"Skipping the hg38 part: {hg38_path.resolve()} is not there. Put the GeneMask release's "
          "ranking there (or set SHARED_DATA) to run it; the rest uses the demo genome.")
else:
    print(f"{len(hg38)} {K}-mers from {hg38.attrs.get('source', hg38_path.name)}")
    display(pd.concat([hg38.head(8), hg38.tail(4)])[["ngram", "count", "naive_pmi", "pmi_n",
                                                     "genemask_score", "rank"]].round(3))
"""),
code("""
if hg38 is not None:
    cpg = hg38["ngram"].str.count("CG")
    both = hg38.set_index("ngram")[["genemask_score"]].join(
        k6[["genemask_score"]].add_suffix("_demo"), how="inner")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].boxplot([hg38.loc[cpg == c, "genemask_score"] for c in sorted(cpg.unique())],
                    tick_labels=[str(c) for c in sorted(cpg.unique())])
    axes[0].set_xlabel("CpG dinucleotides in the 6-mer")
    axes[0].set_ylabel("GeneMask score (hg38)")
    axes[1].scatter(both["genemask_score_demo"], both["genemask_score"], s=4, alpha=0.4)
    axes[1].set_xlabel("score on the demo genome")
    axes[1].set_ylabel("score on hg38")
    rho = both.corr(method="spearman").iloc[0, 1]
    axes[1].set_title(f"same 6-mers, Spearman rho = {rho:.2f}", loc="left", fontsize=9)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    plt.show()
"""),
md("""
CpG-rich 6-mers sit at the bottom of the human ranking (CpG is depleted, so they are rarer than
their pieces predict); the top holds simple repeats (`GTGTGT`, `ACACAC`, `AAAAAA`) and k-mers
frequent in Alu elements (`CCCAGC`, `GCCTGG`).
The demo genome reproduces the CpG depletion and the repeats, not the rest of the human genome.

## 5. Top k-mers against JASPAR

`compare_table` scores every 6-mer against every motif of JASPAR CORE vertebrates (both strands;
the best log-odds window, also as a fraction of the motif's maximum), then computes the
statistics for the PMI ranking **and for controls**: ranking by raw frequency, by naive PMI, and
a random ranking. Without controls a correlation means little: a ranking by frequency alone may
correlate as well. We use the hg38 ranking when present, else the demo genome's.
"""),
code("""
subject, subject_table = ("hg38 (GeneMask release)", hg38) if hg38 is not None else ("demo genome", table)
result = compare_table(subject_table, motifs=JASPAR_RELEASE, top=TOP, n=K, seed=SEED,
                       reps=200)  # bootstrap replicates (docs/MOTIFS.md uses 1,000)
info = summary(result)
print(f"{subject}: {info['n_kmers']} {K}-mers against {info['n_motifs']} JASPAR motifs "
      f"({info['n_repeat_derived_motifs']} flagged as repeat-derived)")
result.matches[["pmi_rank", "kmer", "count", "best_motif_name", "core_motif_name", "core_rel",
                "core", "repeat_derived_best"]].head(12).round(3)
"""),
md("""
Logos of the top k-mers beside the motif they match best (letter height = information in bits;
a motif matched on the minus strand is drawn reverse-complemented so the columns line up):
"""),
code("""
ids = list(result.mset.ids)
for row in result.matches.head(N_LOGOS).itertuples():
    fig = match_logo(row.kmer, result.mset.probs[ids.index(row.best_motif)], int(row.offset),
                     int(row.strand), query_label=f"PMI rank {row.pmi_rank}: {row.kmer}",
                     motif_label=f"{row.best_motif} {row.best_motif_name}", figsize=(6, 2.6))
    plt.show()
"""),
md("""
### What counts as "matching a motif"?

The definition decides the answer, so look at the **base rate**: the share of *all* 6-mers that
match. With hundreds of motifs, almost any 6-mer matches some window of some motif at 90% of its
maximum score (`naive`): that definition cannot tell top k-mers from the rest. `core` only counts
each motif's most informative window; `ic_match` weights letters by information; `pvalue`
requires a per-motif significant score.
"""),
code("""
pd.DataFrame({"all k-mers (base rate)": info["base_rates"], f"top {TOP} by PMI": info["top_rates"]}).round(3)
"""),
code("""
tidy = result.tidy[(result.tidy.motifs == "all") & (result.tidy.kmer_set == "kmers")]
pick = {("spearman", "core_rel"): "Spearman rho", ("partial_spearman_gc_cpg", "core_rel"): "rho | GC, CpG",
        ("enrichment_fold", "core"): f"top-{TOP} enrichment"}
stats_table = pd.concat({label: tidy[(tidy.measure == m) & (tidy.on == on)].set_index("ranking")[["value", "p"]]
                         for (m, on), label in pick.items()}, axis=1)
stats_table.round(4)
"""),
code("""
ranking_statistics_figure(result.tidy).show()   # PMI (purple) beside its controls
"""),
code("""
fig = ranking_figure(result.rankings, result.matches["core_rel"].to_numpy())
fig.axes[0].set_title(f"{subject}: motif match along each ranking", loc="left", fontsize=9)
plt.show()
"""),
md("""
### What the correlation does and does not show

* **Spearman rho** between a ranking and the best motif match, over all k-mers, and the
  **enrichment** of matches among the top `TOP` k-mers (one-sided hypergeometric p). With
  thousands of k-mers even a small rho is "significant": compare its *size* with the controls.
* **Controls.** If ranking by frequency or by naive PMI correlates as strongly, the association
  is not specific to GeneMask's score. The random ranking shows what chance gives.
* **Confounders.** Motifs and PMI both depend on base composition: the partial correlation given
  GC content and CpG count removes the part composition explains.
* **Repeats.** Many JASPAR zinc-finger motifs were learnt on transposable elements, which are
  also what high PMI finds; `compare_table` repeats the statistics without those motifs
  (`motifs == "no_repeat"` in `result.tidy`), and on reverse-complement pairs counted once.
* **What it cannot show**: that the genome's occurrences of a top k-mer are binding sites, or
  that masking them helps a model. A k-mer "matching" a motif is a statement about letters; the
  demo genome, where the sites are known, is where recovery can be checked (section 3).
"""),
code("""
rho = tidy[(tidy.measure == "spearman") & (tidy.on == "core_rel")].set_index("ranking")["value"]
print(f"{subject}: Spearman rho with the core-window match: "
      + ", ".join(f"{name} {value:+.3f}" for name, value in rho.items()))
print("PMI beats (significant, positive, larger than the control's):",
      ", ".join(f"{c}: {'yes' if b else 'no'}" for c, b in info["pmi_beats"].items()))
no_rep = result.tidy[(result.tidy.motifs == "no_repeat") & (result.tidy.kmer_set == "kmers")
                     & (result.tidy.measure == "spearman") & (result.tidy.on == "core_rel")]
if len(no_rep):
    print("without repeat-derived motifs:",
          ", ".join(f"{r.ranking} {r.value:+.3f}" for r in no_rep.itertuples()))
"""),
md("""
Next: notebook 3 pretrains small models with GeneMask and with random masking and compares them
on a 10-shot task.
"""),
]
