"""Pretraining Lab: small masked-language-model runs in the background, compared by their losses."""

from datetime import timedelta

import streamlit as st

from genemask_viz.app_logic import MAX_CONCURRENT_RUNS, device_summary, launch_run, run_overview
from genemask_viz.app_logic.explorer import STRATEGY_LABELS
from genemask_viz.app_logic.labs import active_runs, progress_text, run_metrics, runs_folder
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import loss_curves

st.set_page_config(page_title="Pretraining Lab", page_icon=":material/model_training:", layout="wide")


@st.cache_resource(max_entries=1)
def training_device() -> dict:
    return device_summary()


st.title("Pretraining Lab")
st.markdown("Train a small DNA language model to fill in masked tokens, once per masking strategy, "
            "and compare how fast the loss falls. Runs train **in the background**: you can leave "
            "this page or reload it; the history is kept in the runs folder.")

with st.sidebar:
    st.header("Runs folder")
    if "lab_runs_dir" not in st.session_state:
        st.session_state["lab_runs_dir"] = str(runs_folder())
    root = st.text_input("Where runs are kept", key="lab_runs_dir")
    st.caption(f"At most {MAX_CONCURRENT_RUNS} run(s) train at a time; more wait in a queue "
               "(set GENEMASK_MAX_RUNS to change it).")
    dev = training_device()
    (st.success if dev.get("cuda") else st.info)(dev["note"])

# ---- a new run -----------------------------------------------------------------------------------
with st.form("pt_form"):
    st.subheader("Start new runs")
    c = st.columns(3)
    corpus_kind = c[0].radio("Corpus", ["demo genome", "a FASTA file on this computer"], key="pt_corpus_kind")
    corpus_path = c[0].text_input("FASTA path (when not the demo genome)", key="pt_corpus_path")
    strategies = c[1].multiselect("Masking strategies (one run each)", list(STRATEGY_LABELS),
                                  default=["genemask", "dnabert"], key="pt_strategies")
    model = c[1].selectbox("Model size", ["tiny", "logo"], key="pt_model",
                           format_func={"tiny": "tiny (2 layers, 64 wide: minutes on a CPU)",
                                        "logo": "LOGO (2 layers, 256 wide: the paper's small model)"}.get)
    steps = c[2].number_input("Training steps", 10, 20_000, 200, step=50, key="pt_steps")
    batch = c[2].number_input("Sequences per step", 1, 256, 16, key="pt_batch")
    seed = c[2].number_input("Seed", 0, 10**6, 0, key="pt_seed")
    submitted = st.form_submit_button("Start in the background", type="primary")
if submitted:
    if not strategies:
        st.warning("Pick at least one masking strategy.")
    else:
        corpus = "demo" if corpus_kind == "demo genome" else corpus_path.strip()
        try:
            if not corpus:
                raise GeneMaskInputError("no FASTA path was given.", fix="type the path of a FASTA "
                                         "file on this computer, or choose the demo genome.")
            if corpus != "demo":
                from pathlib import Path
                if not Path(corpus).expanduser().is_file():
                    raise GeneMaskInputError("file not found.", source=corpus,
                                             fix="type the full path of a FASTA file on this computer.")
            started = [launch_run("pretrain", dict(corpus=corpus, strategy=s, model=model,
                                                   steps=int(steps), batch_size=int(batch),
                                                   seed=int(seed), logging_steps=max(1, int(steps) // 40),
                                                   n_val=32), root=root).name for s in strategies]
            st.success(f"Started {len(started)} run(s): {', '.join(started)}. They appear below.")
        except GeneMaskInputError as exc:
            st.error(str(exc))

# ---- live progress and comparison ---------------------------------------------------------------
runs = run_overview(root, "pretrain")
polling = len(active_runs(runs)) > 0


@st.fragment(run_every=timedelta(seconds=2) if polling else None)
def live():
    runs = run_overview(root, "pretrain")
    active = active_runs(runs)
    if not len(runs):
        st.info("No pretraining runs yet in this folder. Start one above.")
        return
    if len(active):
        st.subheader("Running and queued")
        for _, row in active.iterrows():
            left, right = st.columns([5, 1])
            left.progress(float(row["progress"]), text=progress_text(row))
            if right.button("Cancel", key=f"pt_cancel_{row['id']}"):
                from genemask_viz.training import cancel_run
                cancel_run(row["path"], timeout_s=10)
                st.rerun()
    elif polling:
        st.rerun()  # the last run just ended: refresh the whole page once
    for _, row in runs[runs["state"] == "failed"].head(3).iterrows():
        st.error(f"Run {row['id']} failed: {row['error']}. Check its settings (a missing FASTA, too "
                 f"little memory) and start it again; its log is in {row['path']}/log.txt.")
    st.subheader("Loss curves")
    ids = list(runs["id"])
    default = [i for i in ids if i in set(runs[runs["state"].isin(["done", "running"])]["id"])][:4]
    chosen = st.multiselect("Runs to overlay", ids, default=default, key="pt_compare",
                            format_func=lambda i: f"{i} ({runs.set_index('id').loc[i, 'strategy']})")
    if chosen:
        paths = runs.set_index("id").loc[chosen, "path"]
        metrics = run_metrics(paths)
        labels = {f"{i} · {runs.set_index('id').loc[i, 'strategy']}": m for i, m in metrics.items()}
        if any(len(m) for m in labels.values()):
            st.plotly_chart(loss_curves(labels), key="pt_loss")
            st.caption("Lower is better, but losses of *different strategies* are not directly "
                       "comparable: each strategy makes a different task (how many nucleotides are "
                       "hidden). Compare strategies by their few-shot results in the Few-shot Lab.")
        else:
            st.info("No losses logged yet; the first appear after a few steps.")
    st.subheader("All runs")
    cols = [c for c in ["id", "state", "strategy", "model", "step", "max_steps", "eval_loss",
                        "eval_accuracy", "created"] if c in runs]
    st.dataframe(runs[cols], hide_index=True, key="pt_runs")


live()
