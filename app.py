"""GeneMask explorer: the entry point (``streamlit run app.py``).

Navigation is ``st.navigation``: this file holds the home page and lists the pages in
``pages/`` (each page file also runs on its own, which is how the tests load them).
"""

import streamlit as st

from genemask_viz.app_logic import device_summary
from genemask_viz.data import LICENSE, DataError
from genemask_viz.data import fetch as fetch_data
from genemask_viz.data import status as data_status
from genemask_viz.app_logic.warm import start_warmup
from genemask_viz.plots import overlap_schematic
from genemask_viz.sequences import DEMO_MOTIFS

#: url path -> (page file, title, icon)
PAGES = {
    "mask-explorer": ("pages/1_Mask_Explorer.py", "Mask Explorer", ":material/search:"),
    "pmi-motifs": ("pages/2_PMI_k-mers_and_motifs.py", "PMI k-mers and motifs", ":material/bar_chart:"),
    "pretraining-lab": ("pages/3_Pretraining_Lab.py", "Pretraining Lab", ":material/model_training:"),
    "few-shot-lab": ("pages/4_Few-shot_Lab.py", "Few-shot Lab", ":material/target:"),
    "study": ("pages/5_Study.py", "Study", ":material/science:"),
    "model-view": ("pages/6_Model_View.py", "Model View", ":material/visibility:"),
}
BLURBS = {
    "mask-explorer": "See which tokens and nucleotides each masking strategy hides on a sequence.",
    "pmi-motifs": "Rank k-mers by PMI and compare the top ones with known JASPAR motifs.",
    "pretraining-lab": "Pretrain a small model in the background with different strategies; compare losses.",
    "few-shot-lab": "Fine-tune on 10 to 1000 examples per class and compare models with error bars.",
    "study": "Run an equal-budget study of strategies x tasks x seeds and read paired statistics.",
    "model-view": "See a model's guesses under the mask and which bases a fine-tuned model relies on.",
}


@st.cache_resource(max_entries=1)
def training_device() -> dict:
    return device_summary()


def data_section():
    """Which of the release's data sets are on this machine; a button fetches the missing ones."""
    rows = data_status()
    missing = [r["name"] for r in rows if not r["present"]]
    if len(missing) == len(rows):
        st.info("No real data sets found (in $GENEMASK_DATA, the user cache, or the shared data folder "
                "`../shared/data`). Everything works on the demo genome; the GeneMask release's hg38 "
                "ranking and few-shot benchmarks (16 MB) come with the button below or "
                "`genemask data fetch`.")
    else:
        st.success(f"{len(rows) - len(missing)} of {len(rows)} data sets present.")
    st.dataframe([{"data set": r["name"], "present": "yes" if r["present"] else "no",
                   "where": r["where"] or "-", "MB": r["size_mb"], "what": r["description"]} for r in rows],
                 hide_index=True)
    if missing and st.button(f"Fetch {', '.join(missing)}", key="home_fetch_data"):
        bar = st.progress(0.0, text="Connecting...")
        try:
            fetch_data(missing, show_progress=False, progress=lambda done, total, text: bar.progress(
                min(done / max(total, 1), 1.0), text=f"{text} ({done / 1e6:.1f} of {total / 1e6:.1f} MB)"))
        except DataError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    st.caption(f"License: {LICENSE}. Command line: `genemask data ls | fetch | verify | path NAME`.")


def home():
    st.title("GeneMask explorer")
    st.markdown(
        "DNA language models such as **DNABERT** read a sequence as overlapping *k*-mers "
        "(for k = 6: `GATTAC`, `ATTACA`, `TTACAG`, ...) and learn by guessing **masked** tokens. "
        "Because neighbouring k-mers overlap, a masked token can be copied back from its "
        "neighbours unless they are masked too. **GeneMask** (Roy et al., ECAI 2023) masks whole "
        "spans and centres them on the k-mer with the highest **PMI** score nearby: k-mers whose "
        "letters occur together far more often than chance, which tend to resemble transcription-"
        "factor motifs. The paper reports better few-shot classification after much shorter pretraining.")
    st.plotly_chart(overlap_schematic(), key="home_schematic", config={"displayModeBar": False})
    st.caption("Each grey or coloured bar is one 6-mer token under the sequence; coloured bars are masked. "
               "A nucleotide is **hidden** (red) only when every token that covers it is masked. Masking "
               "one token hides nothing; DNABERT's 6-token span hides 1 nucleotide; GeneMask's 11-token "
               "span around the chosen k-mer hides all 6 of its nucleotides.")

    st.header("What you can do here")
    cols = st.columns(3)
    for i, (key, text) in enumerate(BLURBS.items()):
        col = cols[i % 3]
        path, label, icon = PAGES[key]
        with col:
            st.page_link(path, label=label, icon=icon)
            st.caption(text)

    st.header("Data")
    left, right = st.columns(2)
    with left:
        st.subheader("Demo genome (default everywhere)")
        st.markdown(
            "A synthetic genome generated on this machine (nothing is downloaded): 4 records of "
            "500 kbp with human-like base composition, tandem repeats, a few N gaps and 600 planted "
            "sites of each of " + ", ".join(f"**{n}**" for n in DEMO_MOTIFS.values()) +
            " (JASPAR motifs), so every answer can be checked against the truth. Its PMI table "
            "is computed in about a second on first use.")
    with right:
        st.subheader("GeneMask release data")
        data_section()

    st.header("Training device")
    with st.spinner("Checking for a GPU..."):
        dev = training_device()
    if dev.get("cuda"):
        st.success(f"Training would use the GPU **{dev['device']}**" + (" (bf16)." if dev.get("bf16") else "."))
    else:
        st.info(f"Training would use the **CPU**. {dev['note']}")
    st.caption("The app listens on this computer only (localhost) and reads only files you upload "
               "or folders you name.")


st.set_page_config(page_title="GeneMask explorer", page_icon=":material/genetics:", layout="wide")
# the demo genome, its PMI table and the compiled masking kernels are built once per server, in a
# background thread started by the first script run, so the Mask Explorer opens on warm caches
start_warmup()
navigation = st.navigation(
    [st.Page(home, title="Home", icon=":material/home:", default=True)]
    + [st.Page(path, title=title, icon=icon, url_path=key) for key, (path, title, icon) in PAGES.items()])
navigation.run()
