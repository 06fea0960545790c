"""Model configurations and checkpoints: named presets or a local DNABERT-style folder.

Named presets (all BERT, the vocabulary of :class:`~genemask_viz.tokens.KmerTokenizer`,
512 positions = 510 k-mers):

============  ======  ======  =====  ============  ===========  =========================
name          layers  hidden  heads  intermediate  dropout a/h  what for
============  ======  ======  =====  ============  ===========  =========================
tiny               2      64      2           256  0.0 / 0.1    tests, demos on 2 cores
logo               2     256      8          3072  0.0 / 0.0    the paper's "LOGO" model
dnabert-base      12     768     12          3072  0.1 / 0.1    BERT-base, as DNABERT
============  ======  ======  =====  ============  ===========  =========================

Dropout (a = on the attention probabilities, h = on hidden states): ``dnabert-base`` keeps
BERT's / DNABERT's 0.1, ``logo`` the release's configuration (no dropout). ``tiny`` is not a
paper model; it keeps hidden dropout 0.1 but has no attention-probability dropout (as
MosaicBERT), because on CPU dropout on the attention probabilities forces PyTorch's
attention onto its slow path that materialises the (length x length) matrix. To change
dropout, pass ``attention_dropout`` / ``hidden_dropout`` (``PretrainConfig`` has both).
Models use PyTorch's scaled-dot-product attention (``attn_implementation="sdpa"``).

Anything else is a local folder: a Hugging Face checkpoint (``config.json`` with
``model_type: bert`` plus a DNABERT ``vocab.txt``, e.g. a downloaded
``zhihan1996/DNA_bert_6``) or a run folder of ``genemask pretrain`` (its ``model/``
sub-folder is used). A Hugging Face Hub id (``ORG/NAME`` or ``ORG/NAME@REVISION``, e.g.
``zhihan1996/DNA_bert_6``) that is not a local folder is fetched into the usual Hub cache
(``HF_HOME``/``HF_HUB_CACHE``, shared with ``from_pretrained``); ``HF_HUB_OFFLINE=1``
uses the cache only. Its config and vocabulary are checked before the weights are
downloaded (safetensors when the repository has them, else ``pytorch_model.bin``, which
transformers reads with ``torch.load(weights_only=True)``). Code from a folder or
the Hub is never executed (no ``trust_remote_code``).

Checkpoints are written with ``save_pretrained`` (safetensors), our tokenizer
(``vocab.txt`` that plain ``BertTokenizer`` reads to the same ids) and
``training_record.json`` saying how they were trained, so
``BertForMaskedLM.from_pretrained(dir)`` loads them without this package.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import GeneMaskInputError

__all__ = ["MODEL_PRESETS", "ModelSource", "resolve_model", "model_config", "load_tokenizer",
           "build_mlm", "build_classifier", "save_model", "TRAINING_RECORD"]

#: architecture of each named preset (BertConfig keyword arguments)
MODEL_PRESETS: dict[str, dict] = {
    "tiny": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=256,
                 attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.1),
    "logo": dict(num_hidden_layers=2, hidden_size=256, num_attention_heads=8, intermediate_size=3072,
                 attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0),  # the release's config
    "dnabert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                         intermediate_size=3072, attention_probs_dropout_prob=0.1,
                         hidden_dropout_prob=0.1),
}
MAX_POSITIONS = 512  # [CLS] + 510 k-mers + [SEP], as DNABERT
TRAINING_RECORD = "training_record.json"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: a preset name (fresh weights) or a checkpoint folder."""

    spec: str            # what the user gave
    preset: str | None   # preset name, or None for a checkpoint
    path: Path | None    # checkpoint folder holding config.json + weights + vocab.txt
    k: int = 6

    @property
    def label(self) -> str:
        return self.preset or str(self.path)


