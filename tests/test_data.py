"""genemask_viz.data and `genemask data`: registry, resolution order, fetch / resume / checksum
refusal against a local HTTP server (127.0.0.1, a free port), and a fresh-venv install.

The server serves the development copy (../shared/data) in the GeneMask release's layout,
built in tmp_path from symlinks. Nothing outside this machine is contacted.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from genemask_viz import data
from genemask_viz.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "genemask").is_dir(),
                                  reason=f"development copy of the release's data absent: {SHARED}")
RANKING = data.DATASETS["hg38-ranking"].files[0]


# ---- a small HTTP server with optional Range support ---------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    honour_range = True
    log: list

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.root / self.path.lstrip("/")
        rng = self.headers.get("Range")
        if not path.is_file():
            self.log.append((self.path, rng, 404, 0))
            self.send_error(404)
            return
        body = path.read_bytes()
        status, start = 200, 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and self.honour_range:
            start = int(m.group(1))
            if start >= len(body):
                self.log.append((self.path, rng, 416, 0))
                self.send_error(416)
                return
            status = 206
        part = body[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(part)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        self.wfile.write(part)
        self.log.append((self.path, rng, status, len(part)))

    def log_message(self, *args):  # keep the test output quiet
        pass


def _release_layout(root: Path, names) -> Path:
    """The release's layout (symlinks into ../shared/data) for the data sets ``names``."""
    for ds in names:
        for f in data.DATASETS[ds].files:
            (root / f.remote).parent.mkdir(parents=True, exist_ok=True)
            (root / f.remote).symlink_to(SHARED / f.local)
    return root


@pytest.fixture
def release(tmp_path):
    """The release's layout for hg38-ranking and Prom-core (enough for most tests)."""
    return _release_layout(tmp_path / "release", ("hg38-ranking", "Prom-core"))


@pytest.fixture
def serve():
    """serve(folder, honour_range=True) -> (base url, request log); stopped after the test."""
    servers = []

    def start(folder: Path, honour_range: bool = True):
        log: list = []
        handler = type("H", (_Handler,), dict(root=folder, honour_range=honour_range, log=log))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", log

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No GENEMASK_DATA, an empty user cache, no development copy: a user with only the repo."""
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    monkeypatch.delenv(data.ENV_URL, raising=False)
    monkeypatch.delenv(data.ENV_CACHE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv(data.ENV_SHARED, str(tmp_path / "no-shared-data"))
    return tmp_path / "xdg-cache" / "genemask_viz"


def _files_under(folder: Path) -> list[str]:
    """Files under ``folder`` except fetch's lock file."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and p.name != ".fetch.lock")


# ---- registry and resolution ----------------------------------------------------------------------
@needs_shared
def test_registry_checksums_match_the_development_copy(monkeypatch):
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    monkeypatch.setenv(data.ENV_SHARED, str(SHARED))
    monkeypatch.setenv(data.ENV_CACHE, "/nonexistent-cache-for-test")
    rows = data.verify()
    assert len(rows) == sum(len(ds.files) for ds in data.DATASETS.values()) == 17
    assert all(r["ok"] and r["where"] == "development copy" for r in rows), rows
    remote = {f.remote for ds in data.DATASETS.values() for f in ds.files}
    assert "Data-A_norm-pmi-score-ranking.csv" in remote
    assert "Data-B_fewshot-task-datasets/Splice-40/full-dataset/test.tsv" in remote


@needs_shared
def test_resolution_order_env_folder_then_user_cache_then_development_copy(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_SHARED, str(SHARED))
    assert data.locate("hg38-ranking").root_label == "development copy"
    assert data.dataset_path("HG38-Ranking") == SHARED / RANKING.local  # names are case-insensitive
    # $GENEMASK_CACHE moves the user cache (the package's other caches use it too)
    monkeypatch.setenv(data.ENV_CACHE, str(tmp_path / "elsewhere"))
    assert data.user_cache_dir() == data.download_root() == tmp_path / "elsewhere"
    monkeypatch.delenv(data.ENV_CACHE)
    assert data.user_cache_dir() == isolated  # platformdirs, under $XDG_CACHE_HOME
    # a copy in the user cache wins over the development copy
    (isolated / RANKING.local).parent.mkdir(parents=True)
    shutil.copyfile(SHARED / RANKING.local, isolated / RANKING.local)
    assert data.dataset_path("hg38-ranking") == isolated / RANKING.local
    # $GENEMASK_DATA wins over both, but only when complete (a truncated file is skipped)
    mine = tmp_path / "mine"
    (mine / RANKING.local).parent.mkdir(parents=True)
    (mine / RANKING.local).write_bytes((SHARED / RANKING.local).read_bytes()[:1000])
    monkeypatch.setenv(data.ENV_DATA, str(mine))
    assert data.locate("hg38-ranking").root_label == "user cache"
    shutil.copyfile(SHARED / RANKING.local, mine / RANKING.local)
    assert data.locate("hg38-ranking").root_label == "$GENEMASK_DATA"
    assert data.download_root() == mine


