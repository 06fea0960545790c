"""Which models there are to look at, and loading them for inference.

- a **pretrained** model: a ``genemask pretrain`` run folder (its ``model/``), a checkpoint
  folder holding a ``BertForMaskedLM`` (or a Hub id :func:`~genemask_viz.training.models.resolve_model`
  accepts), or a preset name (fresh, seeded weights: the "no pretraining" baseline);
- a **fine-tuned** model: a folder written by the few-shot engine for the seeds it keeps
  (``RUN/models/shots-K_seed-S/``, see ``FewShotConfig.keep_models``), or a few-shot run
  folder (its first kept model, or the one for ``shots`` / ``seed``).

Models are loaded with ``from_pretrained`` (safetensors; no ``trust_remote_code``), in
evaluation mode, with PyTorch's SDPA attention.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..errors import GeneMaskInputError

__all__ = ["load_mlm", "load_classifier", "finetuned_models", "model_k", "list_models", "run_test_set"]

KEPT_MODELS = "models"  # sub-folder of a few-shot run holding its kept fine-tuned models
# transformers builds models under a process-wide meta-device context while loading; a model
# built in another thread meanwhile (an app serving two sessions) would get meta weights
_LOAD_LOCK = threading.Lock()


def _architectures(path: Path) -> list[str]:
    try:
        cfg = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return []
    return list(cfg.get("architectures") or []) if isinstance(cfg, dict) else []


def model_k(model) -> int:
    """k of a loaded k-mer BERT, from its vocabulary size (5 special tokens + 4^k k-mers)."""
    n = int(model.config.vocab_size) - 5
    for k in range(3, 7):
        if 4 ** k == n:
            return k
    raise GeneMaskInputError(f"vocabulary of {n + 5} tokens is not a DNABERT k-mer vocabulary.",
                             fix="use a model trained with genemask or a DNABERT checkpoint.")


def load_mlm(spec, seed: int = 0):
    """A masked-language model for reconstruction, in eval mode.

    ``spec``: a loaded model (returned as it is), a preset name, a run/checkpoint folder or a
    Hub id. A checkpoint must be a ``BertForMaskedLM`` (a fine-tuned classifier has no MLM head).
    """
    import torch
    if isinstance(spec, torch.nn.Module):
        return spec.eval()
    from transformers import BertForMaskedLM

    from ..training.models import model_config, resolve_model
    source = resolve_model(spec)
    if source.path is None:
        with _LOAD_LOCK:
            torch.manual_seed(seed)
            return BertForMaskedLM(model_config(source.preset, source.k)).eval()
    arch = _architectures(source.path)
    if arch and not any("MaskedLM" in a or "PreTraining" in a for a in arch):
        raise GeneMaskInputError(f"this checkpoint is a {arch[0]}, not a masked-language model: it "
                                 "has no head that predicts masked k-mers.", source=source.path,
                                 fix="give a pretraining run (genemask pretrain) or an MLM checkpoint.")
    with _LOAD_LOCK:
        return BertForMaskedLM.from_pretrained(source.path, attn_implementation="sdpa").eval()


def finetuned_models(run_dir) -> list[dict]:
    """The fine-tuned models a few-shot run kept: one dict per model with ``path``, ``shots``,
    ``seed``, ``classes`` and the test metrics of its ``training_record.json``."""
    from ..training.models import TRAINING_RECORD
    root = Path(run_dir) / KEPT_MODELS
    found = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if (d / "config.json").is_file():
                try:
                    record = json.loads((d / TRAINING_RECORD).read_text())
                except (OSError, ValueError):
                    record = {}
                found.append({"path": str(d), "name": d.name, **(record if isinstance(record, dict)
                                                                    else {})})
    return sorted(found, key=lambda r: (int(r.get("shots") or 0), int(r.get("seed") or 0), r["name"]))


def _finetuned_path(spec, shots: int | None, seed: int | None) -> Path:
    path = Path(str(spec)).expanduser()
    if (path / "config.json").is_file() and "ForSequenceClassification" in " ".join(_architectures(path)):
        return path
    kept = finetuned_models(path) if path.is_dir() else []
    kept = [m for m in kept if (shots is None or int(m.get("shots", -1)) == shots)
            and (seed is None or int(m.get("seed", -1)) == seed)]
    if kept:
        return Path(kept[0]["path"])
    raise GeneMaskInputError(
        "is not a fine-tuned classifier" + (" with that shot count and seed" if (shots, seed) != (None, None)
                                            else "") + " (no models/shots-K_seed-S/ kept in it).",
        source=path, fix="give a few-shot run folder made with keep_models >= 1 (the default), or "
                         "one of its models/shots-K_seed-S folders.")


def load_classifier(spec, shots: int | None = None, seed: int | None = None):
    """A fine-tuned ``BertForSequenceClassification`` in eval mode (see the module docstring)."""
    import torch
    if isinstance(spec, torch.nn.Module):
        return spec.eval()
    from transformers import BertForSequenceClassification

    from ..training.models import check_checkpoint
    path = _finetuned_path(spec, shots, seed)
    check_checkpoint(path)
    with _LOAD_LOCK:
        return BertForSequenceClassification.from_pretrained(path, attn_implementation="sdpa").eval()


def list_models(root: str | os.PathLike | None = None):
    """Finished runs under the registry root with something to look at, newest first:
    ``kind`` "pretrained" (a pretraining run's model) or "fine-tuned" (a kept few-shot model);
    columns kind, run, label, path."""
    import pandas as pd

    from ..training.registry import list_runs
    runs = list_runs(root)
    rows = []
    for r in runs.to_dict(orient="records"):
        path = Path(str(r.get("path")))
        if r.get("kind") == "pretrain" and (path / "model" / "config.json").is_file():
            rows.append({"kind": "pretrained", "run": r["id"], "path": str(path),
                         "label": f"{r['id']} ({r.get('strategy')}, {r.get('model')})"})
        elif r.get("kind") == "fewshot":
            for m in finetuned_models(path):
                acc = m.get("accuracy")
                rows.append({"kind": "fine-tuned", "run": r["id"], "path": m["path"],
                             "label": f"{r['id']} / {m['name']}"
                                      + (f" (test accuracy {acc:.2f})" if acc is not None else "")})
    return pd.DataFrame(rows, columns=["kind", "run", "label", "path"])


def run_test_set(model_path, max_rows: int | None = 200):
    """The fixed test set of the task a kept fine-tuned model was trained on (from its few-shot
    run's configuration: ``RUN/models/NAME`` -> ``RUN/config.json``), as a DataFrame with
    ``sequence`` and ``label``; the first ``max_rows`` rows of a seeded shuffle (both classes)."""
    from ..training.registry import read_config
    from ..training.tasks import load_task
    run = Path(model_path).resolve().parents[1]
    params = read_config(run).get("params") or {}
    task = load_task(params.get("data"), train=params.get("train"), test=params.get("test"),
                     test_fraction=params.get("test_fraction", 0.2))
    test = task.test.sample(frac=1.0, random_state=0).reset_index(drop=True)
    return test if max_rows is None else test.head(int(max_rows))
