"""Model View: what a pretrained model guesses under the mask, which bases a fine-tuned one uses."""

import numpy as np
import pandas as pd
import streamlit as st

from genemask_viz.app_logic import demo_window, runs_folder
from genemask_viz.app_logic.explorer import strategy_labels
from genemask_viz.app_logic.inputs import parse_pasted
from genemask_viz.app_logic.warm import demo_genome, demo_table as build_demo_table
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.masking.names import TABLE_STRATEGIES

st.set_page_config(page_title="Model View", page_icon=":material/visibility:", layout="wide")
FRESH = "tiny (fresh weights: no pretraining)"


@st.cache_resource(max_entries=1, show_spinner="Generating the demo genome...")
def demo():
    return demo_genome()


@st.cache_resource(max_entries=1, show_spinner="Counting n-grams of the demo genome...")
def demo_table():
    return build_demo_table()


@st.cache_data(ttl=10, max_entries=4)
def models(root: str) -> pd.DataFrame:
    from genemask_viz.interpret import list_models
    return list_models(root)


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def mlm(path: str):
    from genemask_viz.interpret import load_mlm
    return load_mlm("tiny" if path == FRESH else path)


@st.cache_resource(max_entries=2, show_spinner="Loading the classifier...")
def classifier(path: str):
    from genemask_viz.interpret import load_classifier
    return load_classifier(path)


@st.cache_resource(max_entries=1, show_spinner="Loading JASPAR...")
def jaspar():
    from genemask_viz.interpret import as_motif_set
    return as_motif_set("JASPAR2024")


@st.cache_data(max_entries=4, show_spinner="Loading the task's test set...")
def test_set(path: str) -> pd.DataFrame:
    from genemask_viz.interpret import run_test_set
    return run_test_set(path, max_rows=200)


@st.cache_data(max_entries=16, show_spinner="Predicting the masked k-mers...")
def reconstructions(paths: tuple, sequence: str, strategy: str, seed: int):
    from genemask_viz.interpret import reconstruct
    table = demo_table() if strategy in TABLE_STRATEGIES else None
    first = reconstruct(mlm(paths[0]), sequence, strategy, seed, table=table)
    return [first] + [reconstruct(mlm(p), sequence, token_mask=first.token_mask) for p in paths[1:]]


@st.cache_data(max_entries=16, show_spinner="Mutating every base (saturation mutagenesis)...")
def attribution(path: str, sequence: str, width: int):
    from genemask_viz.interpret import attribute
    return attribute(classifier(path), sequence, windows=3, width=width, motifs=jaspar())


def sequence_input(prefix: str, default_length: int) -> str:
    """A demo-genome window (centred on a planted motif) or a pasted sequence."""
    source = st.radio("Sequence", ["Demo genome window", "Paste a sequence"], horizontal=True,
                      key=f"{prefix}_source")
    if source == "Paste a sequence":
        text = st.text_area("Nucleotides (raw or FASTA; the first 515 nt are used)",
                            key=f"{prefix}_paste", height=90)
        if not text.strip():
            st.info("Paste a sequence to continue.")
            st.stop()
        try:
            return parse_pasted(text)[:515]
        except GeneMaskInputError as exc:
            st.error(str(exc))
            st.stop()
    c1, c2 = st.columns(2)
    window = c1.number_input("Window (each is centred on a planted motif)", 0, 500, 0,
                             key=f"{prefix}_window")
    length = c2.slider("Length (nt)", 30, 515, default_length, key=f"{prefix}_length")
    return demo_window(demo(), 0, int(window), int(length)).sequence


st.title("Model View")
st.caption("What pretraining learned (the model's guesses at the nucleotides a mask hides) and "
           "what fine-tuning uses (which bases move a few-shot classifier), beside known motifs.")
root = st.text_input("Runs folder", value=str(runs_folder()), key="mv_root")
found = models(root)
pre = found[found["kind"] == "pretrained"]
tuned = found[found["kind"] == "fine-tuned"]
recon_tab, attr_tab = st.tabs(["Reconstruction under the mask", "Attribution of a fine-tuned model"])

