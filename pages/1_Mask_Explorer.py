"""Mask Explorer: which tokens and nucleotides each masking strategy hides on one sequence."""

import zlib

import streamlit as st

from genemask_viz.app_logic import (benchmark_datasets, demo_window, draw_statistics,
                                    load_benchmark_rows, mask_view, read_upload, shared_data_dir)
from genemask_viz.app_logic.explorer import MAX_TOKENS, NO_CENTRES, strategy_labels, summarise_draws
from genemask_viz.app_logic.inputs import hg38_ranking_path, parse_pasted_records
from genemask_viz.app_logic.warm import demo_genome, demo_table as build_demo_table
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import default_range, rates_figure, run_length_figure, sequence_track

st.set_page_config(page_title="Mask Explorer", page_icon=":material/search:", layout="wide")
STRATEGY_LABELS = strategy_labels()


# one object per server process (genemask_viz.app_logic.warm; app.py warms them at start-up)
@st.cache_resource(max_entries=1, show_spinner="Generating the demo genome...")
def demo():
    return demo_genome()


@st.cache_resource(max_entries=1, show_spinner="Counting n-grams of the demo genome...")
def demo_table():
    return build_demo_table()


@st.cache_resource(max_entries=2)
def file_table(path: str):
    from genemask_viz.ngrams import load_table
    return load_table(path)


@st.cache_data(max_entries=4, show_spinner="Reading the upload...")
def upload_records(name: str, data: bytes):
    return read_upload(name, data)


@st.cache_resource(max_entries=2, show_spinner="Counting n-grams of the upload...")
def upload_table(name: str, data: bytes):
    from genemask_viz.ngrams import compute_table
    from genemask_viz.sequences import Record
    return compute_table([Record(n, s) for n, s in upload_records(name, data)], max_n=10, min_count=2)


@st.cache_data(max_entries=8)
def benchmark_rows(path: str):
    return load_benchmark_rows(path)


@st.cache_data(max_entries=16, show_spinner="Drawing masks many times...")
def statistics(sequence: str, strategies: tuple, table_name: str, _table, k: int, n_draws: int):
    # the table is named, not hashed: hashing a 100k-row table would cost every rerun
    return draw_statistics(sequence, strategies, _table, k=k, n_draws=n_draws)


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
    """Show an input error in the main area (not the narrow sidebar) and stop the page."""
    st.error(str(exc))
    st.stop()


st.title("Mask Explorer")
k = int(st.session_state.get("mx_k", 6))
st.markdown(f"Pick a sequence and a masking strategy. The track shows which **tokens** (overlapping "
            f"{k}-mers) the model must predict and which **nucleotides** end up truly hidden. The track "
            "shows 120 nt at a time: move the slider above it, or drag the plot, to travel along the sequence.")
WINDOW = MAX_TOKENS + k - 1  # nucleotides of one model input at this k

