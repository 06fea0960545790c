"""The one answer to "where is data set X": data roots in order, presence, checksums.

Data roots, searched in this order (the first that holds *all* files of a data set,
with the registered sizes, wins):

1. ``$GENEMASK_DATA``: a folder you choose (downloads go there too when it is set);
2. the user cache: ``$GENEMASK_CACHE``, else ``platformdirs.user_cache_dir("genemask_viz")``
   (the folder ``pooch.os_cache("genemask_viz")`` names; ``~/.cache/genemask_viz`` on
   Linux): where ``genemask data fetch`` downloads by default;
3. the development copy ``../shared/data`` beside the repository checkout
   (``$GENEMASK_SHARED_DATA``, the older name, replaces it).

Every root has the same layout (``genemask/...``, see :mod:`genemask_viz.data.registry`).
Nothing here imports the rest of the package; errors are :class:`DataError` (a
``ValueError`` with ``problem``, ``source`` and ``fix`` like the package's input error).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .registry import DATASETS, DataSet

ENV_DATA = "GENEMASK_DATA"
ENV_SHARED = "GENEMASK_SHARED_DATA"
ENV_URL = "GENEMASK_DATA_URL"
ENV_CACHE = "GENEMASK_CACHE"
APP_NAME = "genemask_viz"


class DataError(ValueError):
    """A data set that is missing, unknown, corrupt or could not be downloaded."""

    def __init__(self, message: str, *, source: object | None = None, fix: str | None = None):
        self.problem, self.fix, self.line = message, fix, None
        self.source = None if source is None else str(source)
        text = (f"{self.source}: " if self.source else "") + message + (f" Fix: {fix}" if fix else "")
        super().__init__(text)


def user_cache_dir() -> Path:
    """The package's user cache folder: ``$GENEMASK_CACHE``, else platformdirs' (= ``pooch.os_cache``).

    Other caches of the package (demo genome, genome index, few-shot splits) belong here too.
    """
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir(APP_NAME))


def dev_data_dir() -> Path:
    """``$GENEMASK_SHARED_DATA`` or ``../shared/data`` beside the repository checkout."""
    env = os.environ.get(ENV_SHARED)
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_roots() -> list[tuple[str, Path]]:
    """``(label, folder)`` of every data root, in search order (folders may not exist)."""
    roots = []
    if os.environ.get(ENV_DATA):
        roots.append((f"${ENV_DATA}", Path(os.environ[ENV_DATA]).expanduser()))
    roots.append(("user cache", user_cache_dir()))
    roots.append(("development copy", dev_data_dir()))
    return roots


def download_root() -> Path:
    """Where ``fetch`` writes: ``$GENEMASK_DATA`` when set, else the user cache."""
    env = os.environ.get(ENV_DATA)
    return Path(env).expanduser() if env else user_cache_dir()


def base_url() -> str:
    """``$GENEMASK_DATA_URL`` (a mirror in the release's layout) or the pinned release; ends in '/'."""
    from .registry import DEFAULT_BASE_URL
    url = os.environ.get(ENV_URL) or DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def get_dataset(name: str) -> DataSet:
    """The registered data set called ``name`` (case-insensitive)."""
    for key, ds in DATASETS.items():
        if key.lower() == str(name).strip().lower():
            return ds
    raise DataError(f"unknown data set {name!r}.", fix=f"use one of {', '.join(DATASETS)}.")


def _complete(root: Path, ds: DataSet) -> bool:
    """All files of ``ds`` under ``root`` with their registered sizes (cheap; no checksum)."""
    for f in ds.files:
        p = root / f.local
        try:
            if not p.is_file() or p.stat().st_size != f.size:
                return False
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Located:
    """Where a data set was found: the root's label, the root, the data set's file or folder."""

    name: str
    root_label: str
    root: Path
    path: Path


def locate(name: str) -> Located | None:
    """The first data root holding all of ``name``'s files, or None."""
    ds = get_dataset(name)
    for label, root in data_roots():
        if _complete(root, ds):
            return Located(ds.name, label, root, root / ds.path)
    return None


def dataset_path(name: str) -> Path:
    """The file (ranking) or folder (few-shot task) of data set ``name``; :class:`DataError` if absent."""
    found = locate(name)
    if found is None:
        ds = get_dataset(name)
        raise DataError(f"data set {ds.name} is not on this machine (looked in "
                        + ", ".join(f"{label} {root}" for label, root in data_roots()) + ").",
                        fix=f"run `genemask data fetch {ds.name}` (or the Home page's fetch button), "
                            f"or set {ENV_DATA} to a folder that holds it.")
    return found.path


def status() -> list[dict]:
    """One row per registered data set: name, kind, present, where, path, size, description."""
    rows = []
    for ds in DATASETS.values():
        found = locate(ds.name)
        rows.append(dict(name=ds.name, kind=ds.kind, present=found is not None,
                         where=found.root_label if found else "", path=str(found.path) if found else "",
                         files=len(ds.files), size_mb=round(ds.size / 1e6, 2), description=ds.description))
    return rows


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify(names: list[str] | None = None) -> list[dict]:
    """Checksum every file of the named data sets (default all) where they are found.

    Returns one row per file: ``dataset, file, where, ok, detail`` (``detail`` says
    "missing", "size differs" or "checksum differs" when not ok). A data set found
    nowhere is checked in the download root, so its missing files are listed.
    """
    rows = []
    for ds in [get_dataset(n) for n in names] if names else list(DATASETS.values()):
        found = locate(ds.name)
        label, root = (found.root_label, found.root) if found else ("download root", download_root())
        for f in ds.files:
            p = root / f.local
            if not p.is_file():
                ok, detail = False, "missing"
            elif p.stat().st_size != f.size:
                ok, detail = False, f"size differs ({p.stat().st_size} bytes, expected {f.size})"
            elif sha256_of(p) != f.sha256:
                ok, detail = False, "checksum differs (corrupt or altered file)"
            else:
                ok, detail = True, "ok"
            rows.append(dict(dataset=ds.name, file=str(p), where=label, ok=ok, detail=detail))
    return rows
