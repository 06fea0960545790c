"""PMI k-mers and motifs: rank n-grams by PMI, then compare the top k-mers with JASPAR motifs."""

import matplotlib.pyplot as plt
import streamlit as st

from genemask_viz.app_logic import read_upload
from genemask_viz.app_logic.inputs import fewshot_root, hg38_ranking_path
from genemask_viz.app_logic.pmi import (SCORE_COLUMNS, count_with_progress, differences_table,
                                        filter_table, groups_table, headline, kmer_hits,
                                        score_columns, scored_lengths, task_kmer_summary, upload_key,
                                        want_comparison)
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import ranking_bins_figure, ranking_statistics_figure, score_distribution

st.set_page_config(page_title="PMI k-mers and motifs", page_icon=":material/bar_chart:", layout="wide")


@st.cache_resource(max_entries=1, show_spinner="Generating the demo genome...")
def demo():
    from genemask_viz.sequences import demo_genome
    return demo_genome(seed=0)


@st.cache_data(max_entries=4, show_spinner="Counting n-grams of the demo genome (about a second)...")
def demo_table(max_n: int, min_count: int):
    from genemask_viz.ngrams import compute_table
    return compute_table(demo().records, max_n=max_n, min_count=min_count)


@st.cache_data(max_entries=2)
def file_table(path: str):
    from genemask_viz.ngrams import load_table
    return load_table(path)


@st.cache_data(max_entries=2)
def uploaded_table(name: str, data: bytes):
    import tempfile
    from pathlib import Path
    from genemask_viz.ngrams import load_table
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        return load_table(path)


APP_REPS = 200  # bootstrap replicates on the page (the CLI's default is 1000)


@st.cache_resource(max_entries=2, show_spinner=False)
def kmer_scores(fingerprint: str, _table, n: int):
    """Every k-mer against every JASPAR motif, once per table and n (shared by all top sizes)."""
    from genemask_viz.motifs import load_jaspar, motif_set, score_kmers
    from genemask_viz.motifs.report import ranked_kmers
    return score_kmers(ranked_kmers(_table, n), motif_set(load_jaspar()))


@st.cache_resource(max_entries=8, show_spinner=False)
def motif_comparison(fingerprint: str, _table, n: int, top: int):
    """Cached on ``fingerprint`` (the table's identity: its settings, or an upload's content
    hash), ``n`` and ``top``; the table itself is not hashed. Each top set size keeps its result."""
    from genemask_viz.motifs import compare_table
    return compare_table(_table, n=n, top=top, source=fingerprint, reps=APP_REPS,
                         scores=kmer_scores(fingerprint, _table, n))


@st.cache_resource(max_entries=2, show_spinner="Scanning the task's sequences with 879 JASPAR motifs (FIMO)...")
def task_motifs(folder: str):
    from genemask_viz.motifs import load_jaspar, motif_set
    from genemask_viz.motifs.tasks import task_enrichment
    return task_enrichment(folder, motif_set(load_jaspar()))


def logo(result, kmer: str, hit):
    from genemask_viz.motifs import match_logo
    fig = match_logo(kmer, result.mset.probs[int(hit.motif_index)], int(hit.offset), int(hit.strand_sign),
                     query_label=kmer, motif_label=f"{hit.motif_id} {hit.motif_name}", figsize=(4, 3))
    return fig


st.title("PMI k-mers and motifs")
st.markdown("**Pointwise mutual information (PMI)** asks how much more often the letters of an n-gram "
            "occur together than chance predicts from its parts. GeneMask ranks 6-mers by a PMI score "
            "and masks around the best ones. Here you can compute such a ranking, browse it, and test "
            "the paper's claim that top PMI k-mers look like known transcription-factor motifs.")

# ---- the table --------------------------------------------------------------------------------
sources = ["Demo genome (computed here)", "hg38 ranking (GeneMask release)",
           "Compute from an uploaded FASTA", "Load a table file (CSV/Parquet)"]
