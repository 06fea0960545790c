"""Few-shot Lab: fine-tune on a few examples per class, several seeds, and compare models."""

from datetime import timedelta
from pathlib import Path

import streamlit as st

from genemask_viz.app_logic import MAX_CONCURRENT_RUNS, benchmark_datasets, launch_run, run_overview
from genemask_viz.app_logic.inputs import fewshot_root
from genemask_viz.app_logic.estimates import (chance_message, chance_verdicts, fewshot_estimate,
                                              results_table)
from genemask_viz.app_logic.lab_widgets import confirm_twin_launch, run_panel
from genemask_viz.app_logic.labs import (fewshot_lines, fewshot_results, finished_pretraining_runs,
                                         follow_selection, model_label, runs_folder, same_launch,
                                         save_upload)
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import fewshot_figure

st.set_page_config(page_title="Few-shot Lab", page_icon=":material/target:", layout="wide")
POLL = timedelta(seconds=2)  # new and running runs appear and update by themselves
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "mcc": "MCC (Matthews correlation)",
                "auroc": "AUROC"}

st.title("Few-shot Lab")
st.markdown("The paper's test of a pretrained model: fine-tune it on only **10 to 1000 labelled "
            "examples per class** and measure how well it classifies unseen sequences. Every setting "
            "is repeated with several random **seeds** (different examples drawn); the spread between "
            "seeds is shown as error bars.")

with st.sidebar:
    st.header("Runs folder")
    if "lab_runs_dir" not in st.session_state:
        st.session_state["lab_runs_dir"] = str(runs_folder())
    root = st.text_input("Where runs are kept", key="lab_runs_dir")
    st.caption(f"At most {MAX_CONCURRENT_RUNS} run(s) train at a time; more wait in a queue.")

# ---- a new run -------------------------------------------------------------------------------
st.subheader("Start a few-shot run")
c = st.columns(3)
with c[0]:
    data_kind = st.radio("Data set", ["demo task", "benchmark folder", "upload a labelled file"],
                         key="fs_data_kind",
                         captions=["planted motif vs background, 70 nt", "../shared/data or a folder you name",
                                   "TSV/CSV with sequence and label"])
    data = "demo"
    try:
        if data_kind == "benchmark folder":
            sets = benchmark_datasets()
            name = st.selectbox("Benchmark", sorted(sets) + ["another folder..."], key="fs_dataset")
            if name == "another folder...":
                data = st.text_input("Folder path", key="fs_folder").strip() or None
            else:
                data = str(fewshot_root() / name)
            if not sets:
                st.info("The shared benchmarks (../shared/data/genemask/fewshot) are not present; "
                        "type a folder path instead.")
        elif data_kind == "upload a labelled file":
            up = st.file_uploader("Labelled file (at most 50 MB)", type=["tsv", "csv", "txt"], key="fs_upload")
            data = str(save_upload(root, up.name, up.getvalue())) if up is not None else None
    except GeneMaskInputError as exc:
        st.error(str(exc))
        data = None
with c[1]:
    model_kind = st.radio("Model", ["fresh tiny model", "fresh LOGO model", "a finished pretraining run",
                                    "a checkpoint folder"], key="fs_model_kind")
    model = {"fresh tiny model": "tiny", "fresh LOGO model": "logo"}.get(model_kind)
    if model_kind == "a finished pretraining run":
        pretrained = finished_pretraining_runs(root)
        if pretrained:
            model = st.selectbox("Pretraining run", pretrained, key="fs_pretrained",
                                 format_func=lambda p: Path(p).name)
            st.caption("Its path is resolved and the model checked when you press Start.")
        else:
            st.info("No finished pretraining run yet: start one in the Pretraining Lab.")
    elif model_kind == "a checkpoint folder":
        model = st.text_input("Folder with config.json, weights and vocab.txt", key="fs_checkpoint").strip() or None
with c[2]:
    shots = st.multiselect("Examples per class (shots)", [10, 50, 100, 500, 1000], default=[10, 50],
                           key="fs_shots")
    seeds = st.number_input("Seeds per setting", 1, 10, 3, key="fs_seeds")
    max_test = st.number_input("Test sequences at most (quick look)", 50, 100_000, 500, step=50,
                               key="fs_max_test")