with recon_tab:
    options = {FRESH: FRESH, **dict(zip(pre["label"], pre["path"]))}
    if pre.empty:
        st.info("No finished pretraining run in this folder yet: the fresh, untrained model is shown "
                "(chance level). Start one in the Pretraining Lab.")
    labels = list(options)
    c1, c2 = st.columns(2)
    a = c1.selectbox("Model", labels, index=min(1, len(labels) - 1), key="mv_model_a")
    b = c2.selectbox("Compare with (same mask)", ["(none)"] + labels,
                     index=1 if len(labels) > 1 else 0, key="mv_model_b")
    c3, c4 = st.columns(2)
    names = strategy_labels()
    strategy = c3.selectbox("Masking strategy", list(names), format_func=names.get,
                            index=list(names).index("dnabert"), key="mv_strategy")
    seed = int(c4.number_input("Mask seed", 0, 10_000, 0, key="mv_seed"))
    sequence = sequence_input("mv_rec", 200)
    paths = (options[a],) + ((options[b],) if b != "(none)" and b != a else ())
    try:
        recs = reconstructions(paths, sequence, strategy, seed)
    except GeneMaskInputError as exc:
        st.error(str(exc))
        st.stop()
    shown = [a] + ([b] if len(paths) > 1 else [])
    cols = st.columns(len(recs))
    for col, r, label in zip(cols, recs, shown):
        col.metric(f"{label[:40]}: hidden-base accuracy",
                   "n/a" if not r.n_hidden else f"{r.accuracy:.2f}",
                   help="share of hidden nucleotides whose most probable base is the true one")
        col.caption(f"mean log-likelihood {r.mean_loglik:.3f} nats (chance {np.log(0.25):.3f}); "
                    f"{r.n_hidden} hidden of {len(r.sequence)} nt")
    if not recs[0].n_hidden:
        st.warning("This draw hides no nucleotide (every masked k-mer has an unmasked neighbour "
                   "showing its bases). Try another seed or a span strategy.")
    else:
        from genemask_viz.interpret import focus_range, reconstruction_figure
        lo, hi = focus_range(recs[0].hidden, max_width=len(recs[0].sequence))
        lo, hi = st.slider("Positions shown", 0, len(recs[0].sequence), (lo, min(hi, lo + 80)),
                           key="mv_range")
        if hi > lo:
            st.pyplot(reconstruction_figure(recs, shown, lo, hi), clear_figure=True)
        st.caption("Letter height = the model's probability of that base at a hidden nucleotide "
                   "(renormalised product of the covering k-mer predictions); full colour: the "
                   "true base, also written under the axis (green where it is the top guess). "
                   "Grey band: nucleotides under masked k-mers.")
        rows = [{"pos": int(i), "true": recs[0].sequence[i],
                 **{f"{lab[:20]} {base}": float(r.probs[i, j]) for r, lab in zip(recs, shown)
                    for j, base in enumerate("ACGT")}} for i in np.flatnonzero(recs[0].hidden)]
        with st.expander("Probabilities at hidden nucleotides"):
            st.dataframe(pd.DataFrame(rows).round(3), hide_index=True)

with attr_tab:
    if tuned.empty:
        st.info("No kept fine-tuned model in this folder yet. Run a few-shot experiment in the "
                "Few-shot Lab: it keeps the model of one seed per shot count.")
        st.stop()
    choice = st.selectbox("Fine-tuned model", list(tuned["label"]), key="mv_tuned")
    path = dict(zip(tuned["label"], tuned["path"]))[choice]
    source = st.radio("Sequence", ["A test sequence of its task", "Paste a sequence"],
                      horizontal=True, key="mv_attr_source")
    sites = []
    if source == "Paste a sequence":
        text = st.text_area("Nucleotides (at most 515 nt)", key="mv_attr_paste", height=90)
        if not text.strip():
            st.info("Paste a sequence to continue.")
            st.stop()
        try:
            seq = parse_pasted(text)[:515]
        except GeneMaskInputError as exc:
            st.error(str(exc))
            st.stop()
    else:
        try:
            test = test_set(path)
        except GeneMaskInputError as exc:
            st.error(str(exc))
            st.stop()
        row = int(st.number_input(f"Test row (of {len(test)}, shuffled)", 0, len(test) - 1, 0,
                                  key="mv_attr_row"))
        seq = str(test["sequence"].iloc[row]).upper()[:515]
        st.caption(f"true label: {int(test['label'].iloc[row])}")
    from genemask_viz.interpret import demo_site_spans
    found_sites = demo_site_spans([seq])
    sites = list(zip(found_sites["start"], found_sites["end"]))
    width = st.slider("Window width for the motif comparison (nt)", 6, 20, 12, key="mv_width")
    att = attribution(path, seq, width)
    from genemask_viz.interpret import attribution_figure, window_logo
    st.pyplot(attribution_figure(att, sites=sites), clear_figure=True)
    st.caption("Importance of each observed base = its mean-centred effect on the log-odds of the "
               "class (how much mutating it lowers the score). Heat map: every substitution. "
               "Purple bars: exact copies of the demo genome's planted site sequences (the short "
               "TBP, YY1 and SP1 sites also occur by chance).")
    if att.windows is not None and len(att.windows):
        st.subheader("Strongest windows and their best JASPAR matches (Tomtom)")
        show = att.matches[["window", "start", "end", "site", "motif_id", "motif_name", "p", "E",
                            "strand"]] if att.matches is not None else att.windows
        st.dataframe(show, hide_index=True)
        tops = att.matches[att.matches["hit"] == 1] if att.matches is not None else []
        cols = st.columns(max(1, len(tops)))
        for col, m in zip(cols, tops.to_dict(orient="records") if len(tops) else []):
            col.pyplot(window_logo(seq, m, jaspar(), figsize=(4.5, 2.6)), clear_figure=True)
    else:
        st.info("No base raises the score: nothing to compare with motifs.")