with st.sidebar:
    st.header("PMI table")
    source = st.radio("Source", sources, key="pm_source")
    table, table_key = None, None
    try:
        if source == sources[0]:
            max_n = st.slider("Longest n-gram", 2, 10, 10, key="pm_max_n")
            min_count = st.number_input("Minimum count to be scored", 2, 10_000, 101, key="pm_min_count")
            table, table_key = demo_table(int(max_n), int(min_count)), f"demo n<={max_n} c>={min_count}"
        elif source == sources[1]:
            path = hg38_ranking_path()
            if path is None:
                st.info("The GeneMask release's ranking is read from ../shared/data/genemask/, which is "
                        "not present. Use the demo genome, or load the CSV with 'Load a table file'.")
            else:
                table, table_key = file_table(str(path)), f"hg38 {path}"
        elif source == sources[2]:
            up = st.file_uploader("FASTA (plain or .gz, at most 50 MB)", key="pm_fasta",
                                  type=["fa", "fasta", "fna", "gz", "txt"])
            min_count = st.number_input("Minimum count to be scored", 2, 10_000, 5, key="pm_up_min_count",
                                        help="101 suits a genome; a small upload needs less.")
            if up is not None:
                data = up.getvalue()
                key = upload_key(up.name, data, f"min_count={min_count}")
                if st.button("Compute the table", key="pm_compute", type="primary"):
                    bar = st.progress(0.0, text="reading the file")
                    records = read_upload(up.name, data)
                    st.session_state["pm_upload_table"] = (key, count_with_progress(
                        records, 10, int(min_count), lambda f, t: bar.progress(min(f, 1.0), text=t)))
                stored = st.session_state.get("pm_upload_table")
                if stored and stored[0] == key:
                    table, table_key = stored[1], key
        else:
            up = st.file_uploader("Score table (ours or the release's ranking CSV)", key="pm_table_file",
                                  type=["csv", "parquet", "pq"])
            if up is not None:
                data = up.getvalue()
                table, table_key = uploaded_table(up.name, data), "file " + upload_key(up.name, data)
    except GeneMaskInputError as exc:
        st.error(str(exc))
        st.stop()

if table is None:
    st.info("Choose a PMI table in the sidebar (the demo genome's is computed in about a second).")
    st.stop()

lengths = scored_lengths(table)
if not lengths:
    st.warning("No n-gram in this table reaches the minimum count, so nothing is scored. Lower the "
               "minimum count or use a larger input.")
    st.stop()
st.caption(f"Table: {table.attrs.get('source', table_key)}; {len(table):,} n-grams, scored lengths "
           f"{lengths[0]}..{lengths[-1]}.")

# ---- top-N browser ------------------------------------------------------------------------------
st.header("Top-ranked n-grams")
c = st.columns(5)
n = int(c[0].selectbox("n (length)", lengths, index=lengths.index(6) if 6 in lengths else 0, key="pm_n"))
columns = score_columns(table)
from genemask_viz.ngrams import ranking_name, table_scoring  # noqa: E402 (issue 10: each table's own ranking first)
column = c[1].selectbox("Rank by", columns, key=f"pm_column_{table_scoring(table)}", format_func=SCORE_COLUMNS.get,
                        help=f"This table's own ranking: {ranking_name(table)}.")
min_c = int(c[2].number_input("Minimum count", 0, 10**9, 0, key="pm_filter_count"))
min_s = c[3].number_input("Minimum score", value=None, key="pm_filter_score", placeholder="none")
top = int(c[4].number_input("Show top", 5, 5000, 50, key="pm_top"))
shown = filter_table(table, n, min_c, min_s, top, column)
st.dataframe(shown, hide_index=True, key="pm_table", height=300)
st.download_button("Download these rows as CSV", shown.to_csv(index=False).encode(),
                   file_name=f"top_{n}mers_{column}.csv", mime="text/csv", key="pm_download")
with st.expander("Distribution of the score for each length", expanded=False):
    st.plotly_chart(score_distribution(table, column), key="pm_dist")
    st.caption("Longer n-grams are rarer; PMI of rare n-grams is noisy, which is why the GeneMask score "
               "discounts n-grams with small counts.")

# ---- motifs ------------------------------------------------------------------------------------
st.header("Do top PMI k-mers look like known motifs?")
st.markdown(f"Every {n}-mer is scored against the JASPAR 2024 CORE vertebrate motifs (879 position "
            "weight matrices, both strands). The comparison takes 10 to 30 seconds the first time.")
