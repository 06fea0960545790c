"""Pretraining, few-shot fine-tuning and the run registry (spec sections 4 and 5).

Python API (what the app calls)::

    from genemask_viz.training import (PretrainConfig, FewShotConfig, create_run, start_run,
                                       run_progress, cancel_run, list_runs, compare_runs,
                                       load_results, read_metrics)
    run = create_run("pretrain", asdict(PretrainConfig(steps=100)))   # a queued run folder
    start_run(run)                    # background process, survives the caller
    run_progress(run)                 # {"state", "step", "max_steps", "fraction", "loss", ...}
    cancel_run(run); list_runs(); load_results(run)

Sub-modules load on use: importing this package does not import torch. The pretraining
function is exported as ``run_pretraining`` (``training.pretrain`` is its module).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "models": ["MODEL_PRESETS", "ModelSource", "resolve_model", "model_config", "load_tokenizer",
               "build_mlm", "build_classifier", "save_model"],
    "corpus": ["STRATEGIES", "SequenceDataset", "BatchCollator", "make_collator",
               "pretraining_corpus"],
    "tasks": ["FewShotTask", "load_task", "demo_task", "draw_shots", "ShotDraw"],
    "metrics": ["classification_metrics"],
    "pretrain": ["PretrainConfig", "PretrainResult", "run_pretraining", "device_info"],
    "fewshot": ["FewShotConfig", "FewShotResult", "FinetuneSettings", "paper_settings",
                "run_fewshot", "finetune_and_evaluate", "summarise"],
    "registry": ["STATES", "runs_root", "create_run", "start_run", "run_status", "run_progress",
                 "cancel_run", "list_runs", "compare_runs", "read_metrics", "load_results",
                 "resolve_run", "write_json_atomic"],
    "worker": ["execute_run"],
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
