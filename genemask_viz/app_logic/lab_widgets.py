"""Widgets both labs draw the same way: the "start a twin anyway?" question and the panel of
running, queued and failed runs.

The library never imports Streamlit: each function takes the ``st`` module (or a container)
from the page that calls it. ``prefix`` keeps the widget keys and session entries of the two
labs apart (``pt`` / ``fs``).
"""

from __future__ import annotations

from ..errors import GeneMaskInputError
from .labs import active_runs, error_text, progress_text, recent_failures, slot_holders


def confirm_twin_launch(st, prefix: str, message: str, launch) -> None:
    """Ask whether to start a run identical to one already queued or running.

    The page stores ``{"params": ..., "twins": ...}`` under ``f"{prefix}_pending"`` when a
    launch has twins; this shows ``message`` with "Start anyway" (calls ``launch(params)``)
    and "Don't start" (forgets it). An error of the launch is shown, and nothing is kept.
    """
    key = f"{prefix}_pending"
    pending = st.session_state.get(key)
    if not pending:
        return
    st.warning(message)
    yes, no = st.columns([1, 5])
    if yes.button("Start anyway", key=f"{prefix}_confirm"):
        try:
            launch(pending["params"])
        except GeneMaskInputError as exc:
            st.session_state.pop(key, None)
            st.error(str(exc))
        st.rerun()
    if no.button("Don't start", key=f"{prefix}_decline"):
        st.session_state.pop(key, None)
        st.rerun()


def run_panel(st, root, runs, prefix: str, failure_hint: str) -> None:
    """Progress bars (with Cancel) of the active runs, then the recent failures (with Dismiss).

    ``failure_hint`` follows "Run ID failed: WHY." and precedes the log's path.
    """
    active = active_runs(runs)
    if len(active):
        st.subheader("Running and queued")
        holders = slot_holders(root)
        for _, row in active.iterrows():
            left, right = st.columns([5, 1])
            left.progress(float(row["progress"]), text=progress_text(row, holders))
            if right.button("Cancel", key=f"{prefix}_cancel_{row['id']}"):
                from ..training import cancel_run
                cancel_run(row["path"], timeout_s=10)
                st.rerun()
    dismissed = st.session_state.setdefault(f"{prefix}_dismissed", [])
    for _, row in recent_failures(runs, dismissed).head(3).iterrows():
        left, right = st.columns([5, 1])
        left.error(f"Run {row['id']} failed: {error_text(row)}. {failure_hint} Its log is "
                   f"{row['path']}/log.txt.")
        if right.button("Dismiss", key=f"{prefix}_dismiss_{row['id']}"):
            dismissed.append(row["id"])
            st.rerun()