mc = st.columns(2)
motif_top = int(mc[0].number_input("Top set size for enrichment", 10, 1000, 100, key="pm_motif_top"))
pressed = mc[1].button("Compare with JASPAR motifs", key="pm_run_motifs", type="primary")
done = st.session_state.setdefault("pm_motifs_done", [])
if not want_comparison(done, (table_key, n, motif_top), pressed):
    st.info("Press the button to score the k-mers against the motifs (results are kept for every "
            "top set size you compare).")
    st.stop()
try:
    with st.spinner("Scoring k-mers against 879 JASPAR motifs, bootstrap and Tomtom..."):
        result = motif_comparison(table_key, table, n, motif_top)
except GeneMaskInputError as exc:
    st.error(str(exc))
    st.stop()
except Exception as exc:  # the motif library is read offline through pyjaspar
    st.error(f"The JASPAR motifs could not be loaded ({type(exc).__name__}: {exc}). Check that pyjaspar "
             "is installed (pip install -r requirements.txt).")
    st.stop()

numbers = headline(result)
st.success(numbers["sentence"])
st.caption(f"Rankings: " + "; ".join(f"**{k}** = {v}" for k, v in result.ranking_names.items())
           + f". Intervals: {APP_REPS} bootstrap replicates resampling reverse-complement pairs "
             "(the CLI uses 1000); p-values Benjamini-Hochberg adjusted over every reported statistic.")
with st.expander("Every difference between rankings (rho, with 95% bootstrap intervals)"):
    st.dataframe(differences_table(result), hide_index=True, key="pm_diffs")
    st.caption("Match = each k-mer's best window score as a fraction of the motif's maximum "
               "(best_rel, primary) or on the motif's most informative window only (core_rel, "
               "sensitivity check). An interval that contains 0 means the two rankings are level.")
left, right = st.columns(2)
with left:
    st.subheader("One k-mer and its best motifs")
    kmers = list(result.matches["kmer"].head(200))
    kmer = st.selectbox("k-mer (in PMI order)", kmers, key="pm_kmer",
                        format_func=lambda x: f"{kmers.index(x) + 1}. {x}")
    hits = kmer_hits(result, kmer, top=3)
    st.dataframe(hits.drop(columns=["motif_index", "strand_sign"]), hide_index=True, key="pm_hits")
with right:
    st.subheader("PMI ranking against controls")
    st.plotly_chart(ranking_statistics_figure(result.tidy, on="best_rel", kmer_set="rc_merged"),
                    key="pm_stats")
    st.caption("Reverse-complement pairs, best-window match. Purple: the table's PMI ranking; grey: "
               "the other rankings. Dotted line: no effect. Unadjusted p-values above bars (the "
               "BH-adjusted ones are in the tidy table below); use the bootstrap intervals of "
               "the differences to compare rankings.")
logo_cols = st.columns(3)
for col, hit in zip(logo_cols, hits.itertuples()):
    with col:
        fig = logo(result, kmer, hit)
        st.pyplot(fig, clear_figure=True)
        plt.close(fig)
st.caption("Logos: the k-mer (top) aligned with each motif (bottom; letter height = information in bits). "
           "'fraction_of_max' is the k-mer's log-odds score on that motif window relative to the best "
           "possible score.")
fig_col, text_col = st.columns(2)
with fig_col:
    st.plotly_chart(ranking_bins_figure(result.rankings, result.matches["best_rel"].to_numpy(),
                                        label="best JASPAR match (best window, fraction of max)",
                                        bins=20), key="pm_bins")
with text_col:
    st.markdown(
        "**How to read this.** Each line splits the k-mers into 20 bins by one ranking (bin 1 = its top "
        "5%) and shows how well the k-mers of each bin match their best motif. *Controls*: ranking by "
        "plain frequency, by naive PMI, and in random order. If PMI's line falls from left to right, and "
        "more steeply than the controls, high-PMI k-mers resemble motifs more than common or random "
        "ones do.\n\n"
        "**What it does not show.** With 879 motifs almost any 6-mer matches *something* fairly well, so "
        "the base rate is high. A correlation does not mean the k-mers are binding sites: GC-rich, "
        "repetitive (e.g. CACACA) or CpG k-mers can drive it, which is why the partial correlation that "
        "removes GC and CpG content is reported, and k-mers whose best motif is repeat-derived are "
        "flagged in the table below.")
with st.expander("Every k-mer's best motif (PMI order)"):
    st.dataframe(result.matches.head(500), hide_index=True, key="pm_matches")
