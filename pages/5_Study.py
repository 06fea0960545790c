"""Study: equal-budget comparisons of masking strategies, launched and watched live."""

from datetime import timedelta
from pathlib import Path

import streamlit as st

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.study import PRESETS, load_study, preset_path
from genemask_viz.study.figures import forest_figure, metric_figure, pretraining_figure
from genemask_viz.study.runner import load_study_dir
from genemask_viz.study.view import launch_study, list_studies, report_tables, study_progress

st.set_page_config(page_title="Study", page_icon=":material/science:", layout="wide")
POLL = timedelta(seconds=3)

st.title("Study")
st.markdown("Does a masking strategy help few-shot learning? A **study** pretrains the same model "
            "with every strategy on the same budget, fine-tunes each on the same tasks, shots and "
            "seeds, and compares them **paired** against a reference, with intervals. It runs as "
            "ordinary background runs: close the page and it goes on; the command line "
            "(`genemask study run/status/report`) sees the same folders.")

with st.sidebar:
    st.header("Studies folder")
    if "study_root" not in st.session_state:
        st.session_state["study_root"] = "studies"
    root = Path(st.text_input("Where studies are kept", key="study_root")).expanduser()

# ---- launch ----------------------------------------------------------------------------------
st.subheader("Start a study")
c = st.columns([1, 2])
with c[0]:
    kind = st.radio("Study file", ["preset", "upload a .toml file"], key="study_kind")
    text, source = None, None
    if kind == "preset":
        source = st.selectbox("Preset", PRESETS, index=PRESETS.index("smoke") if "smoke" in PRESETS
                              else 0, key="study_preset")
        text = preset_path(source).read_text()
    else:
        up = st.file_uploader("Study file", type=["toml"], key="study_upload")
        if up is not None:
            source, text = up.name, up.getvalue().decode("utf-8", errors="replace")
    name = st.text_input("Study folder name", value=f"{source or 'study'}".removesuffix(".toml"),
                         key="study_name")
    jobs = st.number_input("Runs at a time", 1, 4, 1, key="study_jobs",
                           help="1 runs them one after another in one process (2 shared cores: "
                                "the fastest); more start background workers")
with c[1]:
    if text is not None:
        try:
            spec, _ = load_study(source, text=text)
            n_pre = len(spec.trained_strategies) * len(spec.pretrain_seeds)
            n_ft = len(spec.strategies) * len(spec.pretrain_seeds) * len(spec.tasks)
            st.caption(f"{spec.description} — {n_pre} pretraining runs, {n_ft} few-shot runs "
                       f"({n_ft * len(spec.shots) * spec.finetune_seeds} fine-tunes).")
        except GeneMaskInputError as exc:
            st.error(str(exc))
            spec = None
        with st.expander("Study file", expanded=False):
            st.code(text, language="toml")
        if spec is not None and st.button("Launch", type="primary", key="study_launch"):
            try:
                pid = launch_study(source, root / name, text=text, jobs=int(jobs))
                st.session_state["study_dir"] = str(root / name)
                st.success(f"Started (scheduler pid {pid}) in {root / name}.")
            except GeneMaskInputError as exc:
                st.error(str(exc))

# ---- watch -----------------------------------------------------------------------------------
st.subheader("Watch a study")
known = [str(p) for p in list_studies(root)]
current = st.session_state.get("study_dir")
options = known + ([current] if current and current not in known else [])
choice = st.selectbox("Study folder", options + ["another folder..."], key="study_pick") \
    if options else "another folder..."
if choice == "another folder...":
    choice = st.text_input("Study folder path (e.g. one run from the command line)",
                           key="study_path").strip()
if not choice:
    st.info("No study yet: launch one above, or type the folder of one run from the command line.")
    st.stop()
try:
    spec, plan = load_study_dir(choice)
except GeneMaskInputError as exc:
    st.error(str(exc))
    st.stop()


@st.fragment(run_every=POLL)
def live_grid(folder: str) -> None:
    prog = study_progress(folder)
    state = "a scheduler is working on it" if prog["scheduler_alive"] else "no scheduler running"
    st.progress(prog["fraction"], text=f"{prog['done']} of {prog['total']} runs done — {state}"
                + (f"; running: {', '.join(prog['running'])}" if prog["running"] else ""))
    st.dataframe(prog["grid"], hide_index=True, width="stretch")
    for f in prog["failed"]:
        st.warning(f"{f['name']}: {f['state']}: {f.get('error') or ''} — rerun the study to retry it.")


live_grid(choice)
b = st.columns(3)
if b[0].button("Resume / continue in the background", key="study_resume"):
    try:
        pid = launch_study(str(Path(choice) / "study.toml"), choice)
        st.success(f"Scheduler started (pid {pid}).")
    except GeneMaskInputError as exc:
        st.error(str(exc))
hidden = b[2].checkbox("with hidden-nucleotide accuracy", value=True, key="study_hidden",
                       help="scores every pretrained model under one common masking (slower)")
if b[1].button("Write / update the report", key="study_report"):
    from genemask_viz.study.report import write_report
    with st.spinner("Computing statistics and figures..."):
        try:
            path = write_report(choice, hidden=hidden)
            st.success(f"Wrote {path}")
        except GeneMaskInputError as exc:
            st.error(str(exc))

# ---- figures ---------------------------------------------------------------------------------
tables = report_tables(choice)
if tables["markdown"] is None:
    st.info("No report yet: press 'Write / update the report' (it covers the runs done so far).")
    st.stop()
st.subheader("Results")
metric = st.radio("Metric", spec.metrics, horizontal=True, key="study_metric")
if len(tables["cells"]):
    st.plotly_chart(metric_figure(tables["cells"], metric, spec.reference), key="study_fig_metric")
for key, title in (("paired", f"against {spec.reference}"), ("untrained", "against untrained")):
    if len(tables[key]) and (tables[key]["metric"] == metric).any():
        st.markdown(f"**Paired differences {title}**")
        st.plotly_chart(forest_figure(tables[key], metric), key=f"study_fig_{key}")
st.plotly_chart(pretraining_figure(choice, plan), key="study_fig_pretrain")
with st.expander("Pretrained models: validation loss and hidden-nucleotide accuracy"):
    st.dataframe(tables["pretraining"], hide_index=True)
with st.expander("The whole report (report.md)"):
    st.markdown(tables["markdown"])
