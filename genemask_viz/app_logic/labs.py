"""The labs' side of the run registry: launch with a concurrency limit, overview, device.

Long work never runs in a page script: :func:`launch_run` writes a run folder and
starts a background worker (:func:`genemask_viz.training.start_run`). At most
:data:`MAX_CONCURRENT_RUNS` runs of one runs folder train at a time; the others
wait as ``queued`` and start by themselves when a slot frees. Runs live in folders,
so the history survives a page reload and an app restart.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..errors import GeneMaskInputError
from .inputs import MAX_UPLOAD_BYTES

#: concurrent background runs per runs folder (``$GENEMASK_MAX_RUNS``; 2 shared cores: 1)
MAX_CONCURRENT_RUNS = max(1, int(os.environ.get("GENEMASK_MAX_RUNS", "1") or 1))
#: the steps a lab run may ask for (a teaching app, not a cluster)
MAX_LAB_STEPS = 20_000


def runs_folder(override: str | os.PathLike | None = None) -> Path:
    """Where runs live: ``override``, else ``$GENEMASK_RUNS``, else ``./runs``."""
    from ..training.registry import runs_root
    return runs_root(override)


def _check_params(kind: str, params: dict) -> dict:
    """Build the run's config dataclass, so bad settings fail here and not in the worker."""
    if kind == "pretrain":
        from ..training.pretrain import PretrainConfig
        if int(params.get("steps", 1)) > MAX_LAB_STEPS:
            raise GeneMaskInputError(f"{params['steps']} steps is more than the lab's "
                                     f"{MAX_LAB_STEPS}.", fix="use the command line "
                                     "(genemask pretrain) for long runs.")
        return asdict(PretrainConfig(**params))
    if kind == "fewshot":
        from ..training.fewshot import FewShotConfig
        return asdict(FewShotConfig(**params))
    raise GeneMaskInputError(f"unknown run kind {kind!r}.", fix="use 'pretrain' or 'fewshot'.")


def launch_run(kind: str, params: dict, root: str | os.PathLike | None = None,
               max_concurrent: int | None = None, start: bool = True) -> Path:
    """Create a run folder and start its background worker; return the folder.

    The worker waits as ``queued`` while ``max_concurrent`` runs of ``root`` are
    running. ``start=False`` only writes the queued folder (start it later with
    :func:`genemask_viz.training.start_run`).
    """
    from ..training.registry import create_run, start_run
    params = _check_params(kind, dict(params))
    run = create_run(kind, params, root=runs_folder(root))
    if start:
        start_run(run, max_concurrent=max_concurrent or MAX_CONCURRENT_RUNS)
    return run


def run_overview(root: str | os.PathLike | None = None, kind: str | None = None) -> pd.DataFrame:
    """The runs of ``root`` (newest first) with a ``progress`` fraction, optionally of one kind."""
    from ..training.registry import list_runs, run_progress
    runs = list_runs(runs_folder(root))
    if kind is not None and len(runs):
        runs = runs[runs["kind"] == kind].reset_index(drop=True)
    if len(runs):
        runs["progress"] = [run_progress(p)["fraction"] for p in runs["path"]]
    else:
        runs["progress"] = pd.Series(dtype=float)
    return runs


