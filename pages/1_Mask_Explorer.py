"""Mask Explorer: which tokens and nucleotides each masking strategy hides on one sequence."""

import zlib

import streamlit as st

from genemask_viz.app_logic import (STRATEGY_LABELS, benchmark_datasets, demo_window,
                                    draw_statistics, load_benchmark_rows, mask_view, parse_pasted,
                                    read_upload, shared_data_dir)
from genemask_viz.app_logic.explorer import summarise_draws
from genemask_viz.app_logic.inputs import hg38_ranking_path
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import default_range, rates_figure, run_length_figure, sequence_track

st.set_page_config(page_title="Mask Explorer", page_icon=":material/search:", layout="wide")


@st.cache_resource(max_entries=1, show_spinner="Generating the demo genome...")
def demo():
    from genemask_viz.sequences import demo_genome
    return demo_genome(seed=0)


@st.cache_data(max_entries=4, show_spinner="Counting n-grams of the demo genome...")
def demo_table():
    from genemask_viz.ngrams import compute_table
    return compute_table(demo().records, max_n=10, min_count=101)


@st.cache_data(max_entries=2)
def file_table(path: str):
    from genemask_viz.ngrams import load_table
    return load_table(path)


@st.cache_data(max_entries=4, show_spinner="Reading the upload...")
def upload_records(name: str, data: bytes):
    return read_upload(name, data)


@st.cache_data(max_entries=2, show_spinner="Counting n-grams of the upload...")
def upload_table(name: str, data: bytes):
    from genemask_viz.ngrams import compute_table
    from genemask_viz.sequences import Record
    return compute_table([Record(n, s) for n, s in upload_records(name, data)], max_n=10, min_count=2)


@st.cache_data(max_entries=8)
def benchmark_rows(path: str):
    return load_benchmark_rows(path)


@st.cache_data(max_entries=16, show_spinner="Drawing masks many times...")
def statistics(sequence: str, strategies: tuple, table, k: int, n_draws: int):
    return draw_statistics(sequence, strategies, table, k=k, n_draws=n_draws)


def tables() -> dict:
    """PMI tables on offer: name -> table (computed or loaded on first use, cached)."""
    out = {"demo genome (computed here)": demo_table()}
    ranking = hg38_ranking_path()
    if ranking is not None:
        out["hg38 chr1-3 ranking (GeneMask release)"] = file_table(str(ranking))
    up = st.session_state.get("mx_upload")
    if up is not None and st.session_state.get("mx_source") == "Upload a FASTA file":
        try:
            out["computed from your upload"] = upload_table(up.name, up.getvalue())
        except GeneMaskInputError:
            pass
    return out


def fail(exc: Exception):
    st.error(str(exc))
    st.stop()


st.title("Mask Explorer")
st.markdown("Pick a sequence and a masking strategy. The track shows which **tokens** (overlapping "
            "6-mers) the model must predict and which **nucleotides** end up truly hidden. The track "
            "shows 120 nt at a time: move the slider above it, or drag the plot, to travel along the sequence.")

