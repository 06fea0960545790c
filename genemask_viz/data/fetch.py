"""Download the registered data sets with pooch: checksummed, resumable, with progress.

Each file goes to ``<download root>/<local path>`` (see
:func:`~genemask_viz.data.resolve.download_root`). The bytes arrive in
``<file>.part``; an interrupted download resumes from there with an HTTP ``Range``
request (a server that ignores it sends the whole file again). When the file is
complete, pooch checks its SHA-256 against the registry and only then moves it into
place; a file whose checksum differs is refused and removed (``.part`` included),
so the next ``fetch`` starts it afresh. Files already in place with the right
checksum are not downloaded again.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .registry import LICENSE, DataFile
from .resolve import DataError, base_url, download_root, get_dataset, locate

#: progress(done_bytes, total_bytes, text) for the app's progress bar
Progress = Callable[[int, int, str], None]
_CHUNK = 1 << 16
_TIMEOUT = (15, 60)  # connect, read (seconds)
_OFFLINE_FIX = ("connect to the internet and run `genemask data fetch` again (it resumes), set "
                "GENEMASK_DATA_URL to a mirror of the release, or set GENEMASK_DATA to a folder that "
                "already holds the files.")


class _Bytes:
    """Running byte count over all files of one fetch, feeding tqdm and/or a callback."""

    def __init__(self, total: int, show: bool, progress: Progress | None):
        from tqdm.auto import tqdm
        self.done, self.total, self.progress = 0, total, progress
        self._last = (-1, "")  # (percent, text) last sent to ``progress``: at most ~100 updates a file
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                        disable=not show, desc="genemask data")

    def add(self, n: int, text: str) -> None:
        self.done += n
        self.bar.update(n)
        now = (100 * self.done // max(self.total, 1), text)
        if self.progress is not None and (now != self._last or self.done == self.total):
            self._last = now
            self.progress(self.done, self.total, text)

    def close(self) -> None:
        self.bar.close()


class _ResumableDownloader:
    """A pooch downloader writing ``target.part`` and resuming it with a Range request."""

    def __init__(self, target: Path, file: DataFile, counter: _Bytes):
        self.part = target.with_name(target.name + ".part")
        self.file, self.counter, self.called = file, counter, False

    def __call__(self, url: str, output_file: str, pooch=None, check_only: bool = False) -> None:
        import requests
        self.called = True
        have = self.part.stat().st_size if self.part.exists() else 0
        if have > self.file.size:  # cannot be a prefix of the right file
            self.part.unlink()
            have = 0
        self.counter.add(have, f"{self.file.local} (resumed at {have:,} bytes)" if have else self.file.local)
        if have < self.file.size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with requests.get(url, headers=headers, stream=True, timeout=_TIMEOUT) as resp:
                    if resp.status_code == 416:  # nothing left to send: let the checksum decide
                        pass
                    else:
                        resp.raise_for_status()
                        start = _range_start(resp) if resp.status_code == 206 else 0
                        if start != have:  # whole file (server ignored Range): start over
                            self.counter.add(-have, self.file.local)
                        with open(self.part, "ab" if start == have and have else "wb") as fh:
                            for chunk in resp.iter_content(_CHUNK):
                                fh.write(chunk)
                                self.counter.add(len(chunk), self.file.local)
            except requests.exceptions.HTTPError as exc:
                raise DataError(f"the server answered HTTP {exc.response.status_code} for {url}.",
                                fix="check GENEMASK_DATA_URL (a mirror must use the release's layout), "
                                    "or unset it to use the pinned release.") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                raise DataError(f"no network: could not download {url} ({type(exc).__name__}).",
                                fix=_OFFLINE_FIX) from None
        os.replace(self.part, output_file)  # pooch checks the checksum, then moves it into place


def _range_start(resp) -> int:
    """First byte of a 206 answer (``Content-Range: bytes START-END/TOTAL``); -1 if unreadable."""
    text = resp.headers.get("Content-Range", "")
    try:
        return int(text.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return -1


def fetch(names: list[str] | None = None, *, progress: Progress | None = None,
          show_progress: bool = True) -> list[dict]:
    """Download the named data sets (default: all) that are not yet on this machine.

    Returns one row per data set: ``name, action`` ("present" with ``where``, or
    "downloaded") and ``path``. Raises :class:`DataError` for an unknown name, no
    network, an HTTP error, or a checksum mismatch (the bad file is removed).
    """
    import pooch

    datasets = [get_dataset(n) for n in names] if names else None
    if datasets is None:
        from .registry import DATASETS
        datasets = list(DATASETS.values())
    root, url = download_root(), base_url()
    todo, rows = [], []
    for ds in datasets:
        found = locate(ds.name)
        if found is not None:
            rows.append(dict(name=ds.name, action="present", where=found.root_label, path=str(found.path)))
        else:
            todo.append(ds)
    if not todo:
        return rows
    files = [f for ds in todo for f in ds.files]
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root):
        _download(pooch, root, url, files, show_progress, progress)
    for ds in todo:
        rows.append(dict(name=ds.name, action="downloaded", where=str(root), path=str(root / ds.path)))
    return rows


@contextmanager
def _exclusive(root: Path):
    """One fetch at a time per download folder (two writers of one ``.part`` would corrupt it)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the checksums still catch a mixed-up file
        yield
        return
    with open(root / ".fetch.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DataError("another `genemask data fetch` (or the app's fetch button) is downloading "
                            "into this folder.", source=root,
                            fix="wait until it has finished, then run the command again.") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download(pooch, root: Path, url: str, files: list[DataFile], show_progress: bool,
              progress: Progress | None) -> None:
    store = pooch.create(path=root, base_url=url, registry={f.local: f"sha256:{f.sha256}" for f in files},
                         urls={f.local: url + f.remote for f in files}, retry_if_failed=0)
    pooch.get_logger().setLevel("WARNING")
    counter = _Bytes(sum(f.size for f in files), show_progress, progress)
    try:
        for f in files:
            target = root / f.local
            downloader = _ResumableDownloader(target, f, counter)
            try:
                store.fetch(f.local, downloader=downloader)
                if not downloader.called:  # already in place with the right checksum
                    counter.add(f.size, f.local)
            except ValueError as exc:
                if isinstance(exc, DataError):
                    raise
                # pooch: the hash differs; its temporary file is gone, the .part was moved into it
                raise DataError(
                    f"{f.local}: the downloaded file's SHA-256 differs from the registry; it was refused "
                    "and removed.", source=url + f.remote,
                    fix="run `genemask data fetch` again; if it persists, the server (GENEMASK_DATA_URL) "
                        "serves other files than the pinned release.") from None
    finally:
        counter.close()


__all__ = ["fetch", "LICENSE"]
