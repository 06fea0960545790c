"""Random access to a genome: a 2-bit code cache plus an index of records and ACGT runs.

A FASTA (plain or gzip, one or several files) is streamed **once** into a cache
folder (like ``samtools faidx`` plus a ``.2bit`` file, in our own simple format):

- ``codes.2bit``: every base of every record, 4 bases per byte (A=0, T=1, C=2, G=3,
  most significant bits first; N and other IUPAC codes are stored as 0 and never read,
  because reads only happen inside ACGT runs);
- ``runs.npy``: int64 ``(n_runs, 3)`` = record, start, end (global base coordinates,
  half-open) of every maximal stretch of A/C/G/T; N runs are therefore excluded;
- ``meta.json``: the source files (path, size, mtime), record names, lengths and
  global offsets (record r occupies ``[offset_r, offset_r + length_r)``).

Reading uses ``numpy.memmap``: memory does not grow with the genome (hg38: 3.1 Gbp ->
a 0.78 GB cache file on disk; in memory only the pages touched plus ~24 bytes per ACGT
run). gzip input needs no bgzip: it is decompressed once while the cache is built.
The cache lives in ``$GENEMASK_CACHE/genome_index`` (default
``~/.cache/genemask_viz/genome_index``), keyed by the files' absolute paths, sizes and
modification times, so an edited FASTA gets a fresh cache; it is written into a
temporary folder and renamed into place, so an interrupted build leaves nothing
half-written; concurrent processes (accelerate) wait on a file lock while one builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GeneMaskInputError
from .fasta import INVALID, stream_fasta

__all__ = ["GenomeIndex", "index_genome", "genome_cache_dir"]

FORMAT_VERSION = 1

# byte -> its 4 codes (most significant bits first)
_UNPACK = np.stack([(np.arange(256) >> s) & 3 for s in (6, 4, 2, 0)], axis=1).astype(np.uint8)


def genome_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    root = cache_dir or os.environ.get("GENEMASK_CACHE") or Path.home() / ".cache" / "genemask_viz"
    return Path(root) / "genome_index"


def _file_key(paths: list[Path]) -> tuple[list[dict], str]:
    files = []
    for p in paths:
        if not p.is_file():
            raise GeneMaskInputError("corpus file not found.", source=p,
                                     fix="give a FASTA file (plain or .gz), or 'demo'.")
        st = p.stat()
        files.append({"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    text = json.dumps({"files": files, "version": FORMAT_VERSION}, sort_keys=True)
    return files, hashlib.sha1(text.encode()).hexdigest()[:16]


class _Packer:
    """Appends codes to a 2-bit file, carrying the 0-3 bases that do not fill a byte."""

    def __init__(self, fh):
        self.fh, self.carry = fh, np.empty(0, dtype=np.uint8)

    def add(self, codes: np.ndarray) -> None:
        codes = codes & 3  # INVALID (4) & 3 = 0: never read
        if self.carry.size:
            codes = np.concatenate((self.carry, codes))
        whole = codes.size - codes.size % 4
        self.carry = codes[whole:]
        q = codes[:whole].reshape(-1, 4)
        self.fh.write(((q[:, 0] << 6) | (q[:, 1] << 4) | (q[:, 2] << 2) | q[:, 3]).astype(np.uint8)
                      .tobytes())

    def close(self) -> None:
        if self.carry.size:
            self.add(np.zeros(4 - self.carry.size, dtype=np.uint8))


def _build(paths: list[Path], files: list[dict], folder: Path) -> None:
    names, lengths, runs = [], [], []
    open_run = None          # [record, start, end] of the run still growing
    pos = 0                  # global position of the next base
    with open(folder / "codes.2bit", "wb") as fh:
        packer = _Packer(fh)
        for path in paths:
            first_record = len(names)
            for chunk in stream_fasta(path):
                rec = first_record + chunk.record
                if rec == len(names):  # a new record
                    names.append(chunk.name)
                    lengths.append(0)
                    if open_run is not None:
                        runs.append(np.array([open_run], dtype=np.int64))
                        open_run = None
                codes = chunk.codes
                if not codes.size:
                    continue
                packer.add(codes)
                edge = np.zeros(1, dtype=np.int8)
                valid = np.concatenate((edge, (codes < INVALID).view(np.int8), edge))
                edges = np.flatnonzero(valid[1:] != valid[:-1])  # run starts and ends in this chunk
                starts, ends = edges[0::2] + pos, edges[1::2] + pos
                if starts.size and open_run is not None and open_run[2] == starts[0]:
                    open_run[2] = int(ends[0])  # the run goes on across the chunk edge
                    starts, ends = starts[1:], ends[1:]
                if starts.size:  # the chunk's other runs: all closed but the last
                    if open_run is not None:
                        runs.append(np.array([open_run], dtype=np.int64))
                    runs.append(np.stack((np.full(starts.size - 1, rec), starts[:-1], ends[:-1]),
                                         axis=1).astype(np.int64))
                    open_run = [rec, int(starts[-1]), int(ends[-1])]
                pos += codes.size
                lengths[rec] += codes.size
        if open_run is not None:
            runs.append(np.array([open_run], dtype=np.int64))
        packer.close()
    if not names:
        raise GeneMaskInputError("has no FASTA record.", source=paths[0])
    runs = np.concatenate(runs) if runs else np.empty((0, 3), dtype=np.int64)
    np.save(folder / "runs.npy", runs, allow_pickle=False)
    meta = {"version": FORMAT_VERSION, "files": files, "names": names, "lengths": lengths}
    (folder / "meta.json").write_text(json.dumps(meta))


def index_genome(paths, cache_dir: str | os.PathLike | None = None,
                 progress: bool = False) -> "GenomeIndex":
    """The :class:`GenomeIndex` of one FASTA path or a list of them (built once, then cached)."""
    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not paths:
        raise GeneMaskInputError("no corpus file given.", fix="give a FASTA path or 'demo'.")
    files, key = _file_key(paths)
    root = genome_cache_dir(cache_dir)
    folder = root / key
    if not (folder / "meta.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        with _lock(root / f".{key}.lock"):  # one builder; other processes wait, then reuse
            if not (folder / "meta.json").is_file():
                if progress:
                    import sys
                    print(f"indexing {', '.join(map(str, paths))} once into {folder} "
                          "(2 bits per base)", file=sys.stderr)
                tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
                try:
                    _build(paths, files, tmp)
                    os.rename(tmp, folder)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    return GenomeIndex(folder)


class _lock:
    """An exclusive advisory file lock (no-op where ``fcntl`` is missing)."""

    def __init__(self, path: Path):
        self.path, self.fh = path, None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # Windows: concurrent builders each write a temporary folder
            return self
        self.fh = open(self.path, "a")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            self.fh.close()  # closing releases the lock
        return False


@dataclass
class GenomeIndex:
    """A cached genome: record names/lengths/offsets, ACGT runs, 2-bit codes (memory-mapped)."""

    folder: Path

    def __post_init__(self):
        self.folder = Path(self.folder)
        meta = json.loads((self.folder / "meta.json").read_text())
        self.files = [f["path"] for f in meta["files"]]
        self.names: list[str] = list(meta["names"])
        self.lengths = np.asarray(meta["lengths"], dtype=np.int64)
        self.offsets = np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)
        runs = np.load(self.folder / "runs.npy", allow_pickle=False)
        self.run_record, self.run_start, self.run_end = runs[:, 0], runs[:, 1], runs[:, 2]
        self._packed = None

    @property
    def total_length(self) -> int:
        return int(self.lengths.sum())

    def valid_bases(self) -> np.ndarray:
        """ACGT bases per record (N runs excluded)."""
        return np.bincount(self.run_record, weights=self.run_end - self.run_start,
                           minlength=len(self.names)).astype(np.int64)

    @property
    def packed(self) -> np.ndarray:
        if self._packed is None:  # opened lazily: workers forked by a DataLoader open their own
            path = self.folder / "codes.2bit"
            self._packed = (np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size
                            else np.zeros(1, dtype=np.uint8))
        return self._packed

    def __getstate__(self):
        return {"folder": self.folder}

    def __setstate__(self, state):
        self.__init__(state["folder"])

    def read(self, start: int, length: int) -> np.ndarray:
        """Codes (uint8, 0..3) of global bases ``[start, start + length)`` (inside ACGT runs)."""
        first, last = start // 4, (start + length + 3) // 4
        codes = _UNPACK[np.asarray(self.packed[first:last])].reshape(-1)
        return codes[start - 4 * first:start - 4 * first + length]

    def record_of(self, positions) -> np.ndarray:
        """Record index of each global position."""
        return np.searchsorted(self.offsets, np.asarray(positions), side="right") - 1
