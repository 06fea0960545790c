"""The labs' side of the run registry: launch with a concurrency limit, overview, device.

Long work never runs in a page script: :func:`launch_run` writes a run folder and
starts a background worker (:func:`genemask_viz.training.start_run`). At most
:data:`MAX_CONCURRENT_RUNS` runs of one runs folder train at a time; the others
wait as ``queued`` and start by themselves when a slot frees. Runs live in folders,
so the history survives a page reload and an app restart.
"""

from __future__ import annotations

import functools
import json
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


#: run parameters that name files or folders (resolved to absolute paths at submission)
PATH_PARAMS = {"pretrain": ("corpus", "table", "model"), "fewshot": ("data", "train", "test", "model")}
#: values of those parameters that are not paths
NOT_PATHS = {"demo", "", None}


def resolve_params(kind: str, params: dict) -> dict:
    """Path parameters made absolute and checked, so the background worker (which runs
    inside its run folder) reads exactly what the user named, and a bad path fails at
    submission with a message instead of later in the worker.

    ``corpus``/``table``/``train``/``test`` must be files, ``data`` a file or folder, and
    ``model`` a preset, a checkpoint / finished pretraining run folder or a Hub id
    (:func:`genemask_viz.training.models.resolve_model` checks its config and vocabulary).
    """
    out = dict(params)
    for name in PATH_PARAMS.get(kind, ()):
        value = out.get(name)
        if value in NOT_PATHS or (name == "model" and str(value) in _model_presets()):
            continue
        path = Path(str(value)).expanduser()
        if name == "model" and not path.exists():
            from ..training.models import resolve_model
            resolve_model(str(value))  # a Hugging Face Hub id, checked now; else a clear error
            continue
        if not path.exists():
            what = {"corpus": "FASTA file", "table": "n-gram table", "model": "model folder",
                    "data": "data set", "train": "training file", "test": "test file"}[name]
            raise GeneMaskInputError(f"{what} not found.", source=str(value),
                                     fix=("pick a preset model, a finished pretraining run or a "
                                          "checkpoint folder (config.json, weights, vocab.txt)."
                                          if name == "model" else
                                          "type the full path of a file on this computer."))
        path = path.resolve()
        if name == "model":
            from ..training.models import resolve_model
            resolve_model(path)  # raises GeneMaskInputError when it is not a usable model
        elif name != "data" and not path.is_file():
            raise GeneMaskInputError("is a folder, not a file.", source=str(value),
                                     fix="give the path of the file itself.")
        out[name] = str(path)
    return out


def _model_presets() -> set:
    from ..training.models import MODEL_PRESETS
    return set(MODEL_PRESETS)


def launch_run(kind: str, params: dict, root: str | os.PathLike | None = None,
               max_concurrent: int | None = None, start: bool = True) -> Path:
    """Create a run folder and start its background worker; return the folder.

    Paths in ``params`` are resolved and checked first (:func:`resolve_params`). The
    worker waits as ``queued`` while ``max_concurrent`` runs of ``root`` are running.
    ``start=False`` only writes the queued folder (start it later with
    :func:`genemask_viz.training.start_run`).
    """
    from ..training.registry import create_run, start_run
    params = _check_params(kind, resolve_params(kind, dict(params)))
    run = create_run(kind, params, root=runs_folder(root).resolve())
    if start:
        start_run(run, max_concurrent=max_concurrent or MAX_CONCURRENT_RUNS)
    return run


def same_launch(kind: str, params: dict, root: str | os.PathLike | None = None) -> list[str]:
    """Ids of queued or running runs of ``root`` with exactly these (resolved) settings:
    a launch identical to one of them is most likely a double click."""
    from ..training.registry import read_json
    try:
        wanted = _check_params(kind, resolve_params(kind, dict(params)))
    except GeneMaskInputError:
        return []  # launch_run will report it
    wanted = json.loads(json.dumps(wanted, default=str))
    runs = active_runs(run_overview(root, kind))
    out = []
    for _, row in runs.iterrows():
        cfg = read_json(Path(row["path"]) / "config.json", default={}) or {}
        if cfg.get("params") == wanted:
            out.append(row["id"])
    return out


def slot_holders(root: str | os.PathLike | None = None) -> list[str]:
    """Ids of the runs of ``root`` that are running now (they hold the training slots)."""
    from ..training.registry import list_runs
    runs = list_runs(runs_folder(root))
    return list(runs[runs["state"] == "running"]["id"]) if len(runs) else []