# ---- the sequence -------------------------------------------------------------------------
problem = None  # an input error: shown in the main area, not in the narrow sidebar
notes = []
with st.sidebar:
    st.header("Sequence")
    sources = ["Demo genome window", "Paste a sequence", "Upload a FASTA file", "Benchmark dataset row"]
    source = st.radio("Where from", sources, key="mx_source")
    window_motifs = None
    sequence = seq_label = None
    try:
        if source == sources[0]:
            g = demo()
            rec = st.selectbox("Record", range(len(g.records)), key="mx_record",
                               format_func=lambda i: g.records[i].name)
            win = st.number_input("Window number (each one is centred on a planted motif)", 0, 599, 0,
                                  key="mx_window")
            length = st.slider("Length (nt)", 30, MAX_TOKENS + 5, MAX_TOKENS + 5, key="mx_length",
                               help=f"One model input holds {MAX_TOKENS} tokens: {WINDOW} nt at k = {k}; "
                                    "a longer window is cut to that.")
            w = demo_window(g, rec, int(win), int(length))
            sequence, seq_label, window_motifs = w.sequence, f"demo {w.label}", w.motifs
        elif source == sources[1]:
            text = st.text_area("Nucleotides (raw or FASTA; RNA is read as DNA)", height=150,
                                key="mx_paste", placeholder="ACGTTGCATG...")
            if text.strip():
                pasted = parse_pasted_records(text)
                notes += pasted.notes
                recs = pasted.records
                i = 0
                if len(recs) > 1:
                    i = st.selectbox(f"Record ({len(recs)} pasted)", range(len(recs)), key="mx_paste_record",
                                     format_func=lambda j: f"{recs[j][0]} ({len(recs[j][1]):,} nt)")
                name, full = recs[i]
                start = 0
                if len(full) > WINDOW:
                    start = int(st.number_input(f"Start position (nt; one model input shows {WINDOW} nt)",
                                                0, len(full) - WINDOW, 0, step=100, key="mx_paste_start"))
                    notes.append(f"The paste has {len(full):,} nt; one model input holds {WINDOW} nt, so "
                                 f"nt {start + 1:,}-{start + WINDOW:,} are shown. Move 'Start position' "
                                 "in the sidebar to see another part.")
                sequence = full[start:start + WINDOW]
                seq_label = (name if len(recs) > 1 else "pasted sequence") + \
                    (f" from {start + 1:,}" if len(full) > WINDOW else "")
        elif source == sources[2]:
            up = st.file_uploader("FASTA file (plain or .gz, at most 50 MB)", key="mx_upload",
                                  type=["fa", "fasta", "fna", "txt", "gz", "tsv", "csv"])
            if up is not None:
                recs = upload_records(up.name, up.getvalue())
                i = st.selectbox("Record", range(len(recs)), key="mx_up_record",
                                 format_func=lambda j: f"{recs[j][0]} ({len(recs[j][1]):,} nt)")
                start = st.number_input("Start position (nt)", 0, max(0, len(recs[i][1]) - 6), 0,
                                        key="mx_up_start")
                sequence = recs[i][1][int(start):int(start) + WINDOW]
                seq_label = f"{recs[i][0]} from {int(start) + 1:,}"
        else:
            default = shared_data_dir()
            folder = st.text_input("Folder with labelled .tsv/.csv files",
                                   value=str(default / "genemask" / "fewshot") if default else "",
                                   key="mx_folder")
            sets = benchmark_datasets(folder) if folder else {}
            if sets:
                name = st.selectbox("Dataset", sorted(sets), key="mx_dataset")
                path = st.selectbox("File", sets[name], key="mx_file", format_func=lambda p: p.name if
                                    p.parent.name == name else f"{p.parent.name}/{p.name}")
                rows = benchmark_rows(str(path))
                r = st.number_input(f"Row (0-{len(rows) - 1})", 0, len(rows) - 1, 0, key="mx_row")
                sequence = rows.loc[int(r), "sequence"]
                seq_label = f"{name} {path.name} row {int(r)} (label {rows.loc[int(r), 'label']})"
    except GeneMaskInputError as exc:
        problem = exc

    st.header("PMI table")
    available = tables()
    table_name = st.selectbox("Scores k-mers for genemask and pmi-span", list(available),
                              key="mx_table")
    if hg38_ranking_path() is None:
        st.caption("The hg38 ranking appears here when ../shared/data is present.")
    table = available[table_name]

if problem is not None:
    fail(problem)
if sequence is None:
    st.info({sources[1]: "Paste a DNA sequence (at least 6 nt) in the sidebar to mask it. FASTA with "
                         "several records is fine: you pick one.",
             sources[2]: f"Upload a FASTA file in the sidebar; {WINDOW} nt of the chosen record are masked "
                         "from the start position you pick, and its n-gram table can serve as the PMI table.",
             sources[3]: "No benchmark files here: the shared data (../shared/data) is not present. Type "
                         "the path of a folder that holds labelled .tsv/.csv files (sequence, label) in "
                         "the sidebar."}.get(source, "Choose a sequence in the sidebar."))
    st.stop()
for note in notes:
    st.info(note)

# ---- strategy -------------------------------------------------------------------------------
c1, c2, c3 = st.columns([3, 1, 1])
names = list(STRATEGY_LABELS)
strategy = c1.selectbox("Masking strategy", names, index=names.index("genemask") if "genemask" in names else 0,
                        key="mx_strategy", format_func=STRATEGY_LABELS.get)
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
            params["top_fraction"] = st.slider(f"Fraction of centres that get the {2 * k - 1}-token span",
                                               0.0, 1.0, 0.5, key="mx_top")
    elif strategy == "pmi-span":
        params["target_rate"] = st.slider("Share of nucleotides to hide", 0.05, 0.5, 0.15,
                                          key="mx_target")
    else:
        st.caption(f"{strategy} runs with the library's defaults.")
    st.caption(f"Defaults are the paper's: random 15%; DNABERT centre probability 0.025 and a {k}-token "
               f"span; GeneMask 0.0176 with the top half of centres (all when fewer than 10) extended to "
               f"{2 * k - 1} tokens around the chosen {k}-mer.")
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
m[2].metric("centres drawn", "n/a" if strategy in NO_CENTRES else len(view.centres),
            help="Tokens drawn at random to start a span (each token with the centre probability). "
                 + ("This strategy draws no centres: it masks tokens one by one." if strategy == "random" else
                    "This strategy draws whole PMI units instead of centres." if strategy == "pmi-span" else
                    "Each centre gives one span; a GeneMask centre whose chosen k-mer scores in the top "
                    f"share gets a second, {2 * k - 1}-token span around that k-mer."))
