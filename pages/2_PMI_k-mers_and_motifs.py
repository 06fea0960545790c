"""PMI k-mers and motifs: rank n-grams by PMI, then compare the top k-mers with JASPAR motifs."""

import matplotlib.pyplot as plt
import streamlit as st

from genemask_viz.app_logic import read_upload
from genemask_viz.app_logic.inputs import hg38_ranking_path
from genemask_viz.app_logic.pmi import (SCORE_COLUMNS, count_with_progress, filter_table,
                                        headline, kmer_hits, scored_lengths, upload_key)
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import ranking_statistics_figure, score_distribution

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


@st.cache_resource(max_entries=2, show_spinner=False)
def motif_comparison(fingerprint: str, _table, n: int, top: int):
    """Cached on ``fingerprint`` (the table's identity: its settings, or an upload's content
    hash), ``n`` and ``top``; the table itself is not hashed."""
    from genemask_viz.motifs import compare_table
    return compare_table(_table, n=n, top=top, source=fingerprint)


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
columns = [col for col in SCORE_COLUMNS if col in table and table[col].notna().any()]
column = c[1].selectbox("Rank by", columns, key="pm_column", format_func=SCORE_COLUMNS.get)
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
if mc[1].button("Compare with JASPAR motifs", key="pm_run_motifs", type="primary"):
    st.session_state["pm_motifs_for"] = (table_key, n, motif_top)
if st.session_state.get("pm_motifs_for") != (table_key, n, motif_top):
    st.info("Press the button to score the k-mers against the motifs.")
    st.stop()
try:
    with st.spinner("Scoring k-mers against 879 JASPAR motifs..."):
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
    st.plotly_chart(ranking_statistics_figure(result.tidy), key="pm_stats")
    st.caption("Purple: the PMI ranking; grey: controls. Dotted line: no effect. p-values above bars.")
logo_cols = st.columns(3)
for col, hit in zip(logo_cols, hits.itertuples()):
    with col:
        fig = logo(result, kmer, hit)
        st.pyplot(fig, clear_figure=True)
        plt.close(fig)
st.caption("Logos: the k-mer (top) aligned with each motif (bottom; letter height = information in bits). "
           "'fraction_of_max' is the k-mer's log-odds score on that motif window relative to the best "
           "possible score.")
from genemask_viz.motifs import ranking_figure  # noqa: E402  (matplotlib, loaded when needed)
fig_col, text_col = st.columns(2)
with fig_col:
    fig = ranking_figure(result.rankings, result.matches["core_rel"].to_numpy(), bins=20)
    st.pyplot(fig, clear_figure=True)
    plt.close(fig)
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
