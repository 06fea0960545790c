"""Few-shot classification data: load a task, draw k shots per class, keep the test disjoint.

Task sources (:func:`load_task`):

- **GeneMask layout** (a data set name such as ``Prom-core``, found by :mod:`genemask_viz.data`,
  or such a folder): one folder per
  shot count (``10/``, ``50/``, ...) holding a labelled TSV, and ``test.tsv`` or
  ``full-dataset/test.tsv``. The candidate pool is the union of all shot files
  (deduplicated by sequence).
- **GUE-style folder**: ``train.csv`` (pool) and ``test.csv`` (``dev.csv`` is not used:
  the paper has no dev set).
- **One labelled file**: a stratified ``test_fraction`` of it is held out (fixed by
  ``split_seed``, the same for every draw); shots are drawn from the rest.
- ``--train FILE --test FILE``: pool and test given.
- ``"demo"``: windows of the demo genome holding a planted JASPAR motif (label 1)
  versus background windows that overlap no planted site (label 0).

**A task's test set is fixed** (spec section 5): the same rows for every shot count and
every seed, so results compare across k. Test-file rows whose sequence occurs anywhere in
the pool (any shot file) are dropped once, at loading, and counted in ``test_note``; a
draw can then never share a sequence with the test set. A GeneMask-layout task without
a test file (Cohn-enh) gets one stratified held-out split of its pool
(``test_fraction``, ``split_seed``), drawn once and saved as a TSV under
``$GENEMASK_CACHE/fewshot_splits/`` (default ``~/.cache/genemask_viz/fewshot_splits``;
the file name holds a hash of the pool, fraction and seed) and reused from there; its
shots are drawn from the rest of the pool. :func:`table_hash` fingerprints a test set.

Drawing (:func:`draw_shots`): for a GeneMask-layout task whose shot file for k holds
exactly k rows per class, that file *is* the draw (the dataset's own shots; seeds then
vary the fine-tuning only). A shot file holding more rows per class (Splice-40 ships
10x) is a **pool** to draw k per class from with the seed, and the draw says so
(``ShotDraw.shot_file_role``); otherwise k per class are drawn from the task's pool.
``max_test`` keeps one fixed random subset of the test set (seed 0), the same for
every k and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import hashlib
import os

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError

__all__ = ["FewShotTask", "ShotDraw", "load_task", "demo_task", "draw_shots", "table_hash"]

_TABLE_EXT = (".tsv", ".csv", ".txt")


@dataclass
class FewShotTask:
    name: str
    pool: pd.DataFrame                     # sequence, label (+ line, file)
    test: pd.DataFrame | None              # the fixed test set (load_task always sets it)
    source: str
    shot_files: dict[int, pd.DataFrame] = field(default_factory=dict)
    test_note: str = ""
    split_file: str | None = None          # the saved held-out split (tasks without a test file)

    @property
    def classes(self) -> list[int]:
        return sorted(int(c) for c in self.pool["label"].unique())


@dataclass
class ShotDraw:
    train: pd.DataFrame
    test: pd.DataFrame
    shots: int
    seed: int
    train_source: str
    test_source: str
    test_overlap_removed: int = 0
    shot_file_role: str = "task pool"      # "exact shot file" | "pool shot file (Nx per class)"


def table_hash(frame: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) of the rows ``sequence<TAB>label``, in order."""
    text = "\n".join(frame["sequence"].astype(str) + "\t" + frame["label"].astype(int).astype(str))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _decontaminate(test: pd.DataFrame, pool: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop test rows whose sequence occurs in the pool (any training candidate)."""
    keep = ~test["sequence"].isin(set(pool["sequence"]))
    return test[keep].reset_index(drop=True), int((~keep).sum())


def _fixed_test_note(base: str, removed: int) -> str:
    return base + (f"; {removed} row(s) whose sequence is also in the training pool removed once "
                   "(the same test rows for every shot count and seed)" if removed else "")


def _saved_split(name: str, pool: pd.DataFrame, fraction: float, seed: int,
                 cache_dir=None) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """A stratified held-out split of ``pool``, drawn once and saved (reused when present)."""
    from .registry import write_text_atomic
    root = Path(cache_dir or os.environ.get("GENEMASK_CACHE")
                or Path.home() / ".cache" / "genemask_viz") / "fewshot_splits"
    key = hashlib.sha256(f"{table_hash(pool)}|{fraction!r}|{seed}".encode()).hexdigest()[:12]
    path = root / f"{name}_test_f{fraction:g}_s{seed}_{key}.tsv"
    if path.is_file():  # the saved split wins (stable even if numpy's generators change)
        saved = pd.read_csv(path, sep="\t", dtype={"sequence": str})
        held = pool["sequence"].isin(set(saved["sequence"]))
        rows = set(zip(pool["sequence"], pool["label"].astype(int)))
        if not {"sequence", "label"} <= set(saved.columns) or int(held.sum()) != len(saved) \
                or not all((q, int(y)) in rows for q, y in zip(saved["sequence"], saved["label"])):
            raise GeneMaskInputError("the saved held-out split does not match the data set's rows.",
                                     source=path, fix="delete the file to draw the split again.")
        order = {q: i for i, q in enumerate(saved["sequence"])}
        test = pool[held].sort_values("sequence", key=lambda c: c.map(order)).reset_index(drop=True)
        return pool[~held].reset_index(drop=True), test, path
    rest, test = _split(pool, fraction, seed)
    root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, test[["sequence", "label"]].to_csv(sep="\t", index=False))
    return rest, test, path


def _read(path: Path) -> pd.DataFrame:
    from ..sequences import read_labelled
    frame = read_labelled(path)
    frame["file"] = str(path)
    return frame


def _check_classes(frame: pd.DataFrame, source) -> None:
    classes = frame["label"].unique()
    if len(classes) < 2:
        raise GeneMaskInputError(
            f"has only one class (label {int(classes[0])}, {len(frame)} rows); a classifier needs "
            "at least two.", source=source, fix="give rows of every class in the training data.")


def _read_test(path: Path, pool: pd.DataFrame) -> pd.DataFrame:
    """The test file, checked against the pool: every test label must be a training class
    (the classifier has one output per pool class)."""
    test = _read(path)
    classes = set(int(c) for c in pool["label"].unique())
    unknown = sorted(int(c) for c in test["label"].unique() if int(c) not in classes)
    if unknown:
        n = int(test["label"].isin(unknown).sum())
        raise GeneMaskInputError(
            f"test labels {unknown} ({n} row(s)) do not occur in the training data (classes "
            f"{sorted(classes)}); a classifier cannot predict a class it was never trained on.",
            source=path, fix="give a training pool with rows of every test class, or drop those "
                             "rows from the test file.")
    return test


def _split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified split: ``fraction`` of each class (at least one row) goes to the second part."""
    if not 0 < fraction < 1:
        raise GeneMaskInputError(f"test_fraction must be in (0, 1), got {fraction}.")
    rng = np.random.default_rng(seed)
    test_idx = []
    for _, rows in frame.groupby("label"):
        n = max(1, int(round(len(rows) * fraction)))
        if n >= len(rows):
            raise GeneMaskInputError(f"class {int(rows['label'].iloc[0])} has {len(rows)} row(s): "
                                     "too few to hold out a test part.",
                                     fix="give more rows, or a separate --test file.")
        test_idx.extend(rng.choice(rows.index.to_numpy(), size=n, replace=False))
    test = frame.loc[sorted(test_idx)]
    return frame.drop(index=test.index).reset_index(drop=True), test.reset_index(drop=True)


def _shot_folders(root: Path) -> dict[int, Path]:
    out = {}
    for sub in root.iterdir():
        if sub.is_dir() and sub.name.isdigit():
            files = sorted(f for f in sub.iterdir() if f.suffix in _TABLE_EXT)
            if files:
                out[int(sub.name)] = files[0]
    return dict(sorted(out.items()))


def _registered_dataset(name: str) -> Path | None:
    """A data set of :mod:`genemask_viz.data` by name (``genemask data ls``), None for another name.

    A registered data set that is not on this machine is an error that says how to fetch it.
    """
    from ..data import DATASETS, DataError, dataset_path
    if name.lower() not in {n.lower() for n in DATASETS}:
        return None
    try:
        return dataset_path(name)
    except DataError as exc:
        raise GeneMaskInputError(exc.problem, fix=exc.fix) from None


def load_task(data: str | Path | None = None, train: str | Path | None = None,
              test: str | Path | None = None, test_fraction: float = 0.2,
              split_seed: int = 0) -> FewShotTask:
    """Load a few-shot task from a folder, a file, ``--train/--test`` files or ``"demo"``."""
    if data is not None and train is not None:
        raise GeneMaskInputError("give either a data set (--data) or --train/--test files, not both.")
    if train is not None:
        pool = _read(Path(train))
        _check_classes(pool, train)
        if test is not None:
            fixed, removed = _decontaminate(_read_test(Path(test), pool), pool)
            return FewShotTask(Path(train).stem, pool, fixed, str(train),
                               test_note=_fixed_test_note(f"test file {test}", removed))
        pool, held = _split(pool, test_fraction, split_seed)
        return FewShotTask(Path(train).stem, pool, held, str(train),
                           test_note=f"{test_fraction:.0%} of {train} held out (stratified, seed {split_seed})")
    if data is None:
        raise GeneMaskInputError("no data set given.", fix="use --data DIR_OR_FILE, --data demo, "
                                                           "or --train FILE [--test FILE].")
    if str(data) == "demo":
        return demo_task()
    path = Path(data).expanduser()
    if not path.exists():  # a data set name such as "Prom-core": wherever `genemask data` put it
        path = _registered_dataset(str(data)) or path
    if path.is_file():
        return load_task(train=path, test=test, test_fraction=test_fraction, split_seed=split_seed)
    if not path.is_dir():
        raise GeneMaskInputError(f"data set {str(data)!r} is neither a folder nor a file.",
                                 fix="give a GeneMask-layout folder, a GUE folder, a labelled "
                                     "TSV/CSV file, or 'demo'.")
    if (path / "train.csv").exists() or (path / "train.tsv").exists():  # GUE-style
        train_file = path / "train.csv" if (path / "train.csv").exists() else path / "train.tsv"
        test_file = next((path / n for n in ("test.csv", "test.tsv") if (path / n).exists()), None)
        return load_task(train=train_file, test=test or test_file, test_fraction=test_fraction,
                         split_seed=split_seed)
    folders = _shot_folders(path)
    if not folders:
        raise GeneMaskInputError(
            "no shot folders (10/, 50/, ...) and no train.csv: not a few-shot data set.",
            source=path, fix="use the GeneMask layout (shot folders + test.tsv) or GUE's "
                             "train.csv/test.csv.")
    shot_files = {k: _read(f) for k, f in folders.items()}
    pool = pd.concat(shot_files.values(), ignore_index=True).drop_duplicates("sequence",
                                                                            ignore_index=True)
    _check_classes(pool, path)
    test_file = test or next((p for p in (path / "test.tsv", path / "full-dataset" / "test.tsv",
                                          path / "test.csv") if p.exists()), None)
    if test_file is not None:
        fixed, removed = _decontaminate(_read_test(Path(test_file), pool), pool)
        return FewShotTask(path.name, pool, fixed, str(path), shot_files,
                           test_note=_fixed_test_note(f"test file {test_file}", removed))
    rest, held, saved = _saved_split(path.name, pool, test_fraction, split_seed)
    return FewShotTask(path.name, rest, held, str(path),
                       test_note=f"{path.name} ships no test file: one stratified {test_fraction:.0%} "
                                 f"of its pooled shot files ({len(held)} rows, seed {split_seed}) is "
                                 f"held out for every shot count and seed, saved as {saved}; shots "
                                 f"are drawn from the other {len(rest)} rows",
                       split_file=str(saved))


def _draw_per_class(frame: pd.DataFrame, shots: int, seed: int, source) -> pd.DataFrame:
    rng = np.random.default_rng([seed, shots])
    parts = []
    for label, rows in frame.groupby("label"):
        if len(rows) < shots:
            raise GeneMaskInputError(
                f"{shots} shots per class asked, but class {int(label)} has only {len(rows)} "
                "row(s) in the pool.", source=source,
                fix=f"use at most {frame['label'].value_counts().min()} shots, or a larger pool.")
        parts.append(rows.iloc[np.sort(rng.choice(len(rows), size=shots, replace=False))])
    out = pd.concat(parts)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def draw_shots(task: FewShotTask, shots: int, seed: int, from_pool: bool = False,
               max_test: int | None = None) -> ShotDraw:
    """k = ``shots`` training rows per class for ``seed``, and the task's fixed test set.

    ``from_pool`` ignores the dataset's own shot files and draws from the pool.
    ``max_test`` keeps one fixed random subset of the test rows (seed 0: the same for
    every k and seed; quick looks only).
    """
    if int(shots) < 1:
        raise GeneMaskInputError(f"shots must be at least 1 per class, got {shots}.")
    _check_classes(task.pool, task.source)
    file = task.shot_files.get(int(shots)) if not from_pool else None
    role = "task pool"
    if file is not None:
        counts = file["label"].value_counts()
        name = Path(file["file"].iloc[0])
        if len(counts) == len(task.classes) and (counts == shots).all():
            train = file.reset_index(drop=True)
            role = "exact shot file"
            train_source = f"the data set's own shot file {name.parent.name}/{name.name}"
        else:
            ratio = counts.min() / shots
            role = f"pool shot file ({ratio:g}x per class)"
            unique = file.drop_duplicates("sequence")
            train = _draw_per_class(unique, shots, seed, name)
            train_source = (f"{shots} per class drawn with seed {seed} from shot file "
                            f"{name.parent.name}/{name.name}, which holds {ratio:g}x the shots per "
                            f"class ({len(file)} rows): a pool, not a fixed draw")
    else:
        train = _draw_per_class(task.pool, shots, seed, task.source)
        train_source = f"{shots} per class drawn with seed {seed} from a pool of {len(task.pool)} rows"
    test = task.test if task.test is not None else task.pool.iloc[:0]
    used = set(train["sequence"])
    overlap = test["sequence"].isin(used)
    removed = int(overlap.sum())
    if removed:  # only for tasks built by hand: load_task removes pool rows from the test once
        test = test[~overlap].reset_index(drop=True)
    test_source = task.test_note + (f" ({removed} row(s) also in this training draw removed)"
                                    if removed else "")
    if len(test) == 0 or test["label"].nunique() < 2:
        raise GeneMaskInputError(
            f"no test rows of at least two classes are left after drawing {shots} shots "
            f"({len(test)} rows).", source=task.source,
            fix="use fewer shots, or give a test file with --test.")
    if max_test is not None and len(test) > max_test:
        rng = np.random.default_rng(0)  # one subset for every k and seed
        test = test.iloc[np.sort(rng.choice(len(test), size=max_test, replace=False))]
        test = test.reset_index(drop=True)
        test_source += f"; a fixed random {max_test} of them"
    return ShotDraw(train, test, int(shots), int(seed), train_source, test_source, removed, role)


def demo_task(seed: int = 0, window: int = 70, n_per_class: int = 1000,
              test_fraction: float = 0.5) -> FewShotTask:
    """Binary task from the demo genome: does a window hold a planted motif?

    Positives: ``window``-nt windows (Prom-core's 70 nt by default) that contain a whole
    planted JASPAR site at a random offset; negatives: windows of the same genome that
    overlap no planted site. Windows with N are skipped; soft-masked bases are
    upper-cased. Half of each class is the fixed test set.
    """
    from ..sequences import demo_genome
    genome = demo_genome()
    rng = np.random.default_rng(seed)
    seqs = {r.name: r.sequence.upper() for r in genome.records}
    sites = genome.motifs
    covered = {name: np.zeros(len(s) + 1, dtype=np.int32) for name, s in seqs.items()}
    for rec, start, end in sites[["record", "start", "end"]].itertuples(index=False):
        covered[rec][start] += 1
        covered[rec][end] -= 1
    covered = {name: np.cumsum(c)[:-1] > 0 for name, c in covered.items()}
    pos, neg = [], []
    for i in rng.permutation(len(sites)):
        rec, start, end = sites.iloc[i][["record", "start", "end"]]
        width = end - start
        if width > window:
            continue
        left = int(start - rng.integers(0, window - width + 1))
        text = seqs[rec][max(left, 0):left + window]
        if len(text) == window and "N" not in text:
            pos.append(text)
        if len(pos) >= n_per_class:
            break
    names = list(seqs)
    while len(neg) < len(pos):
        rec = names[int(rng.integers(len(names)))]
        left = int(rng.integers(0, len(seqs[rec]) - window))
        text = seqs[rec][left:left + window]
        if "N" not in text and not covered[rec][left:left + window].any():
            neg.append(text)
    frame = pd.DataFrame({"sequence": pos + neg, "label": [1] * len(pos) + [0] * len(neg)})
    frame["line"], frame["file"] = np.arange(len(frame)) + 1, "demo"
    pool, test = _split(frame, test_fraction, seed)
    return FewShotTask("demo-motifs", pool, test, "demo",
                       test_note=f"{test_fraction:.0%} of the demo motif windows held out")