# ---- the sequence -------------------------------------------------------------------------
with st.sidebar:
    st.header("Sequence")
    sources = ["Demo genome window", "Paste a sequence", "Upload a FASTA file", "Benchmark dataset row"]
    source = st.radio("Where from", sources, key="mx_source")
    window_motifs = None
    try:
        if source == sources[0]:
            g = demo()
            rec = st.selectbox("Record", range(len(g.records)), key="mx_record",
                               format_func=lambda i: g.records[i].name)
            win = st.number_input("Window number (each one is centred on a planted motif)", 0, 599, 0,
                                  key="mx_window")
            length = st.slider("Length (nt; 515 = one full model input)", 30, 515, 515, key="mx_length")
            w = demo_window(g, rec, int(win), int(length))
            sequence, seq_label, window_motifs = w.sequence, f"demo {w.label}", w.motifs
        elif source == sources[1]:
            text = st.text_area("Nucleotides (raw or FASTA)", height=150, key="mx_paste",
                                placeholder="ACGTTGCATG...")
            if not text.strip():
                st.info("Paste a DNA sequence (at least 6 nt) to mask it.")
                st.stop()
            sequence, seq_label = parse_pasted(text), "pasted sequence"
        elif source == sources[2]:
            up = st.file_uploader("FASTA file (plain or .gz, at most 50 MB)", key="mx_upload",
                                  type=["fa", "fasta", "fna", "txt", "gz", "tsv", "csv"])
            if up is None:
                st.info("Upload a FASTA file; its first 515 nt of the chosen record are masked, and "
                        "its n-gram table can serve as the PMI table.")
                st.stop()
            recs = upload_records(up.name, up.getvalue())
            i = st.selectbox("Record", range(len(recs)), key="mx_up_record",
                             format_func=lambda j: f"{recs[j][0]} ({len(recs[j][1]):,} nt)")
            start = st.number_input("Start position (nt)", 0, max(0, len(recs[i][1]) - 6), 0,
                                    key="mx_up_start")
            sequence, seq_label = recs[i][1][int(start):int(start) + 515], f"{recs[i][0]} from {int(start)}"
        else:
            default = shared_data_dir()
            folder = st.text_input("Folder with labelled .tsv/.csv files",
                                   value=str(default / "genemask" / "fewshot") if default else "",
                                   key="mx_folder")
            if not folder:
                st.info("The shared benchmark data (../shared/data) is not present. Type the path of a "
                        "folder that holds labelled .tsv/.csv files (sequence, label).")
                st.stop()
            sets = benchmark_datasets(folder)
            if not sets:
                st.info("No .tsv/.csv files were found in that folder.")
                st.stop()
            name = st.selectbox("Dataset", sorted(sets), key="mx_dataset")
            path = st.selectbox("File", sets[name], key="mx_file", format_func=lambda p: p.name if
                                p.parent.name == name else f"{p.parent.name}/{p.name}")
            rows = benchmark_rows(str(path))
            r = st.number_input(f"Row (0-{len(rows) - 1})", 0, len(rows) - 1, 0, key="mx_row")
            sequence = rows.loc[int(r), "sequence"]
            seq_label = f"{name} {path.name} row {int(r)} (label {rows.loc[int(r), 'label']})"
    except GeneMaskInputError as exc:
        fail(exc)

    st.header("PMI table")
    available = tables()
    table_name = st.selectbox("Scores k-mers for genemask and pmi-span", list(available),
                              key="mx_table")
    if hg38_ranking_path() is None:
        st.caption("The hg38 ranking appears here when ../shared/data is present.")
    table = available[table_name]

# ---- strategy -------------------------------------------------------------------------------
c1, c2, c3 = st.columns([3, 1, 1])
strategy = c1.selectbox("Masking strategy", list(STRATEGY_LABELS), index=2, key="mx_strategy",
                        format_func=STRATEGY_LABELS.get)
seed = int(c2.number_input("Random seed", 0, 10**6, 0, key="mx_seed"))
k = int(c3.selectbox("k (k-mer size)", [6, 5, 4, 3], key="mx_k"))
params = {}
with st.expander("Strategy parameters"):
    if strategy == "random":
        params["rate"] = st.slider("Token masking rate", 0.01, 0.5, 0.15, key="mx_rate")
    elif strategy in ("dnabert", "genemask", "genemask-released"):
        default = 0.025 if strategy == "dnabert" else 0.0176
        params["centre_prob"] = st.slider("Centre probability (per token)", 0.001, 0.1, default,
                                          step=0.0005, format="%.4f", key=f"mx_cp_{strategy}")
        if strategy != "dnabert":
            params["top_fraction"] = st.slider("Fraction of centres that get the 11-token span",
                                               0.0, 1.0, 0.5, key="mx_top")
    else:
        params["target_rate"] = st.slider("Share of nucleotides to hide", 0.05, 0.5, 0.15,
                                          key="mx_target")
    st.caption("Defaults are the paper's: random 15%; DNABERT centre probability 0.025; GeneMask "
               "0.0176 with the top half of centres (all when fewer than 10) extended.")
if strategy == "genemask-released":
    st.warning("This reproduces a bug of the public GeneMask code: k-mer scores are looked up by the "
               "token's *position*, not by the k-mer found there, so span choice ignores the sequence.")