def run_overview(root: str | os.PathLike | None = None, kind: str | None = None) -> pd.DataFrame:
    """The runs of ``root`` (newest first) with a ``progress`` fraction, optionally of one kind.

    ``max_steps`` of a pretraining run that has not started yet is its planned step count
    (the worker fills in the real one when training begins); a few-shot run's total is
    known only once its data is drawn, so it stays empty (shown as blank, never "None")."""
    from ..training.registry import list_runs, read_json, run_progress
    runs = list_runs(runs_folder(root))
    if kind is not None and len(runs):
        runs = runs[runs["kind"] == kind].reset_index(drop=True)
    if len(runs):
        runs["progress"] = [run_progress(p)["fraction"] for p in runs["path"]]
        planned = []
        for row in runs.itertuples():
            value = row.max_steps
            if value is None or value != value:  # None or NaN
                params = (read_json(Path(row.path) / "config.json", default={}) or {}).get("params", {})
                value = params.get("steps") if row.kind == "pretrain" else None
            planned.append(value)
        runs["max_steps"] = pd.array(planned, dtype="Int64")
        runs["step"] = pd.array([None if v != v else v for v in runs["step"]], dtype="Int64")
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
        from ..training.pretrain import cpu_native_bf16
        wide = ("; 'logo' and wider models pretrain in bf16, which this CPU multiplies in hardware"
                if cpu_native_bf16() else "")
        note = ("No CUDA GPU was found, so training runs on the CPU (fp32" + wide + "). Keep to "
                "the 'tiny' model and a few hundred steps.")
    return {**info, "note": note}


def progress_text(row, holders: list[str] | None = None) -> str:
    """One line for a progress bar: state, step, loss, time left; a queued run says which
    run(s) hold the training slot(s) it waits for (``holders``, else looked up)."""
    from ..training.registry import run_progress
    p = run_progress(row["path"])
    parts = [f"{row['id']}: {p['state']}"]
    total = p["max_steps"]
    planned = row.get("max_steps")
    if not total and planned is not None and not pd.isna(planned):
        total = int(planned)  # a queued pretraining run: its planned steps
    if total:
        parts.append(f"step {p['step']}/{total}")
    if p["loss"] is not None:
        parts.append(f"loss {p['loss']:.3f}")
    if p["eta"]:
        parts.append(f"about {_duration(p['eta'])} left")
    if p["state"] == "queued":
        if holders is None:
            holders = slot_holders(Path(row["path"]).parent)
        holders = [h for h in holders if h != row["id"]]
        if holders:
            parts.append("waiting for a free slot: " + ", ".join(holders) + " is training")
        else:
            parts.append("starting" if p.get("message") in (None, "waiting for a free slot")
                         else p["message"])
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min``, ``1 h 5 min``."""
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def error_text(row) -> str:
    """A failed run's error as one sentence (no doubled full stop before 'Fix:')."""
    err = str(row.get("error") or "unknown error").strip()
    err = err.removeprefix("GeneMaskInputError: ")
    return err.replace(".. Fix", ". Fix").rstrip(".")


def follow_selection(state, key: str, ids: list[str], wanted: list[str]) -> list[str]:
    """Keep a multiselect's value (``state[key]``) in step with runs that come and go.

    Runs in ``wanted`` that this session has not seen before are added (a run that
    has just started or finished shows up without a click); runs the user removed stay
    removed; ids no longer offered are dropped. ``state`` is ``st.session_state`` (any
    dict-like); returns the new value, also stored in ``state[key]``."""
    seen_key = f"{key}__seen"
    seen = set(state.get(seen_key, ()))
    current = [i for i in state.get(key, []) if i in ids] if key in state else []
    new = [i for i in wanted if i not in seen and i not in current]
    value = current + new
    state[seen_key] = sorted(seen | set(wanted))
    state[key] = value
    return value


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
    if "model" in results:  # run names, not absolute checkpoint paths
        results = results.assign(model=results["model"].map(model_label))
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


def recent_failures(runs: pd.DataFrame, dismissed=(), max_age_s: float = 3600.0) -> pd.DataFrame:
    """Failed runs worth a message on top of a lab page: not dismissed by the user and
    finished (or last updated) less than ``max_age_s`` ago. Older failures stay listed,
    with their error, in the runs table only."""
    import datetime as dt
    from ..training.registry import read_json
    if not len(runs):
        return runs
    failed = runs[(runs["state"] == "failed") & ~runs["id"].isin(list(dismissed))]
    keep = []
    now = dt.datetime.now()
    for row in failed.itertuples():
        status = read_json(Path(row.path) / "status.json", default={}) or {}
        when = status.get("finished") or status.get("updated")
        try:
            age = (now - dt.datetime.fromisoformat(when)).total_seconds()
        except (TypeError, ValueError):
            age = 0.0  # died without a timestamp (killed): show it
        keep.append(age <= max_age_s)
    return failed[keep] if len(failed) else failed


def model_label(model) -> str:
    """How a few-shot model is named in legends: a preset as itself, a pretraining run or
    checkpoint folder by its run name (``.../RUN/model`` -> ``RUN``), never a full path."""
    text = str(model)
    if "/" not in text and "\\" not in text:
        return text
    path = Path(text)
    return path.parent.name if path.name == "model" and path.parent.name else path.name
