"""Pretraining Lab: small masked-language-model runs in the background, compared by their losses."""

from datetime import timedelta

import streamlit as st

from genemask_viz.app_logic import MAX_CONCURRENT_RUNS, device_summary, launch_run, run_overview
from genemask_viz.app_logic.estimates import pretrain_estimate, pretrain_verdict
from genemask_viz.app_logic.explorer import strategy_labels
from genemask_viz.app_logic.corpus_view import corpus_report, corpus_sentence
from genemask_viz.app_logic.lab_widgets import confirm_twin_launch, run_panel
from genemask_viz.app_logic.labs import follow_selection, run_metrics, runs_folder, same_launch
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import loss_curves

st.set_page_config(page_title="Pretraining Lab", page_icon=":material/model_training:", layout="wide")
POLL = timedelta(seconds=2)  # new and running runs appear and update by themselves


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

# ---- a new run: plain widgets and one button (no form: Enter in a field never starts runs) --------
st.subheader("Start new runs")
labels = strategy_labels()
c = st.columns(3)
corpus_kind = c[0].radio("Corpus", ["demo genome", "a FASTA file on this computer"], key="pt_corpus_kind")
corpus_path = c[0].text_input("FASTA path (when not the demo genome)", key="pt_corpus_path")
strategies = c[1].multiselect("Masking strategies (one run each)", list(labels),
                              default=[s for s in ("genemask", "dnabert") if s in labels],
                              key="pt_strategies", help="\n".join(f"- {v}" for v in labels.values()))
model = c[1].selectbox("Model size", ["tiny", "logo"], key="pt_model",
                       format_func={"tiny": "tiny (2 layers, 64 wide: minutes on a CPU)",
                                    "logo": "LOGO (2 layers, 256 wide: the paper's small model)"}.get)
steps = c[2].number_input("Training steps", 1, 20_000, 200, step=50, key="pt_steps")
batch = c[2].number_input("Sequences per step", 1, 256, 16, key="pt_batch")
seed = c[2].number_input("Seed", 0, 10**6, 0, key="pt_seed")
estimate = pretrain_estimate(root, model, int(steps), int(batch), max(1, len(strategies)),
                             MAX_CONCURRENT_RUNS)
st.caption(estimate["text"] + " The paper pretrains for 10,000 steps of 250 sequences; a few hundred "
           "small steps on a CPU usually leave the few-shot results at chance, which is expected.")


def launch_params() -> list[dict]:
    corpus = "demo" if corpus_kind == "demo genome" else corpus_path.strip()
    if not corpus:
        raise GeneMaskInputError("no FASTA path was given.", fix="type the path of a FASTA "
                                 "file on this computer, or choose the demo genome.")
    return [dict(corpus=corpus, strategy=s, model=model, steps=int(steps), batch_size=int(batch),
                 seed=int(seed), logging_steps=max(1, int(steps) // 40), n_val=32) for s in strategies]


def launch(params: list[dict]) -> None:
    started = [launch_run("pretrain", p, root=root).name for p in params]
    st.session_state["pt_started"] = started
    st.session_state.pop("pt_pending", None)


if st.button("Start in the background", type="primary", key="pt_start"):
    if not strategies:
        st.warning("Pick at least one masking strategy.")
    else:
        try:
            params = launch_params()
            twins = {p["strategy"]: same_launch("pretrain", p, root) for p in params}
            if any(twins.values()):
                st.session_state["pt_pending"] = {"params": params, "twins": twins}
            else:
                launch(params)
        except GeneMaskInputError as exc:
            st.error(str(exc))
pending = st.session_state.get("pt_pending")
if pending:
    same = "; ".join(f"{s}: {', '.join(ids)}" for s, ids in pending["twins"].items() if ids)
    confirm_twin_launch(st, "pt", f"Identical run(s) are already queued or running ({same}). "
                                  "Start another copy anyway?", launch)
started = st.session_state.pop("pt_started", None)  # said once, right after the launch
if started:
    st.success(f"Started {len(started)} run(s): {', '.join(started)}. They appear below.")


# ---- live progress and comparison (reruns by itself) ----------------------------------------------
@st.fragment(run_every=POLL)
def live():
    runs = run_overview(root, "pretrain")
    if not len(runs):
        st.info("No pretraining runs yet in this folder. Start one above.")
        return
    run_panel(st, root, runs, "pt", "Check its settings (a missing FASTA, too little memory) "
                                    "and start it again.")
    st.subheader("Loss curves")
    ids = list(runs["id"])
    by_id = runs.set_index("id")
    wanted = [i for i in ids if by_id.loc[i, "state"] in ("done", "running")][:4]
    follow_selection(st.session_state, "pt_compare", ids, wanted)
    chosen = st.multiselect("Runs to overlay", ids, key="pt_compare",
                            format_func=lambda i: f"{i} ({by_id.loc[i, 'strategy']})")
    if chosen:
        metrics = run_metrics(by_id.loc[chosen, "path"])
        named = {f"{i} · {by_id.loc[i, 'strategy']}": m for i, m in metrics.items()}
        if any(len(m) for m in named.values()):
            st.plotly_chart(loss_curves(named), key="pt_loss")
            st.caption("Lower is better, but losses of *different strategies* are not directly "
                       "comparable: each strategy makes a different task (how many nucleotides are "
                       "hidden). Compare strategies by their few-shot results in the Few-shot Lab.")
        else:
            st.info("No losses logged yet; the first appear after a few steps.")
        for i in chosen:
            row = by_id.loc[i]
            if row["state"] == "done":
                verdict = pretrain_verdict(row.get("eval_loss"), row.get("eval_accuracy"))
                if verdict:
                    st.caption(f"**{i}** ({row['strategy']}): {verdict}")
            report = corpus_report(row["path"])
            if report:
                scalars, table = report
                with st.expander(f"Corpus of {i}: what the model read"):
                    sentence = corpus_sentence(scalars)
                    if sentence:
                        st.markdown(sentence)
                    if table is not None:
                        st.dataframe(table, hide_index=True, key=f"pt_corpus_records_{i}")
                    st.dataframe({"setting": list(scalars), "value": [str(v) for v in scalars.values()]},
                                 hide_index=True, key=f"pt_corpus_{i}")
    st.subheader("All runs")
    cols = [c for c in ["id", "state", "strategy", "model", "step", "max_steps", "eval_loss",
                        "eval_accuracy", "created", "error"] if c in runs]
    st.dataframe(runs[cols].fillna({"error": ""}), hide_index=True, key="pt_runs")


live()
