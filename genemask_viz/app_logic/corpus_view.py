"""A pretraining run's ``corpus.json`` (written by the trainer, issue 10) laid out for the
Pretraining Lab: a sentence, a per-record table, and every other setting."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def corpus_report(run_dir: str | os.PathLike) -> tuple[dict, pd.DataFrame | None] | None:
    """A pretraining run's ``corpus.json`` for display: ``(scalars, per-record table)``, or None
    when the run did not write one. The per-record table is the first list of objects (or
    object of objects, keyed by record) in the file; every other plain value is a scalar."""
    from ..training.registry import read_json
    try:
        data = read_json(Path(run_dir) / "corpus.json")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    scalars, table = {}, None
    flat = {}
    for key, value in data.items():  # one level of nesting becomes "parent.key"
        if isinstance(value, dict) and value and all(
                isinstance(v, (str, int, float, bool)) or v is None for v in value.values()):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    for key, value in flat.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            scalars[key] = value
        elif table is None and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            table = pd.DataFrame(value)
        elif table is None and isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            table = pd.DataFrame.from_dict(value, orient="index").rename_axis("record").reset_index()
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            scalars[key] = ", ".join(str(v) for v in value)
    return scalars, table


def corpus_sentence(scalars: dict) -> str | None:
    """One sentence from ``corpus.json``: nucleotides seen, segments, epochs, validation."""
    need = ("nucleotides_seen", "train_segments", "train_bases", "epochs")
    if not all(isinstance(scalars.get(k), (int, float)) for k in need):
        return None
    text = (f"{scalars['nucleotides_seen']:,} nt seen in {scalars['train_segments']:,} training segments "
            f"drawn over {scalars['train_bases']:,} bases, so each position was seen "
            f"{scalars['epochs']:.3g} times on average (epochs)")
    if isinstance(scalars.get("val_segments"), int) and isinstance(scalars.get("val_bases"), int):
        text += (f"; validation: {scalars['val_segments']:,} segments from {scalars['val_bases']:,} "
                 "held-out bases that training never reads")
    return text + "."
