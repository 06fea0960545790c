"""Few-shot Lab: fine-tune on a few examples per class, several seeds, and compare models."""

from datetime import timedelta
from pathlib import Path

import streamlit as st

from genemask_viz.app_logic import MAX_CONCURRENT_RUNS, benchmark_datasets, launch_run, run_overview
from genemask_viz.app_logic.inputs import fewshot_root
from genemask_viz.app_logic.labs import (active_runs, fewshot_lines, fewshot_results,
                                         finished_pretraining_runs, progress_text, runs_folder,
                                         save_upload)
from genemask_viz.errors import GeneMaskInputError
from genemask_viz.plots import fewshot_figure

st.set_page_config(page_title="Few-shot Lab", page_icon=":material/target:", layout="wide")
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

if st.button("Start in the background", type="primary", key="fs_start"):
    try:
        if not data:
            raise GeneMaskInputError("no data set was chosen.", fix="pick the demo task, a benchmark "
                                     "folder, or upload a labelled file.")
        if not model:
            raise GeneMaskInputError("no model was chosen.", fix="pick a fresh model, a finished "
                                     "pretraining run or a checkpoint folder.")
        if not shots:
            raise GeneMaskInputError("no shot count was chosen.", fix="pick e.g. 10 and 50.")
        run = launch_run("fewshot", dict(data=data, shots=sorted(shots), seeds=int(seeds), model=model,
                                         max_test=int(max_test)), root=root)
        st.success(f"Started {run.name}. Its progress appears below.")
    except GeneMaskInputError as exc:
        st.error(str(exc))

# ---- progress and results -----------------------------------------------------------------------
runs = run_overview(root, "fewshot")
polling = len(active_runs(runs)) > 0


@st.fragment(run_every=timedelta(seconds=2) if polling else None)
def live():
    runs = run_overview(root, "fewshot")
    active = active_runs(runs)
    if not len(runs):
        st.info("No few-shot runs yet in this folder. Start one above.")
        return
    if len(active):
        st.subheader("Running and queued")
        for _, row in active.iterrows():
            left, right = st.columns([5, 1])
            left.progress(float(row["progress"]), text=progress_text(row))
            if right.button("Cancel", key=f"fs_cancel_{row['id']}"):
                from genemask_viz.training import cancel_run
                cancel_run(row["path"], timeout_s=10)
                st.rerun()
    elif polling:
        st.rerun()
    for _, row in runs[runs["state"] == "failed"].head(3).iterrows():
        st.error(f"Run {row['id']} failed: {row['error']}. Fix the data or model choice and start it "
                 f"again; its log is in {row['path']}/log.txt.")
    st.subheader("Results")
    with_results = [r for r in runs["path"] if (Path(r) / "results.csv").exists()]
    if not with_results:
        st.info("Results appear here when a run has finished at least one setting.")
        return
    ids = [Path(p).name for p in with_results]
    chosen = st.multiselect("Runs to compare", ids, default=ids[:4], key="fs_compare")
    results = fewshot_results([p for p in with_results if Path(p).name in chosen])
    if not len(results):
        return
    metric = st.selectbox("Metric", list(METRIC_NAMES), key="fs_metric", format_func=METRIC_NAMES.get)
    lines, title = fewshot_lines(results)
    st.plotly_chart(fewshot_figure(lines, metric, group="line", legend_title=title), key="fs_plot")
    st.caption("Each point is the mean over seeds; bars show one standard deviation. Overlapping bars "
               "mean the difference may be chance.")
    keys = [c for c in ("dataset", "model", "shots") if c in results]
    table = results.groupby(keys)[list(METRIC_NAMES)].agg(["mean", "std", "count"]).round(3)
    table.columns = [f"{m} {s}" for m, s in table.columns]
    st.dataframe(table.reset_index(), hide_index=True, key="fs_table")
    st.download_button("Download all rows as CSV", results.to_csv(index=False).encode(),
                       file_name="fewshot_results.csv", mime="text/csv", key="fs_download")


live()