try:
    view = mask_view(sequence, strategy, table, k=k, seed=seed, **params)
except GeneMaskInputError as exc:
    fail(exc)

st.subheader(f"{seq_label}: {len(view.sequence)} nt, {view.n_tokens} tokens")
m = st.columns(4)
m[0].metric("masked tokens", f"{100 * view.token_rate:.2f}%", help=f"{view.n_masked} of {view.n_tokens} tokens")
m[1].metric("hidden nucleotides", f"{100 * view.hidden_rate:.2f}%",
            help=f"{view.n_hidden} of {len(view.sequence)} nucleotides: no unmasked k-mer covers them")
m[2].metric("centres drawn", len(view.centres) if strategy != "random" else "n/a")
m[3].metric("masked spans", len(view.spans))
lo, hi = default_range(view, window_motifs)
x_window = st.slider("Positions shown (nt); 120 or fewer keep the letters readable", 0, len(view.sequence),
                  (int(lo), int(hi)), key=f"mx_range_{zlib.crc32(view.sequence.encode())}")
st.plotly_chart(sequence_track(view, motifs=window_motifs, x_range=x_window), key="mx_track",
                config={"scrollZoom": True, "displaylogo": False})
st.caption("Each masked span is drawn over the nucleotides its tokens start at (a token covers its "
           "start and the next k-1 nt). Bottom: the PMI score of the k-mer starting at each position; "
           "GeneMask picks the best-scoring k-mer among the 6 tokens of each centre's span; gaps are "
           "k-mers the table does not score (too rare).")
if len(view.chosen):
    with st.expander(f"GeneMask's chosen k-mers ({len(view.chosen)} centres)"):
        shown = view.chosen.assign(centre=view.chosen["centre"] + 1, pos=view.chosen["pos"] + 1)
        st.dataframe(shown.rename(columns={"centre": "centre (token)", "pos": "chosen token",
                                           "extended": "got the 11-token span"}),
                     hide_index=True, key="mx_chosen")

# ---- side by side -------------------------------------------------------------------------------
st.header("Compare strategies on the same sequence and seed")
chosen = st.multiselect("Strategies", list(STRATEGY_LABELS), default=["dnabert", "genemask"],
                        key="mx_compare")
if chosen:
    views = []
    try:
        views = [mask_view(sequence, s, table, k=k, seed=seed) for s in chosen]
    except GeneMaskInputError as exc:
        st.error(str(exc))
    if views:
        st.dataframe([v.summary() for v in views], hide_index=True, key="mx_compare_table")
        for v in views:
            st.plotly_chart(sequence_track(v, motifs=window_motifs, x_range=x_window, height=360,
                                           title=v.strategy),
                            key=f"mx_track_{v.strategy}", config={"scrollZoom": True, "displaylogo": False})

# ---- many draws ----------------------------------------------------------------------------------
st.header("Statistics over many draws")
st.markdown("Masks are random: one draw can mislead. Below, each strategy masks this sequence many "
            "times. **Why hidden nucleotides matter:** with overlapping k-mers, every nucleotide "
            "appears in up to k tokens. If any of them stays visible, the model can read the masked "
            "letters off it instead of learning the sequence's grammar, so the *hidden* rate, not the "
            "masked-token rate, is how much the model really has to predict.")
n_draws = st.select_slider("Number of draws", [50, 100, 200, 500, 1000], value=200, key="mx_draws")
stat_strategies = st.multiselect("Strategies to compare", list(STRATEGY_LABELS),
                                 default=["random", "dnabert", "genemask", "pmi-span"],
                                 key="mx_stat_strategies")
if stat_strategies:
    try:
        rates, runs = statistics(view.sequence, tuple(stat_strategies), table, k, int(n_draws))
    except GeneMaskInputError as exc:
        fail(exc)
    st.dataframe(summarise_draws(rates, runs), hide_index=True, key="mx_stats_table")
    st.plotly_chart(rates_figure(rates), key="mx_rates")
    st.plotly_chart(run_length_figure(runs), key="mx_runs")
    st.caption("Left: lengths of runs of consecutive masked tokens. Right: lengths of runs of hidden "
               "nucleotides; random masking almost never hides anything, GeneMask hides whole 6-mers.")