estimate = None
if model and shots:
    try:
        n_test = 400 if data == "demo" else None
        estimate = fewshot_estimate(root, model, sorted(shots), int(seeds), int(max_test), n_test=n_test)
    except (GeneMaskInputError, OSError, ValueError):
        estimate = None
if estimate:
    st.caption(estimate["text"] + " Results of a fresh or briefly pretrained small model are often "
               "at chance; the page says so when they are.")


def fewshot_params() -> dict:
    if not data:
        raise GeneMaskInputError("no data set was chosen.", fix="pick the demo task, a benchmark "
                                 "folder, or upload a labelled file.")
    if not model:
        raise GeneMaskInputError("no model was chosen.", fix="pick a fresh model, a finished "
                                 "pretraining run or a checkpoint folder.")
    if not shots:
        raise GeneMaskInputError("no shot count was chosen.", fix="pick e.g. 10 and 50.")
    return dict(data=data, shots=sorted(shots), seeds=int(seeds), model=model, max_test=int(max_test))


def launch(params: dict) -> None:
    # paths (the model, the data) are resolved and the model checked before anything is queued
    run = launch_run("fewshot", params, root=root)
    st.session_state["fs_started"] = run.name
    st.session_state.pop("fs_pending", None)


if st.button("Start in the background", type="primary", key="fs_start"):
    try:
        params = fewshot_params()
        twins = same_launch("fewshot", params, root)
        if twins:
            st.session_state["fs_pending"] = {"params": params, "twins": twins}
        else:
            launch(params)
    except GeneMaskInputError as exc:
        st.error(str(exc))
pending = st.session_state.get("fs_pending")
if pending:
    confirm_twin_launch(st, "fs", f"An identical run is already queued or running "
                                  f"({', '.join(pending['twins'])}). Start another copy anyway?", launch)
started = st.session_state.pop("fs_started", None)  # said once, right after the launch
if started:
    st.success(f"Started {started}. Its progress appears below.")


# ---- progress and results (reruns by itself) -----------------------------------------------------
@st.fragment(run_every=POLL)
def live():
    runs = run_overview(root, "fewshot")
    if not len(runs):
        st.info("No few-shot runs yet in this folder. Start one above.")
        return
    run_panel(st, root, runs, "fs", "Change the data or model choice and start it again.")
    st.subheader("Results")
    with_results = [r for r in runs["path"] if (Path(r) / "results.csv").exists()]
    if not with_results:
        st.info("Results appear here when a run has finished at least one setting.")
    else:
        ids = [Path(p).name for p in with_results]
        follow_selection(st.session_state, "fs_compare", ids, ids[:4])
        chosen = st.multiselect("Runs to compare", ids, key="fs_compare")
        results = fewshot_results([p for p in with_results if Path(p).name in chosen])
        if len(results):
            metric = st.selectbox("Metric", list(METRIC_NAMES), key="fs_metric",
                                  format_func=METRIC_NAMES.get)
            lines, title = fewshot_lines(results)
            st.plotly_chart(fewshot_figure(lines, metric, group="line", legend_title=title), key="fs_plot")
            st.caption("Each point is the mean over seeds; bars show one standard deviation; the dotted "
                       "line is chance. Overlapping bars mean the difference may be chance.")
            verdicts = chance_verdicts(lines, group="line")
            message = chance_message(verdicts, group="line")
            if message:
                st.warning(message)
            elif len(verdicts) and (verdicts["verdict"] == "above chance").all():
                st.success("Every setting shown is above chance (AUROC 95% interval over seeds above 0.5).")
            table = results_table(lines, verdicts, list(METRIC_NAMES)).rename(columns={"line": title})
            st.dataframe(table, hide_index=True, key="fs_table")
            st.download_button("Download all rows as CSV", results.to_csv(index=False).encode(),
                               file_name="fewshot_results.csv", mime="text/csv", key="fs_download")
    st.subheader("All runs")
    cols = [c for c in ["id", "state", "model", "data", "step", "max_steps", "accuracy_mean",
                        "auroc_mean", "created", "error"] if c in runs]
    shown = runs[cols].fillna({"error": ""})
    if "model" in shown:
        shown["model"] = shown["model"].map(lambda m: model_label(m) if isinstance(m, str) else m)
    st.dataframe(shown, hide_index=True, key="fs_runs")


live()
st.caption("See the [Model View](/Model_View) page: which bases a kept fine-tuned model relies on, beside JASPAR motifs.")
