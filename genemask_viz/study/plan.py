"""The grid of a study: which registry runs it is made of, and their states.

Study folder layout::

    DIR/study.toml         the study file as given
    DIR/study.json         the parsed study (a rerun must match it)
    DIR/plan.json          one entry per run: name, kind, strategy, seeds, task, params, needs
    DIR/runs/<name>/       ordinary registry runs (pretraining ``pt-*``, few-shot ``ft-*``)
    DIR/init/none-s<S>/    untrained models for strategy ``none`` (the same architecture,
                           weights initialised with the pretraining seed S; nothing trained)
    DIR/scheduler.json     the scheduler process that works on the study (pid, state)
    DIR/report/            written by ``genemask study report``

A pretraining run is ``PretrainConfig(**pretrain, **overrides[strategy], strategy, seed)``;
a few-shot run fine-tunes one pretrained (or untrained) model on one task for every shot
count and fine-tuning seed (``FewShotConfig(shots, seeds)``). The units a comparison is
paired over are (pretraining seed, fine-tuning seed); the fine-tuning seed also picks the
shot draw (see :func:`genemask_viz.training.tasks.draw_shots`).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path

from ..errors import GeneMaskInputError
from .spec import NONE, StudySpec

__all__ = ["build_plan", "run_dir", "init_dir", "ensure_untrained", "study_grid", "plan_states",
           "RUNS", "slug"]

RUNS = "runs"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_") or "task"


def run_dir(study_dir: str | os.PathLike, name: str) -> Path:
    return Path(study_dir).resolve() / RUNS / name


def init_dir(study_dir: str | os.PathLike, seed: int) -> Path:
    return Path(study_dir).resolve() / "init" / f"{NONE}-s{seed}"


def pretrain_name(strategy: str, seed: int) -> str:
    return f"pt-{strategy}-s{seed}"


def build_plan(spec: StudySpec, study_dir: str | os.PathLike) -> list[dict]:
    """Every run of the study, pretraining first, with the registry parameters of each."""
    from ..training.fewshot import FewShotConfig
    from ..training.pretrain import PretrainConfig
    study_dir = Path(study_dir).resolve()
    plan = []
    for strategy in spec.trained_strategies:
        for seed in spec.pretrain_seeds:
            cfg = PretrainConfig(**{**spec.pretrain, **spec.overrides.get(strategy, {}),
                                    "strategy": strategy, "seed": seed})
            plan.append({"name": pretrain_name(strategy, seed), "kind": "pretrain",
                         "strategy": strategy, "pretrain_seed": seed, "task": None,
                         "params": asdict(cfg), "needs": None})
    for task in spec.tasks:
        for strategy in spec.strategies:
            for seed in spec.pretrain_seeds:
                if strategy == NONE:
                    model, needs = str(init_dir(study_dir, seed)), None
                else:
                    needs = pretrain_name(strategy, seed)
                    model = str(run_dir(study_dir, needs))
                cfg = FewShotConfig(**spec.finetune, data=task.data, train=task.train,
                                    test=task.test, model=model, shots=spec.shots,
                                    seeds=spec.finetune_seeds)
                plan.append({"name": f"ft-{slug(task.name)}-{strategy}-s{seed}", "kind": "fewshot",
                             "strategy": strategy, "pretrain_seed": seed, "task": task.name,
                             "params": asdict(cfg), "needs": needs})
    return plan


def ensure_untrained(spec: StudySpec, study_dir: str | os.PathLike, seed: int) -> Path:
    """The untrained model of strategy ``none`` for pretraining seed ``seed`` (written once,
    atomically: a half-written folder is never taken for a model)."""
    import shutil
    import tempfile

    import torch
    from transformers import BertConfig, BertForMaskedLM

    from ..training.models import load_tokenizer, model_config, resolve_model, save_model
    out = init_dir(study_dir, seed)
    if (out / "model.safetensors").exists():
        return out
    source = resolve_model(spec.pretrain.get("model", "tiny"), k=int(spec.pretrain.get("k", 6)))
    config = (model_config(source.preset, source.k) if source.preset
              else BertConfig.from_pretrained(source.path))
    torch.manual_seed(seed)
    model = BertForMaskedLM(config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".none-", dir=out.parent))
    save_model(model, load_tokenizer(source), tmp,
               {"kind": "untrained", "base_model": source.label, "seed": seed,
                "note": "weights as initialised; no pretraining step was taken"})
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def _state(study_dir: Path, entry: dict) -> dict:
    from ..training.registry import run_progress
    d = run_dir(study_dir, entry["name"])
    if not (d / "config.json").exists():
        return {"state": "pending", "fraction": 0.0, "error": None}
    return run_progress(d)


def plan_states(study_dir: str | os.PathLike, plan: list[dict] | None = None) -> list[dict]:
    """The plan with each run's state, progress fraction and error."""
    from ..training.registry import read_json
    study_dir = Path(study_dir)
    plan = plan if plan is not None else read_json(study_dir / "plan.json")
    if plan is None:
        raise GeneMaskInputError("not a study folder (no plan.json).", source=study_dir,
                                 fix="start it with 'genemask study run FILE --out DIR'.")
    out = []
    for entry in plan:
        st = _state(study_dir, entry)
        out.append({**{k: entry[k] for k in ("name", "kind", "strategy", "pretrain_seed", "task")},
                    "state": st.get("state") or "pending", "fraction": st.get("fraction") or 0.0,
                    "error": st.get("error")})
    return out


_SYMBOL = {"done": "done", "failed": "FAILED", "cancelled": "cancelled", "pending": ".",
           "queued": "queued"}


def study_grid(study_dir: str | os.PathLike):
    """One row per (strategy, pretraining seed), one column for pretraining and one per task;
    cells are the run's state (``running 40%`` while it runs)."""
    import pandas as pd
    states = plan_states(study_dir)
    rows: dict[tuple, dict] = {}
    columns = ["pretrain"]
    # rows in the study's strategy order (the few-shot entries list every strategy, none too)
    for s in sorted(states, key=lambda s: s["kind"] == "pretrain"):
        rows.setdefault((s["strategy"], s["pretrain_seed"]), {
            "strategy": s["strategy"], "pretrain seed": s["pretrain_seed"],
            "pretrain": "-" if s["strategy"] == NONE else "."})
    for s in states:
        key = (s["strategy"], s["pretrain_seed"])
        row = rows.setdefault(key, {"strategy": s["strategy"], "pretrain seed": s["pretrain_seed"],
                                    "pretrain": "-" if s["strategy"] == NONE else "."})
        col = "pretrain" if s["kind"] == "pretrain" else s["task"]
        if col not in columns:
            columns.append(col)
        state = s["state"]
        row[col] = (f"running {s['fraction']:.0%}" if state == "running"
                    else _SYMBOL.get(state, state))
    return pd.DataFrame(list(rows.values()), columns=["strategy", "pretrain seed", *columns])