def _run_model_dir(path: Path) -> Path | None:
    """A registry run folder -> its saved model folder (None when ``path`` is not a run)."""
    cfg = path / "config.json"
    if (path / "model" / "config.json").exists():
        return path / "model"
    if cfg.exists():
        try:
            data = json.loads(cfg.read_text())
        except (OSError, ValueError):  # malformed: check_checkpoint reports it
            return None
        # a run folder with no model yet
        if isinstance(data, dict) and "kind" in data and "model_type" not in data:
            raise GeneMaskInputError(
                f"run folder has no saved model yet (kind {data.get('kind')!r}).", source=path,
                fix="wait until the pretraining run is done, or give a checkpoint folder.")
    return None


#: a Hugging Face Hub model id, optionally with a revision: ORG/NAME[@REVISION]
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(@[\w./-]+)?")
_HUB_WEIGHTS = (["*.safetensors", "*.safetensors.index.json"],
                ["pytorch_model*.bin", "pytorch_model.bin.index.json"])


def _hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` as the Hub library reads it (checked again at call time)."""
    from huggingface_hub import constants
    return bool(constants.HF_HUB_OFFLINE) or \
        os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_checkpoint(spec: str) -> tuple[Path, int]:
    """Fetch (or find in the Hub cache) a Hub model; check its vocabulary before its weights.

    Returns the snapshot folder (``models--ORG--NAME/snapshots/REV``) and the checkpoint's k.
    """
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    repo_id, _, revision = spec.partition("@")
    kw = dict(revision=revision or None, local_files_only=_hub_offline())
    if kw["local_files_only"]:
        where, todo = ("in the local Hugging Face cache (HF_HUB_OFFLINE is set)",
                       "unset HF_HUB_OFFLINE to download it once")
    else:
        where, todo = "on the Hugging Face Hub or in its local cache", "connect to the internet"
    fix = (f"check the model id (ORG/NAME), {todo}, or give a local checkpoint folder; "
           f"presets: {sorted(MODEL_PRESETS)}.")
    try:
        folder = Path(hf_hub_download(repo_id, "config.json", **kw)).parent
        for name in ("vocab.txt", "tokenizer.json"):
            try:
                hf_hub_download(repo_id, name, **kw)
                break
            except (EntryNotFoundError, LocalEntryNotFoundError):
                continue
        k = check_checkpoint(folder)  # a wrong vocabulary stops here, before the weights
        for patterns in _HUB_WEIGHTS:
            snapshot_download(repo_id, allow_patterns=patterns, **kw)
            if any(folder.glob(patterns[0])):
                break
    except RepositoryNotFoundError:
        raise GeneMaskInputError(f"model {spec!r} is neither a preset, a local folder, nor a model on "
                                 "the Hugging Face Hub (or it is private or gated).", fix=fix) from None
    except (EntryNotFoundError, LocalEntryNotFoundError, OSError) as exc:
        raise GeneMaskInputError(f"model {spec!r} is neither a preset nor a local folder, and was not "
                                 f"found {where} ({type(exc).__name__}).", fix=fix) from None
    if not any(any(folder.glob(p[0])) for p in _HUB_WEIGHTS):
        raise GeneMaskInputError(f"Hub model {spec!r} has no weights {where} (looked for "
                                 "*.safetensors and pytorch_model*.bin).", source=folder, fix=fix)
    return folder, k


def resolve_model(spec: str | os.PathLike, k: int = 6) -> ModelSource:
    """Turn ``tiny|logo|dnabert-base|RUN_DIR|CHECKPOINT_DIR|ORG/NAME`` into a :class:`ModelSource`.

    A checkpoint folder is checked: it must hold ``config.json`` of a BERT model and a
    DNABERT-style ``vocab.txt`` whose size matches the model's embeddings. A Hub id
    that is not an existing folder is resolved to its snapshot in the Hub cache and
    checked the same way (see the module docstring).
    """
    text = str(spec)
    if text in MODEL_PRESETS:
        return ModelSource(text, text, None, k)
    path = Path(text).expanduser()
    # runs/foo where ./runs exists is a mistyped local path, not the Hub user "runs": say so
    # at once instead of spending the Hub client's retries on it
    if not path.exists() and _HUB_ID.fullmatch(text):
        if not (path.parent != Path(".") and path.parent.is_dir()):
            folder, k_hub = _hub_checkpoint(text)
            return ModelSource(text, None, folder, k_hub)
        raise GeneMaskInputError(f"model {text!r}: no such folder in {str(path.parent)!r} (that "
                                 "folder exists here, so this was read as a local path, not a "
                                 "Hugging Face Hub id).", source=path,
                                 fix="check the folder name; for a Hub model whose ORG is also a "
                                     "local folder name, run from another directory.")
    if not path.exists():
        raise GeneMaskInputError(f"model {text!r} is neither a preset nor an existing folder.",
                                 fix=f"use one of {sorted(MODEL_PRESETS)}, a checkpoint folder or a "
                                     "Hugging Face Hub id (ORG/NAME).")
    if not path.is_dir():
        raise GeneMaskInputError("a model must be a folder (config.json, weights, vocab.txt).",
                                 source=path, fix="give the checkpoint folder, not a file in it.")
    path = _run_model_dir(path) or path
    return ModelSource(text, None, path, check_checkpoint(path))


def _read_json_file(path: Path) -> dict:
    """A checkpoint's JSON file; a malformed one is a :class:`GeneMaskInputError` naming the line."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GeneMaskInputError(f"{path.name} is not valid JSON ({exc.msg}, column {exc.colno}).",
                                 source=path, line=exc.lineno,
                                 fix="restore the file from the original checkpoint (re-download "
                                     "or re-save it with save_pretrained).") from None
    except UnicodeDecodeError as exc:
        raise GeneMaskInputError(f"{path.name} is not UTF-8 text ({exc.reason}).", source=path,
                                 fix="restore the file from the original checkpoint.") from None
    if not isinstance(data, dict):
        raise GeneMaskInputError(f"{path.name} must hold a JSON object, found "
                                 f"{type(data).__name__}.", source=path,
                                 fix="restore the file from the original checkpoint.")
    return data


def check_checkpoint(path: Path) -> int:
    """Check a checkpoint folder's config and vocabulary; return its k."""
    from ..tokens import kmer_vocab

    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise GeneMaskInputError("no config.json: not a Hugging Face checkpoint folder.",
                                 source=path, fix="give a folder written by save_pretrained.")
    cfg = _read_json_file(cfg_path)
    if cfg.get("model_type") != "bert":
        raise GeneMaskInputError(f"model_type is {cfg.get('model_type')!r}; only BERT models "
                                 "(DNABERT-style) are supported.", source=cfg_path,
                                 fix="use a DNABERT checkpoint or one trained by genemask pretrain.")
    words = _checkpoint_words(path)
    k = len(words[-1]) if words else 0
    if not 3 <= k <= 6 or words != kmer_vocab(k):
        raise GeneMaskInputError(
            f"the checkpoint's vocabulary is not a DNABERT k-mer vocabulary ({len(words)} entries, first "
            f"{words[:6]}); this model was trained with another vocabulary and its token ids "
            "would mean something else.", source=path,
            fix="use a checkpoint with DNABERT's vocab.txt ([PAD],[UNK],[CLS],[SEP],[MASK], "
                "then all k-mers in A,T,C,G order), or pretrain one with genemask pretrain.")
    if cfg.get("vocab_size") != len(words):
        raise GeneMaskInputError(
            f"config.json says vocab_size={cfg.get('vocab_size')} but its vocabulary has {len(words)} "
            "tokens.", source=cfg_path, fix="use the vocab.txt the model was trained with.")
    return k


def _checkpoint_words(path: Path) -> list[str]:
    """Vocabulary in id order from ``vocab.txt``, else from a fast ``tokenizer.json``."""
    if (path / "vocab.txt").exists():
        return (path / "vocab.txt").read_text().split()
    if (path / "tokenizer.json").exists():
        model = _read_json_file(path / "tokenizer.json").get("model")
        vocab = model.get("vocab") if isinstance(model, dict) else None
        if isinstance(vocab, dict):
            return [w for w, _ in sorted(vocab.items(), key=lambda item: item[1])]
    raise GeneMaskInputError("no vocab.txt (nor tokenizer.json): cannot check that the vocabulary "
                             "is DNABERT's.", source=path,
                             fix="copy the checkpoint's vocab.txt into the folder.")


def model_config(preset: str, k: int = 6, **overrides):
    """BertConfig of a preset for k-mer size ``k`` (the preset's dropout, 512 positions, SDPA)."""
    from transformers import BertConfig

    from ..tokens import kmer_vocab
    if preset not in MODEL_PRESETS:
        raise GeneMaskInputError(f"unknown model preset {preset!r}.",
                                 fix=f"use one of {sorted(MODEL_PRESETS)} or a checkpoint folder.")
    kwargs = dict(vocab_size=len(kmer_vocab(k)), max_position_embeddings=MAX_POSITIONS,
                  pad_token_id=0, type_vocab_size=2, attn_implementation="sdpa",
                  **MODEL_PRESETS[preset])
    kwargs.update(overrides)
    return BertConfig(**kwargs)


def load_tokenizer(source: ModelSource):
    """Our k-mer tokenizer for a model source (from the checkpoint's vocab.txt when there is one)."""
    from ..tokens import KmerTokenizer
    # ids are computed from the k-mers; check_checkpoint has verified the vocabulary
    return KmerTokenizer(k=source.k, model_max_length=MAX_POSITIONS)


def build_mlm(source: ModelSource, seed: int = 0, attention_dropout: float | None = None,
              hidden_dropout: float | None = None, fast_dropout: bool = True):
    """The MLM model for pretraining: fresh weights (seeded) for a preset, else loaded.

    A :class:`~genemask_viz.training.fastmlm.SparseBertForMaskedLM` (a ``BertForMaskedLM``
    whose head runs only at masked positions when given labels; it saves plain
    ``BertForMaskedLM`` checkpoints) with SDPA attention. ``attention_dropout`` /
    ``hidden_dropout`` override the preset's or checkpoint's dropout (None: keep it).
    ``fast_dropout``: its dropout modules draw on CPU through
    :class:`~genemask_viz.training.fastmlm.BitsDropout` (same probability to 1/65,536).
    """
    import torch

    from .fastmlm import SparseBertForMaskedLM, use_bits_dropout
    overrides = {}
    if attention_dropout is not None:
        overrides["attention_probs_dropout_prob"] = float(attention_dropout)
    if hidden_dropout is not None:
        overrides["hidden_dropout_prob"] = float(hidden_dropout)
    for name, value in overrides.items():
        if not 0.0 <= value < 1.0:
            raise GeneMaskInputError(f"{name} must be in [0, 1), got {value}.")
    if source.path is not None:
        model = SparseBertForMaskedLM.from_pretrained(source.path, attn_implementation="sdpa",
                                                      **overrides)
    else:
        torch.manual_seed(seed)
        model = SparseBertForMaskedLM(model_config(source.preset, source.k, **overrides))
    if fast_dropout:
        use_bits_dropout(model)
    return model


def build_classifier(source: ModelSource, num_labels: int, seed: int = 0, dropout: float = 0.1):
    """``BertForSequenceClassification`` with ``num_labels`` classes.

    From a checkpoint, the encoder is loaded and the classification head is new
    (seeded); a preset gives a fully fresh model (a no-pretraining baseline).
    """
    import torch
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging
    torch.manual_seed(seed)
    if source.path is None:
        cfg = model_config(source.preset, source.k, num_labels=num_labels,
                           hidden_dropout_prob=dropout, classifier_dropout=dropout)
        return BertForSequenceClassification(cfg)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized head" is expected here
    try:
        return BertForSequenceClassification.from_pretrained(
            source.path, num_labels=num_labels, hidden_dropout_prob=dropout,
            classifier_dropout=dropout)
    finally:
        hf_logging.set_verbosity(verbosity)


def save_model(model, tokenizer, out_dir: str | os.PathLike, record: dict) -> Path:
    """Write model (safetensors), tokenizer and ``training_record.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    from .registry import write_json_atomic
    write_json_atomic(out / TRAINING_RECORD, record)
    return out