m[3].metric("masked spans", len(view.spans),
            help="Separate pieces of masking on the track: one per centre, plus GeneMask's extended "
                 "spans, plus PMI units; overlapping spans are each counted, so this can exceed the centres.")
lo, hi = default_range(view, window_motifs)
x_window = st.slider("Positions shown (nt); 120 or fewer keep the letters readable", 0, len(view.sequence),
                     (int(lo), int(hi)), key=f"mx_range_{zlib.crc32(view.sequence.encode())}")
st.plotly_chart(sequence_track(view, motifs=window_motifs, x_range=x_window), key="mx_track",
                config={"scrollZoom": True, "displaylogo": False})
st.caption(f"Each masked span is drawn over the nucleotides its tokens start at (a token covers its "
           f"start and the next {k - 1} nt). Bottom: the PMI score of the {k}-mer starting at each position; "
           f"GeneMask picks the best-scoring {k}-mer among the {k} tokens of each centre's span; gaps are "
           f"{k}-mers the table does not score (too rare).")
if len(view.chosen):
    with st.expander(f"GeneMask's chosen {k}-mers ({len(view.chosen)} centres)"):
        shown = view.chosen.assign(centre=view.chosen["centre"] + 1, pos=view.chosen["pos"] + 1)
        st.dataframe(shown.rename(columns={"centre": "centre (token)", "pos": "chosen token",
                                           "extended": f"got the {2 * k - 1}-token span"}),
                     hide_index=True, key="mx_chosen")

# ---- side by side -------------------------------------------------------------------------------
st.header("Compare strategies on the same sequence and seed")
chosen = st.multiselect("Strategies", names, default=[s for s in ("dnabert", "genemask") if s in names],
                        key="mx_compare", format_func=STRATEGY_LABELS.get)
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
            f"times. **Why hidden nucleotides matter:** with overlapping {k}-mers, every nucleotide "
            f"appears in up to {k} tokens. If any of them stays visible, the model can read the masked "
            "letters off it instead of learning the sequence's grammar, so the *hidden* rate, not the "
            "masked-token rate, is how much the model really has to predict.")
n_draws = st.select_slider("Number of draws", [50, 100, 200, 500, 1000], value=200, key="mx_draws")
stat_strategies = st.multiselect("Strategies to compare", names,
                                 default=[s for s in ("random", "dnabert", "genemask", "pmi-span") if s in names],
                                 key="mx_stat_strategies", format_func=STRATEGY_LABELS.get)
if stat_strategies:
    try:
        rates, runs = statistics(view.sequence, tuple(stat_strategies), table_name, table, k, int(n_draws))
    except GeneMaskInputError as exc:
        fail(exc)
    summary = summarise_draws(rates, runs)
    short = {"masked tokens % (mean)": "masked %", "masked tokens % (sd)": "masked % sd",
             "hidden nt % (mean)": "hidden %", "hidden nt % (sd)": "hidden % sd",
             "draws hiding nothing %": "hide nothing %", "mean masked run (tokens)": "masked run",
             "mean hidden run (nt)": "hidden run"}
    # short headers (the full meaning in each header's tooltip) so no column is cut off
    st.dataframe(summary, hide_index=True, key="mx_stats_table", width="stretch",
                 column_config={c: st.column_config.NumberColumn(short.get(c, c), help=c, format="%.2f")
                                for c in summary.columns if c != "strategy"})
    st.plotly_chart(rates_figure(rates), key="mx_rates")
    st.plotly_chart(run_length_figure(runs), key="mx_runs")
    st.caption("Left: lengths of runs of consecutive masked tokens. Right: lengths of runs of hidden "
               f"nucleotides; random masking almost never hides anything, GeneMask hides whole {k}-mers.")
st.caption("See the [Model View](/Model_View) page: what a pretrained model guesses at the nucleotides such a mask hides.")