def active_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`run_overview` that are queued or running."""
    if not len(runs):
        return runs
    return runs[runs["state"].isin(["queued", "running"])]


@functools.lru_cache(maxsize=1)
def device_summary() -> dict:
    """Which device training would use: ``{"device", "cuda", "bf16", "note"}``.

    Uses the trainer's own rule (:func:`genemask_viz.training.device_info`); falls
    back to a description when torch cannot be imported.
    """
    try:
        from ..training.pretrain import device_info
        info = device_info("auto")
    except Exception as exc:  # torch missing or broken: say so instead of failing
        return {"device": "unknown", "cuda": False, "bf16": False,
                "note": f"could not query torch ({type(exc).__name__}); training would fail."}
    if info["cuda"]:
        note = f"training runs on the GPU {info['device']}" + (" in bf16." if info["bf16"] else ".")
    else:
        note = ("No CUDA GPU was found, so training runs on the CPU (fp32): keep to the 'tiny' "
                "model and a few hundred steps.")
    return {**info, "note": note}


def progress_text(row) -> str:
    """One line for a progress bar: state, step, loss, time left."""
    from ..training.registry import run_progress
    p = run_progress(row["path"])
    parts = [f"{row['id']}: {p['state']}"]
    if p["max_steps"]:
        parts.append(f"step {p['step']}/{p['max_steps']}")
    if p["loss"] is not None:
        parts.append(f"loss {p['loss']:.3f}")
    if p["eta"]:
        parts.append(f"about {p['eta']:.0f} s left")
    if p["state"] == "queued":
        parts.append("waiting for a free slot" if p.get("message") is None else p["message"])
    return ", ".join(parts)


def run_metrics(paths) -> dict[str, pd.DataFrame]:
    """``{run id: metrics.jsonl as a DataFrame}`` for run folders."""
    from ..training.registry import read_metrics
    return {Path(p).name: read_metrics(p) for p in paths}


def fewshot_results(paths) -> pd.DataFrame:
    """The ``results.csv`` rows of finished few-shot runs, with a ``run`` column."""
    frames = []
    for p in paths:
        f = Path(p) / "results.csv"
        if f.exists() and f.stat().st_size:
            try:
                frame = pd.read_csv(f)
            except pd.errors.EmptyDataError:
                continue
            frames.append(frame.assign(run=Path(p).name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def fewshot_lines(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """One plotted line per (dataset, model), so no line averages runs on different datasets.

    Returns ``results`` with a ``line`` column (the legend label) and the legend title.
    Labels are ``model`` when all rows share one dataset, else ``model on dataset``; when
    every row has the same dataset and model but several runs are compared, one line per run.
    """
    keys = [c for c in ("dataset", "model") if c in results]
    pairs = results[keys].drop_duplicates() if keys else pd.DataFrame()
    if len(pairs) <= 1 and "run" in results and results["run"].nunique() > 1:
        return results.assign(line=results["run"].astype(str)), "run"
    if "dataset" in results and results["dataset"].nunique() > 1:
        if "model" in results:
            line = results["model"].astype(str) + " on " + results["dataset"].astype(str)
            return results.assign(line=line), "model on dataset"
        return results.assign(line=results["dataset"].astype(str)), "dataset"
    if "model" in results:
        return results.assign(line=results["model"].astype(str)), "model"
    return results.assign(line="all"), "runs"


def save_upload(root: str | os.PathLike | None, name: str, data: bytes,
                max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Keep an uploaded data file under ``RUNS/uploads/`` so a background run can read it;
    it is parsed first, so a bad file fails here with a message."""
    from ..sequences import read_labelled
    import hashlib
    if len(data) > max_bytes:
        raise GeneMaskInputError(f"the file is {len(data) / 2**20:.1f} MB, over the "
                                 f"{max_bytes / 2**20:.0f} MB limit.", source=name,
                                 fix="upload a smaller labelled TSV/CSV.")
    folder = runs_folder(root) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name) or "upload.tsv"
    path = folder / f"{hashlib.sha1(data).hexdigest()[:8]}-{safe}"
    path.write_bytes(data)
    try:
        table = read_labelled(path)
    except GeneMaskInputError as exc:
        path.unlink(missing_ok=True)
        raise GeneMaskInputError(exc.problem, source=name, line=exc.line, fix=exc.fix) from None
    if table["label"].nunique() < 2:
        path.unlink(missing_ok=True)
        raise GeneMaskInputError("the file has only one class.", source=name,
                                 fix="a classification task needs at least two labels.")
    return path


def finished_pretraining_runs(root: str | os.PathLike | None = None) -> list[str]:
    """Paths of done pretraining runs that saved a model (usable as few-shot models)."""
    runs = run_overview(root, "pretrain")
    if not len(runs):
        return []
    done = runs[runs["state"] == "done"]
    return [p for p in done["path"] if (Path(p) / "model" / "config.json").exists()]
