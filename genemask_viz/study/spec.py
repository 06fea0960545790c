"""Study files: one TOML file says which runs a study is made of.

A study is an equal-budget comparison of masking strategies: every strategy gets the
same model, corpus, steps, batch and seeds, and every pretrained model is fine-tuned on
the same tasks, shots and fine-tuning seeds. Layout of a study file::

    [study]
    name = "smoke"
    reference = "dnabert"            # paired differences are taken against this strategy
    metrics = ["accuracy", "mcc"]    # headline metrics of the report

    [pretrain]                       # any PretrainConfig field, plus:
    strategies = ["none", "random", "dnabert", "genemask"]   # "none": the same model untrained
    optional_strategies = ["dnabert-matched"]  # used only where this version knows them
    seeds = [0, 1]                   # pretraining seeds
    model = "tiny"
    steps = 800

    [pretrain.overrides.genemask-released]     # per-strategy PretrainConfig fields
    table = "path/to/ranking.csv"

    [finetune]                       # any FewShotConfig field, plus:
    shots = [10, 50]
    seeds = 3                        # fine-tuning seeds 0..seeds-1 (each also picks the draw)

    [[task]]
    name = "Prom-core"
    data = "Prom-core"               # a folder, file, "demo", or a name under the data root
    # train = "...", test = "..."    # instead of data

    [evaluation]
    hidden_strategy = "dnabert"      # the one masking all models are scored under
    hidden_sequences = 64
    bootstrap = 10000

Relative paths are resolved against the study file's folder, then the current folder;
a bare data set name (``Prom-core``, ``Splice-40``, ``Cohn-enh``, ``hg38-ranking``) goes to
the data resolver (:func:`genemask_viz.data.dataset_path`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GeneMaskInputError

__all__ = ["StudySpec", "TaskSpec", "load_study", "parse_study", "PRESETS", "preset_path",
           "NONE"]

NONE = "none"  # the same model with no pretraining
PRESET_DIR = Path(__file__).with_name("presets")
PRESETS = tuple(sorted(p.stem for p in PRESET_DIR.glob("*.toml")))
_SECTIONS = {"study", "pretrain", "finetune", "task", "evaluation"}
_STUDY_KEYS = {"name", "description", "reference", "metrics", "jobs"}
_EVAL_KEYS = {"hidden_strategy", "hidden_sequences", "hidden_seed", "bootstrap", "confidence"}
_TASK_KEYS = {"name", "data", "train", "test"}
_PRETRAIN_OWN = {"strategies", "optional_strategies", "seeds", "overrides"}
_PRETRAIN_FIXED = {"strategy", "seed"}          # set per run by the plan
_FINETUNE_FIXED = {"data", "train", "test", "model", "shots", "seeds"}


@dataclass
class TaskSpec:
    name: str
    data: str | None = None
    train: str | None = None
    test: str | None = None


@dataclass
class StudySpec:
    """A parsed, checked study file (JSON-able through :meth:`to_dict`)."""

    name: str
    strategies: list[str]
    pretrain_seeds: list[int]
    pretrain: dict                       # PretrainConfig fields shared by all runs
    overrides: dict[str, dict]           # strategy -> PretrainConfig fields
    shots: list[int]
    finetune_seeds: int
    finetune: dict                       # FewShotConfig fields shared by all runs
    tasks: list[TaskSpec]
    reference: str = "dnabert"
    metrics: list[str] = field(default_factory=lambda: ["accuracy", "mcc"])
    description: str = ""
    jobs: int = 1
    hidden_strategy: str = "dnabert"
    hidden_sequences: int = 64
    hidden_seed: int = 0
    bootstrap: int = 10_000
    confidence: float = 0.95
    skipped_strategies: list[str] = field(default_factory=list)  # optional, unknown here

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "StudySpec":
        data = dict(data)
        data["tasks"] = [TaskSpec(**t) for t in data["tasks"]]
        return cls(**data)

    @property
    def trained_strategies(self) -> list[str]:
        return [s for s in self.strategies if s != NONE]


def _resolve_path(text: str | None, base: Path | None, what: str, source) -> str | None:
    if text is None or text == "demo":
        return text
    path = Path(text).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = ([base / path] if base else []) + [Path.cwd() / path]
    for c in candidates:
        if c.exists():
            return str(c.resolve())
    try:  # a registered data set name (Prom-core, Splice-40, Cohn-enh, hg38-ranking)
        from ..data import dataset_path
        return str(dataset_path(text).resolve())
    except Exception:  # unknown name or absent: the message below says what to do
        pass
    raise GeneMaskInputError(f"{what} {text!r} not found (looked in the study file's folder, the "
                             "current folder and the data root).", source=source,
                             fix="give an existing path or a data set name (genemask data ls).")


def _unknown(keys, allowed, section: str, source) -> None:
    extra = sorted(set(keys) - set(allowed))
    if extra:
        raise GeneMaskInputError(f"unknown key(s) {extra} in [{section}].", source=source,
                                 fix=f"allowed: {', '.join(sorted(allowed))}.")


def _int_list(value, name: str, source) -> list[int]:
    values = value if isinstance(value, list) else [value]
    try:
        out = [int(v) for v in values]
    except (TypeError, ValueError):
        raise GeneMaskInputError(f"{name} must be integers, got {value!r}.", source=source) from None
    if not out or len(set(out)) != len(out):
        raise GeneMaskInputError(f"{name} must be a non-empty list of distinct integers, got "
                                 f"{value!r}.", source=source)
    return out


def parse_study(data: dict, source=None, base: Path | None = None) -> StudySpec:
    """Check a study dict (the parsed TOML) and return a :class:`StudySpec`."""
    from ..masking.names import STRATEGIES
    from ..training.fewshot import FewShotConfig
    from ..training.metrics import METRICS
    from ..training.pretrain import PretrainConfig

    _unknown(data, _SECTIONS, "top level", source)
    study, pre = dict(data.get("study", {})), dict(data.get("pretrain", {}))
    fine, ev = dict(data.get("finetune", {})), dict(data.get("evaluation", {}))
    _unknown(study, _STUDY_KEYS, "study", source)
    _unknown(ev, _EVAL_KEYS, "evaluation", source)
    pre_fields = {f.name for f in dataclasses.fields(PretrainConfig)} - _PRETRAIN_FIXED
    fine_fields = {f.name for f in dataclasses.fields(FewShotConfig)} - _FINETUNE_FIXED
    _unknown(pre, pre_fields | _PRETRAIN_OWN, "pretrain", source)
    _unknown(fine, fine_fields | {"shots", "seeds"}, "finetune", source)

    known = set(STRATEGIES) | {NONE}
    strategies = list(pre.pop("strategies", [NONE, "random", "dnabert", "genemask"]))
    bad = [s for s in strategies if s not in known]
    if bad or not strategies or len(set(strategies)) != len(strategies):
        raise GeneMaskInputError(f"strategies must be distinct names from {sorted(known)}, got "
                                 f"{strategies}.", source=source,
                                 fix="list optional ones under optional_strategies instead.")
    optional = list(pre.pop("optional_strategies", []))
    skipped = [s for s in optional if s not in known]
    strategies += [s for s in optional if s in known and s not in strategies]
    seeds = _int_list(pre.pop("seeds", [0]), "pretrain.seeds", source)
    overrides = pre.pop("overrides", {}) or {}
    for name, extra in overrides.items():
        if name not in known and name not in skipped:
            raise GeneMaskInputError(f"[pretrain.overrides.{name}]: unknown strategy.", source=source)
        _unknown(extra, pre_fields, f"pretrain.overrides.{name}", source)
        for key in ("table", "corpus"):
            if key in extra and extra[key] not in (None, "demo"):
                extra[key] = _resolve_path(extra[key], base, key, source)
    for key in ("table", "corpus"):
        if pre.get(key) not in (None, "demo"):
            pre[key] = _resolve_path(pre[key], base, key, source)
    for s in strategies:  # every run's configuration must be valid before anything starts
        if s != NONE:
            try:
                PretrainConfig(**{**pre, **overrides.get(s, {}), "strategy": s, "seed": seeds[0]})
            except TypeError as exc:
                raise GeneMaskInputError(f"[pretrain]: {exc}", source=source) from None

    shots = _int_list(fine.pop("shots", [10]), "finetune.shots", source)
    n_ft = int(fine.pop("seeds", 3))
    if n_ft < 1:
        raise GeneMaskInputError(f"finetune.seeds must be at least 1, got {n_ft}.", source=source)
    FewShotConfig(**fine, data="demo", shots=shots, seeds=n_ft)

    raw_tasks = data.get("task") or [{"name": "demo", "data": "demo"}]
    tasks = []
    for t in raw_tasks:
        _unknown(t, _TASK_KEYS, "task", source)
        if not t.get("data") and not t.get("train"):
            raise GeneMaskInputError(f"task {t.get('name')!r} has neither data nor train.",
                                     source=source, fix='e.g. data = "Prom-core" or data = "demo".')
        name = str(t.get("name") or Path(str(t.get("data") or t.get("train"))).name)
        tasks.append(TaskSpec(name, _resolve_path(t.get("data"), base, "task data", source),
                              _resolve_path(t.get("train"), base, "task train", source),
                              _resolve_path(t.get("test"), base, "task test", source)))
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise GeneMaskInputError(f"task names must be distinct, got {names}.", source=source)

    reference = str(study.get("reference", "dnabert" if "dnabert" in strategies else strategies[0]))
    if reference not in strategies:
        raise GeneMaskInputError(f"reference {reference!r} is not one of the study's strategies "
                                 f"{strategies}.", source=source)
    metrics = list(study.get("metrics", ["accuracy", "mcc"]))
    if not metrics or any(m not in METRICS for m in metrics):
        raise GeneMaskInputError(f"metrics must be among {list(METRICS)}, got {metrics}.",
                                 source=source)
    hidden = str(ev.get("hidden_strategy", "dnabert"))
    if hidden not in STRATEGIES:
        raise GeneMaskInputError(f"evaluation.hidden_strategy {hidden!r} is not a strategy.",
                                 source=source, fix=f"use one of {list(STRATEGIES)}.")
    confidence = float(ev.get("confidence", 0.95))
    if not 0 < confidence < 1:
        raise GeneMaskInputError(f"evaluation.confidence must be in (0, 1), got {confidence}.",
                                 source=source)
    return StudySpec(name=str(study.get("name", "study")), strategies=strategies,
                     pretrain_seeds=seeds, pretrain=pre, overrides=overrides, shots=shots,
                     finetune_seeds=n_ft, finetune=fine, tasks=tasks, reference=reference,
                     metrics=metrics, description=str(study.get("description", "")),
                     jobs=max(1, int(study.get("jobs", 1))), hidden_strategy=hidden,
                     hidden_sequences=int(ev.get("hidden_sequences", 64)),
                     hidden_seed=int(ev.get("hidden_seed", 0)),
                     bootstrap=int(ev.get("bootstrap", 10_000)), confidence=confidence,
                     skipped_strategies=skipped)


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.toml"
    if not path.exists():
        raise GeneMaskInputError(f"no study preset {name!r}.", fix=f"use one of {list(PRESETS)} "
                                                                   "or a study file path.")
    return path


def read_study_text(source: str | os.PathLike) -> tuple[str, Path | None, str]:
    """(TOML text, folder for relative paths, where it came from) of a preset name or a file."""
    text = str(source)
    path = Path(text).expanduser()
    if not path.is_file() and text in PRESETS:
        path = preset_path(text)
        return path.read_text(), None, f"preset {text}"
    if not path.is_file():
        raise GeneMaskInputError(f"study {text!r} is neither a file nor a preset.",
                                 fix=f"give a .toml study file or one of {list(PRESETS)}.")
    return path.read_text(), path.resolve().parent, str(path)


def load_study(source: str | os.PathLike, text: str | None = None) -> tuple[StudySpec, str]:
    """Parse a study file or preset name (or ``text`` for an upload named ``source``);
    returns the spec and the TOML text."""
    base = None
    if text is None:
        text, base, source = read_study_text(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise GeneMaskInputError(f"not valid TOML ({getattr(exc, 'msg', exc)}).", source=source,
                                 line=line, fix="check the quoting and brackets on that line.") from None
    return parse_study(data, source=source, base=base), text
