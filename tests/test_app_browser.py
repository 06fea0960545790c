"""The app in a real browser: `streamlit run app.py` on a free localhost port, every page
opened in Debian's headless chromium through Playwright, no error element, key texts
present, one screenshot per page (under tests/out/browser/, or $GENEMASK_SCREENSHOTS).

Needs /usr/bin/chromium (``apt-get install chromium``; CI's .ci/run installs it).
Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
#: sidebar link, texts that must be on the page, optional button to press (then more texts)
PAGES = [
    ("Home", ["GeneMask explorer", "What you can do here", "Training device"], None, []),
    ("Mask Explorer", ["Mask Explorer", "masked tokens", "hidden nucleotides",
                       "Statistics over many draws"], None, []),
    ("PMI k-mers and motifs", ["PMI k-mers and motifs", "Top-ranked n-grams"],
     "Compare with JASPAR motifs", ["PMI ranking against controls", "How to read this"]),
    ("Pretraining Lab", ["Pretraining Lab", "Start new runs", "Loss curves"], None, []),
    ("Few-shot Lab", ["Few-shot Lab", "Start a few-shot run", "Results", "Download all rows as CSV"], None, []),
]
ERROR_SELECTORS = ['[data-testid="stException"]', '[data-testid="stAlertContentError"]']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_settled(page, timeout_s: float = 60.0, quiet_s: float = 1.5) -> None:
    """Wait until the script is not running (``stApp``'s ``data-test-script-state``) and no
    spinner shows, for ``quiet_s`` seconds in a row."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.locator('[data-testid="stApp"]').first.get_attribute("data-test-script-state")
        busy = state != "notRunning" or page.locator('[data-testid="stSpinner"]').count() > 0
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the page did not settle within {timeout_s:.0f} s")


def screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main section, so grow the viewport to fit."""
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll("
                           "'[data-testid=stMain], [data-testid=stAppViewContainer], section'))"
                           ".map(e => e.scrollHeight), 800)")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 14000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: install it with `apt-get install chromium` "
                    "(the browser test never downloads a browser).")
    from test_app import write_finished_runs  # finished runs, so the labs show curves and results
    runs = tmp_path_factory.mktemp("runs")
    write_finished_runs(runs)
    port = free_port()
    env = dict(os.environ, GENEMASK_RUNS=str(runs), PYTHONUNBUFFERED="1")
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.address", "localhost"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            break
    else:
        proc.terminate()
        log.seek(0)
        pytest.fail(f"streamlit did not start within 60 s:\n{log.read()[-3000:]}")
    if proc.poll() is not None:
        log.seek(0)
        pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read()[-3000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield b
        b.close()


def shots_dir() -> Path:
    out = Path(os.environ.get("GENEMASK_SCREENSHOTS") or REPO / "tests" / "out" / "browser")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.parametrize("link,texts,button,after", PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_in_chromium(server, browser, link, texts, button, after):
    # Pages are reached through the sidebar, as a user does (opening a deep link first shows
    # Streamlit's spurious "Page not found" dialog with st.navigation, streamlit#9992).
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(server, wait_until="domcontentloaded", timeout=60_000)
        page.get_by_text("GeneMask explorer").first.wait_for(timeout=60_000)
        wait_settled(page)
        if link != "Home":
            page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
            page.get_by_role("heading", name=texts[0]).first.wait_for(timeout=60_000)
            wait_settled(page)
        if button:
            page.get_by_role("button", name=button).click()
            page.get_by_text(after[0]).first.wait_for(timeout=90_000)
            wait_settled(page)
        body = page.inner_text("body")
        for selector in ERROR_SELECTORS:
            errors = page.locator(selector)
            assert errors.count() == 0, f"{link}: error shown: {errors.first.inner_text()}"
        for text in texts + after:
            assert text in body, f"{link}: {text!r} not on the page"
        name = link.replace(" ", "_")
        screenshot(page, shots_dir() / f"{name}.png")
    finally:
        page.close()


# ---- issue 13: the whole pretrain-then-fine-tune flow, live, in the browser ----------------------
def assert_no_error(page, where: str) -> None:
    for selector in ERROR_SELECTORS:
        errors = page.locator(selector)
        assert errors.count() == 0, f"{where}: error shown: {errors.first.inner_text()}"


def wait_for(page, check, what: str, timeout_s: float, where: str) -> None:
    """Poll ``check()`` (no reload: the page must update by itself), failing early on an error."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert_no_error(page, where)
        if check():
            return
        page.wait_for_timeout(500)
    screenshot(page, shots_dir() / f"timeout_{where.replace(' ', '_')}.png")
    raise AssertionError(f"{where}: {what} did not happen within {timeout_s:.0f} s "
                         f"(screenshot in {shots_dir()})")


def widget(page, testid: str, label: str):
    return page.locator(f'[data-testid="{testid}"]').filter(has_text=label).first


def set_number(page, label: str, value: int) -> None:
    """Type a number and press Enter, as a user does (Enter must never start a run)."""
    box = widget(page, "stNumberInput", label).locator("input")
    box.wait_for(timeout=30_000)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(300)
    wait_settled(page, quiet_s=0.6)


def keep_only(page, label: str, keep: str) -> None:
    """Remove every chip of a multiselect except ``keep`` (which must be selected already)."""
    box = widget(page, "stMultiSelect", label)
    box.locator("[data-tag]").first.wait_for(timeout=30_000)  # widgets may render after the script
    values = [box.locator("[data-tag]").nth(i).get_attribute("aria-label")
              for i in range(box.locator("[data-tag]").count())]
    assert keep in values, f"{label}: {keep!r} is not among the chosen {values}"
    for value in dict.fromkeys(values):
        if value != keep:
            box.get_by_role("button", name=f"Remove {value}", exact=True).click()
            page.wait_for_timeout(300)
            wait_settled(page, quiet_s=0.6)
    chosen = {box.locator("[data-tag]").nth(i).get_attribute("aria-label")
              for i in range(box.locator("[data-tag]").count())}
    assert chosen == {keep}, f"{label}: still chosen {chosen}"


def run_dirs(root: Path, kind: str) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir() and f"-{kind}-" in d.name)


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory):
    """A server of its own with an empty runs folder, so the flow sees only its own runs."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: install it with `apt-get install chromium`.")
    runs = tmp_path_factory.mktemp("flow_runs")
    port = free_port()
    log = open(tmp_path_factory.mktemp("flow_log") / "streamlit.log", "w+")
    env = dict(os.environ, GENEMASK_RUNS=str(runs), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "localhost"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        log.seek(0)
        pytest.fail(f"streamlit did not start:\n{log.read()[-3000:]}")
    yield url, runs
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    from genemask_viz.training import cancel_run, run_status
    for d in runs.iterdir():  # never leave a background worker behind
        if d.is_dir() and run_status(d).get("state") in ("queued", "running"):
            cancel_run(d, timeout_s=5)
    log.close()


def test_pretrain_then_finetune_flow_live_in_chromium(flow_server, browser):
    url, runs = flow_server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=60_000)
        page.get_by_text("GeneMask explorer").first.wait_for(timeout=60_000)
        wait_settled(page)
        # 1. Pretraining Lab: one tiny run of 2 steps. Enter in a number field starts nothing.
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Pretraining Lab").click()
        page.get_by_role("heading", name="Start new runs").wait_for(timeout=60_000)
        wait_settled(page)
        keep_only(page, "Masking strategies", "dnabert")
        set_number(page, "Training steps", 2)
        set_number(page, "Sequences per step", 2)
        assert run_dirs(runs, "pretrain") == [], "Enter in a number field started a run"
        assert "Expected time" in page.inner_text("body")
        page.get_by_role("button", name="Start in the background").click()
        page.get_by_text("Started 1 run(s)").wait_for(timeout=30_000)
        assert_no_error(page, "Pretraining Lab")
        [run] = run_dirs(runs, "pretrain")
        # 2. its curve appears and the run finishes, with no reload
        chart = page.locator('[data-testid="stPlotlyChart"]')
        wait_for(page, lambda: chart.count() > 0 and run.name in page.inner_text("body"),
                 "the loss curve", 120, "Pretraining Lab")
        wait_for(page, lambda: (run / "model" / "config.json").exists()
                 and "Held-out loss" in page.inner_text("body"), "the run finishing", 180,
                 "Pretraining Lab")
        screenshot(page, shots_dir() / "flow_1_pretraining.png")
        # 3. Few-shot Lab: fine-tune that run
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Few-shot Lab").click()
        page.get_by_role("heading", name="Start a few-shot run").wait_for(timeout=60_000)
        wait_settled(page)
        page.get_by_text("a finished pretraining run").click()
        wait_settled(page, quiet_s=0.6)
        chosen = page.get_by_role("combobox", name="Pretraining run").input_value()
        assert chosen == run.name  # offered, and chosen by default (the newest)
        keep_only(page, "Examples per class", "10")
        set_number(page, "Seeds per setting", 1)
        set_number(page, "Test sequences at most", 50)
        page.get_by_role("button", name="Start in the background").click()
        page.get_by_text("Started").first.wait_for(timeout=30_000)
        assert_no_error(page, "Few-shot Lab")
        [few] = run_dirs(runs, "fewshot")
        # the model was resolved at submission: an absolute path to the pretraining run
        import json
        params = json.loads((few / "config.json").read_text())["params"]
        assert Path(params["model"]).is_absolute() and Path(params["model"]).resolve() == run.resolve()
        # 4. its result appears by itself
        wait_for(page, lambda: (few / "results.csv").exists()
                 and page.locator('[data-testid="stPlotlyChart"]').count() > 0
                 and any(t in page.inner_text("body") for t in ("Indistinguishable from chance",
                                                                 "cannot be told apart from chance")),
                 "the few-shot result and its verdict against chance", 180, "Few-shot Lab")
        body = page.inner_text("body")
        assert run.name in body  # the legend and table name the run, not a path
        assert str(run.resolve()) not in body
        screenshot(page, shots_dir() / "flow_2_fewshot.png")
    except BaseException:
        screenshot(page, shots_dir() / "flow_failure.png")  # what the user saw when it failed
        raise
    finally:
        page.close()