with st.expander("All statistics (tidy table)"):
    st.dataframe(result.tidy, hide_index=True, key="pm_tidy")

# ---- Tomtom: groups of top k-mers against JASPAR -------------------------------------------------
st.header("Top k-mers grouped into motifs, compared with JASPAR by Tomtom")
st.markdown("Overlapping top k-mers (and their reverse complements) are merged into groups; each "
            "group's letter matrix is compared with every JASPAR motif by Tomtom (memelite). "
            "**q** is the false discovery rate over the 879 motifs; q < 0.05 is a credible match.")
gt = groups_table(result)
st.dataframe(gt, hide_index=True, key="pm_groups")
gi = int(st.selectbox("Group to draw", gt["group"].tolist(), key="pm_group",
                      format_func=lambda g: f"{g}. {gt.loc[gt.group == g, 'consensus'].iloc[0]}"))
from genemask_viz.motifs.report import group_logo  # noqa: E402
gcols = st.columns(3)
for h, col in zip((1, 2, 3), gcols):
    with col:
        fig = group_logo(result, gi, h)
        st.pyplot(fig, clear_figure=True)
        plt.close(fig)

# ---- the discriminative test on task sequences ---------------------------------------------------
st.header("Motifs enriched in a task's sequences, and the top PMI k-mers")
root = fewshot_root()
tasks = [t for t in ("Prom-core", "Cohn-enh") if root is not None and (root / t).is_dir()]
if not tasks:
    st.info("The few-shot task data (../shared/data/genemask/fewshot) is not present here.")
    st.stop()
st.markdown("Positive and negative sequences of the task are scanned with every JASPAR motif "
            "(FIMO, p < 1e-4, both strands); Fisher's exact test asks which motifs occur in more "
            "positives than negatives (Benjamini-Hochberg q across motifs). Then: do the top PMI "
            "k-mers match these enriched motifs better than chance and better than frequent k-mers?")
tc = st.columns(2)
task = tc[0].selectbox("Task", tasks, key="pm_task")
if tc[1].button("Run the enrichment test", key="pm_run_task"):
    st.session_state.setdefault("pm_tasks_done", set()).add(task)
if task not in st.session_state.get("pm_tasks_done", set()):
    st.info("Press the button to scan the task's sequences (10-60 s the first time).")
    st.stop()
motifs_t, facts = task_motifs(str(root / task))
st.caption(f"{facts['n_positive']:,} positive and {facts['n_negative']:,} negative sequences of "
           f"{facts['length']} nt; {facts['n_enriched']} motifs enriched at q < 0.05 (Fisher), "
           f"{facts['n_enriched_gc_stratified']} when positives and negatives are compared within GC "
           f"bins (q_gc; positives {facts['gc_positive']:.0%} GC, negatives {facts['gc_negative']:.0%}). "
           "A motif enriched by q but not by q_gc may only reflect the positives' higher GC content.")
show = motifs_t.head(25).drop(columns=["motif_index"])
st.dataframe(show, hide_index=True, key="pm_task_table")
lcols = st.columns(3)
from genemask_viz.motifs.logos import motif_logo  # noqa: E402
for (_, row), col in zip(motifs_t.head(3).iterrows(), lcols):
    with col:
        fig = motif_logo(result.mset.probs[int(row.motif_index)],
                         f"{row.motif_id} {row.motif_name}: odds ratio {row.odds_ratio:.2f}, q {row.q:.1g}")
        st.pyplot(fig, clear_figure=True)
        plt.close(fig)
tk = task_kmer_summary(result, motifs_t, reps=APP_REPS)
if tk["n_enriched"]:
    b = tk["bootstrap"]
    st.dataframe(b.assign(match="best window over enriched motifs").round(4), hide_index=True,
                 key="pm_task_boot")
    st.dataframe(tk["chance"].round(4), key="pm_task_chance")
    st.caption("Top: rho of each ranking with the best match over the enriched motifs (RC pairs; "
               "rows with 'versus' are differences with their 95% bootstrap interval). Bottom: "
               "the top set's mean best match over the enriched motifs ('observed') against "
               f"{APP_REPS} random motif sets of the same size (p = share of random sets that "
               "match at least as well). Enriched motifs in promoters and enhancers are GC-rich; "
               "a ranking that favours GC-rich k-mers matches them without knowing any motif.")