def test_missing_and_unknown_data_sets_say_how_to_get_them(isolated, capsys):
    with pytest.raises(data.DataError, match=r"genemask data fetch Cohn-enh"):
        data.dataset_path("cohn-enh")
    assert main(["data", "path", "nonsense"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown data set 'nonsense'" in err and "hg38-ranking" in err
    assert main(["data", "ls"]) == 0
    out = capsys.readouterr().out
    assert out.count(" missing ") == 4 and "GPL-3.0" in out and str(isolated) in out


@needs_shared
def test_fewshot_tasks_and_app_inputs_find_data_sets_through_the_resolver(isolated, tmp_path, monkeypatch):
    from genemask_viz.app_logic.inputs import (benchmark_datasets, fewshot_root, hg38_ranking_path,
                                               shared_data_dir)
    from genemask_viz.errors import GeneMaskInputError
    from genemask_viz.training.tasks import load_task
    assert shared_data_dir() is None and hg38_ranking_path() is None and fewshot_root() is None
    assert benchmark_datasets() == {}
    with pytest.raises(GeneMaskInputError, match="genemask data fetch Prom-core"):
        load_task("Prom-core")
    mine = _release_layout(tmp_path / "mine-release", ["Prom-core"])  # any folder in our layout will do
    ours = tmp_path / "mine"
    for f in data.DATASETS["Prom-core"].files:
        (ours / f.local).parent.mkdir(parents=True, exist_ok=True)
        (ours / f.local).symlink_to(mine / f.remote)
    monkeypatch.setenv(data.ENV_DATA, str(ours))
    task = load_task("prom-core")
    assert task.name == "Prom-core" and Path(task.source) == ours / "genemask" / "fewshot" / "Prom-core"
    assert len(task.test) > 5000 and set(task.pool["label"]) == {0, 1}
    assert (shared_data_dir(), fewshot_root()) == (ours, ours / "genemask" / "fewshot")
    assert hg38_ranking_path() is None
    assert sorted(benchmark_datasets()) == ["Prom-core"]


# ---- fetch against a local server -----------------------------------------------------------------
@needs_shared
def test_fetch_downloads_verifies_and_skips_what_is_present(isolated, release, serve, monkeypatch, capsys):
    url, log = serve(release)
    monkeypatch.setenv(data.ENV_URL, url)
    seen = []
    rows = data.fetch(["hg38-ranking", "Prom-core"], show_progress=False,
                      progress=lambda done, total, text: seen.append((done, total)))
    assert [r["action"] for r in rows] == ["downloaded", "downloaded"]
    for ds in ("hg38-ranking", "Prom-core"):
        for f in data.DATASETS[ds].files:
            assert (isolated / f.local).read_bytes() == (SHARED / f.local).read_bytes()
    assert _files_under(isolated) == sorted(f.local for ds in ("hg38-ranking", "Prom-core")
                                            for f in data.DATASETS[ds].files)  # no .part, no temp files
    total = RANKING.size + data.DATASETS["Prom-core"].size
    assert seen[-1] == (total, total) and all(t == total for _, t in seen)
    assert sorted(p for p, *_ in log) == sorted("/" + f.remote for ds in ("hg38-ranking", "Prom-core")
                                                for f in data.DATASETS[ds].files)
    # the resolver now finds them in the user cache, and a second fetch downloads nothing
    assert data.dataset_path("Prom-core") == isolated / "genemask" / "fewshot" / "Prom-core"
    n = len(log)
    assert main(["data", "fetch", "--quiet", "Prom-core", "hg38-ranking"]) == 0
    assert len(log) == n and capsys.readouterr().out.count("present (user cache)") == 2
    assert main(["data", "verify", "Prom-core", "hg38-ranking"]) == 0
    assert capsys.readouterr().out.count("ok ") == 7


@needs_shared
def test_an_interrupted_data_set_resumes_file_by_file(isolated, release, serve, monkeypatch):
    url, log = serve(release)
    monkeypatch.setenv(data.ENV_URL, url)
    files = data.DATASETS["Prom-core"].files
    for f in files[:3]:  # the first three files arrived before the interruption
        (isolated / f.local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / f.local, isolated / f.local)
    seen = []
    data.fetch(["Prom-core"], show_progress=False, progress=lambda done, total, text: seen.append(done))
    assert sorted(p for p, *_ in log) == sorted("/" + f.remote for f in files[3:])
    assert seen[-1] == data.DATASETS["Prom-core"].size and seen == sorted(seen)
    assert all(r["ok"] for r in data.verify(["Prom-core"]))


def test_one_fetch_at_a_time_per_folder(isolated, monkeypatch):
    import fcntl
    monkeypatch.setenv(data.ENV_URL, f"http://127.0.0.1:{_closed_port()}/")
    isolated.mkdir(parents=True)
    with open(isolated / ".fetch.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(data.DataError, match="another `genemask data fetch`"):
            data.fetch(["hg38-ranking"], show_progress=False)
    with pytest.raises(data.DataError, match="no network"):  # the lock is free again
        data.fetch(["hg38-ranking"], show_progress=False)


@needs_shared
@pytest.mark.parametrize("honour_range", [True, False])
def test_fetch_resumes_a_partial_download(isolated, release, serve, monkeypatch, honour_range):
    url, log = serve(release, honour_range=honour_range)
    monkeypatch.setenv(data.ENV_URL, url)
    target = isolated / RANKING.local
    target.parent.mkdir(parents=True)
    full = (SHARED / RANKING.local).read_bytes()
    have = 100_000
    # the prefix is right when the server resumes; when it ignores Range the prefix may be anything
    part = full[:have] if honour_range else b"x" * have
    target.with_name(target.name + ".part").write_bytes(part)
    data.fetch(["hg38-ranking"], show_progress=False)
    assert target.read_bytes() == full and not target.with_name(target.name + ".part").exists()
    assert log == [("/" + RANKING.remote, f"bytes={have}-", 206 if honour_range else 200,
                    len(full) - have if honour_range else len(full))]


@needs_shared
def test_a_file_whose_checksum_differs_is_refused_and_removed(isolated, release, serve, monkeypatch, capsys):
    bad = release / RANKING.remote
    body = bytearray((SHARED / RANKING.local).read_bytes())
    body[1234] ^= 1  # same size, one bit differs
    bad.unlink()
    bad.write_bytes(bytes(body))
    url, log = serve(release)
    monkeypatch.setenv(data.ENV_URL, url)
    assert main(["data", "fetch", "--quiet", "hg38-ranking"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "SHA-256 differs" in err and "refused and removed" in err
    assert _files_under(isolated) == []  # neither the file nor its .part nor pooch's temporary file
    assert data.locate("hg38-ranking") is None
    # a partial download that turns out wrong is removed too, so the next fetch starts afresh
    target = isolated / RANKING.local
    target.with_name(target.name + ".part").write_bytes(bytes(body[:5000]))
    with pytest.raises(data.DataError, match="SHA-256 differs"):
        data.fetch(["hg38-ranking"], show_progress=False)
    assert _files_under(isolated) == []


def test_no_network_and_http_errors_are_one_line_with_the_fix(isolated, serve, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(data.ENV_URL, f"http://127.0.0.1:{_closed_port()}")
    assert main(["data", "fetch", "--quiet", "hg38-ranking"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no network" in err and "GENEMASK_DATA_URL" in err
    url, log = serve(tmp_path / "empty-mirror")
    monkeypatch.setenv(data.ENV_URL, url)
    with pytest.raises(data.DataError, match="HTTP 404"):
        data.fetch(["hg38-ranking"], show_progress=False)
    assert log[0][0] == "/Data-A_norm-pmi-score-ranking.csv"


@needs_shared
def test_verify_reports_an_altered_file(isolated, tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    (mine / RANKING.local).parent.mkdir(parents=True)
    body = bytearray((SHARED / RANKING.local).read_bytes())
    body[-2] ^= 4
    (mine / RANKING.local).write_bytes(bytes(body))
    monkeypatch.setenv(data.ENV_DATA, str(mine))
    rows = data.verify(["hg38-ranking"])
    assert [(r["ok"], r["detail"], r["where"]) for r in rows] == \
        [(False, "checksum differs (corrupt or altered file)", "$GENEMASK_DATA")]
    assert main(["data", "verify"]) == 1
    out = capsys.readouterr().out
    assert out.count("BAD") == 1 + 16  # the altered file, and every file of the sets found nowhere


# ---- the app's Home page --------------------------------------------------------------------------
def _home(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from genemask_viz.app_logic import warm
    # the demo-genome warm-up thread is not needed on the Home page: keep the 2 cores for this test
    monkeypatch.setitem(warm._WARM, "thread", threading.Thread())
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()


def _closed_port() -> int:
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_shared
def test_home_page_lists_the_data_sets_and_fetches_the_missing_ones(isolated, tmp_path, serve, monkeypatch):
    url, log = serve(_release_layout(tmp_path / "release", data.DATASETS))
    monkeypatch.setenv(data.ENV_URL, f"http://127.0.0.1:{_closed_port()}/")
    at = _home(monkeypatch)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["data set"]) == list(data.DATASETS) and set(table["present"]) == {"no"}
    assert any("genemask data fetch" in x.value for x in at.info)
    # no network: one line that says what to do, and nothing half-written stays behind
    at.button(key="home_fetch_data").click().run()
    assert not at.exception and len(at.error) == 1
    assert "no network" in at.error[0].value and "Fix:" in at.error[0].value and "\n" not in at.error[0].value
    # with the server: every data set is fetched, then shown as present in the user cache
    monkeypatch.setenv(data.ENV_URL, url)
    at.button(key="home_fetch_data").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert set(table["present"]) == {"yes"} and set(table["where"]) == {"user cache"}
    assert not [b for b in at.button if b.key == "home_fetch_data"]
    assert len(log) == sum(len(ds.files) for ds in data.DATASETS.values())
    assert all(r["ok"] for r in data.verify())


# ---- packaging: a user with only the repository -------------------------------------------------
@pytest.mark.slow
def test_fresh_venv_installs_the_package_and_its_command(tmp_path):
    """`pip install .` in a new venv (system site-packages give the pinned deps offline)."""
    src = tmp_path / "src"  # what a clone holds for building: pyproject, README, the package
    shutil.copytree(REPO / "genemask_viz", src / "genemask_viz",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, src / name)
    venv = tmp_path / "venv"
    t0 = time.monotonic()
    # --without-pip: pip and setuptools come from the system site-packages (the venv's bundled
    # setuptools is older than pyproject's build requirement and there is no index here)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True)
    py, exe = venv / "bin" / "python", venv / "bin" / "genemask"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "XDG_CACHE_HOME": str(tmp_path / "cache"), data.ENV_SHARED: str(tmp_path / "none")}
    env.pop(data.ENV_DATA, None)
    env.pop(data.ENV_CACHE, None)
    env.pop("PYTHONPATH", None)  # the installed copy must be the one imported
    inst = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-build-isolation",
                           str(src)], env=env, capture_output=True, text=True, cwd=tmp_path)
    # with no index, this fails unless every declared range admits the pinned set installed here
    assert inst.returncode == 0, inst.stderr[-2000:]
    helped = subprocess.run([str(exe), "--help"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert helped.returncode == 0 and "data" in helped.stdout and "pretrain" in helped.stdout
    listed = subprocess.run([str(exe), "data", "ls"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(" missing ") == 4 and str(tmp_path / "cache" / "genemask_viz") in listed.stdout
    where = subprocess.run([str(py), "-c", "import genemask_viz; print(genemask_viz.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.startswith(str(venv))  # the installed copy, not the checkout
    assert time.monotonic() - t0 < 120
