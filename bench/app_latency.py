"""Latency of the Streamlit app: a Mask Explorer rerun after changing the seed, and cold start.

1. Rerun (target < 300 ms): the Mask Explorer page runs in-process through
   ``streamlit.testing.v1.AppTest`` (the server's own script runner, without the
   websocket); after a warm-up run, the seed widget is changed ``--reruns`` times and
   each rerun is timed. Baseline, same process: a rerun of the same page with no widget
   change (caches warm), so the ratio says what changing the seed adds.
2. Cold start (target < 5 s): ``streamlit run app.py`` as a fresh process on a free
   localhost port; times to the health endpoint answering and to the home page's title
   rendered in headless Debian chromium (Playwright, ``/usr/bin/chromium``), and until
   the first script run has finished. Skipped with a message when chromium is absent.
3. Opening time of every page, in the browser (issue 13): from the click on the page's
   sidebar link until its script has finished and its key text is shown. Round 1 opens
   the pages right after the home page (the Mask Explorer then waits for whatever the
   background warm-up has not built yet); round 2 opens them again (warm server). The
   baseline, measured the same way in the same browser, is opening the Home page.

    python bench/app_latency.py [--reruns 20] [--no-cold] [--no-pages]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RERUN_TARGET_MS = 300
COLD_TARGET_S = 5.0


def rerun_latency(reruns: int) -> dict:
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(REPO / "pages" / "1_Mask_Explorer.py"), default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception, at.exception
    seed_times, base_times = [], []
    for i in range(1, reruns + 1):
        t0 = time.perf_counter()
        at.number_input(key="mx_seed").set_value(i).run()
        seed_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        at.run()
        base_times.append(time.perf_counter() - t0)
    assert not at.exception, at.exception
    return {"first_run_s": first, "seed_ms": 1000 * statistics.median(seed_times),
            "seed_p90_ms": 1000 * sorted(seed_times)[int(0.9 * (len(seed_times) - 1))],
            "baseline_ms": 1000 * statistics.median(base_times)}


def cold_start() -> dict | None:
    if not Path(CHROMIUM).exists():
        print("cold start: skipped, Debian's chromium is missing (apt-get install chromium)")
        return None
    from playwright.sync_api import sync_playwright
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = tempfile.mkdtemp(prefix="genemask-bench-runs-")
    env = dict(os.environ, GENEMASK_RUNS=runs)
    with sync_playwright() as p:  # browser up before the clock starts: we time the app, not chromium
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--headless", "--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking", "--disable-component-update",
                                          "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
                                 "true", "--server.port", str(port)], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://localhost:{port}"
            while True:
                try:
                    urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                    break
                except OSError:
                    if time.perf_counter() - t0 > 60:
                        raise RuntimeError("streamlit did not start within 60 s")
                    time.sleep(0.05)
            health = time.perf_counter() - t0
            page.goto(url)
            page.get_by_text("GeneMask explorer").first.wait_for(timeout=60_000)
            title = time.perf_counter() - t0
            app = page.locator('[data-testid="stApp"]').first
            while app.get_attribute("data-test-script-state") != "notRunning":
                page.wait_for_timeout(50)
            done = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(10)
            browser.close()
            shutil.rmtree(runs, ignore_errors=True)
    return {"health_s": health, "first_render_s": title, "first_run_done_s": done}


#: sidebar link -> text shown once the page has rendered its main content
PAGE_READY = {"Home": "Training device", "Mask Explorer": "Statistics over many draws",
              "PMI k-mers and motifs": "Top-ranked n-grams", "Pretraining Lab": "Start new runs",
              "Few-shot Lab": "Start a few-shot run"}


def _open_and_time(page, link: str, timeout_s: float = 180.0) -> float:
    """Seconds from clicking ``link`` in the sidebar until its script is done and its key
    text shows (and no spinner or skeleton is left)."""
    t0 = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click(timeout=timeout_s * 1000)
    page.wait_for_timeout(50)
    text = page.get_by_text(PAGE_READY[link]).first
    while time.perf_counter() - t0 < timeout_s:
        app = page.locator('[data-testid="stApp"]')
        state = app.first.get_attribute("data-test-script-state") if app.count() else None
        busy = page.locator('[data-testid="stSpinner"], [data-testid="stSkeleton"]').count() > 0
        if state == "notRunning" and not busy and text.count() and text.is_visible():
            return time.perf_counter() - t0
        page.wait_for_timeout(25)
    raise RuntimeError(f"{link} did not open within {timeout_s:.0f} s")


def page_opening_times(rounds: int = 2) -> list[dict] | None:
    """Opening time of each page in chromium, ``rounds`` times over, on one fresh server."""
    if not Path(CHROMIUM).exists():
        print("page opening: skipped, Debian's chromium is missing (apt-get install chromium)")
        return None
    from playwright.sync_api import sync_playwright
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = tempfile.mkdtemp(prefix="genemask-bench-runs-")
    env = dict(os.environ, GENEMASK_RUNS=runs)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless",
                             "true", "--server.port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        url = f"http://localhost:{port}"
        t0 = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError("streamlit did not start within 60 s")
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--headless", "--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking",
                                              "--disable-component-update", "--disable-sync",
                                              "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text(PAGE_READY["Home"]).first.wait_for(timeout=180_000)
            page.locator('[data-testid="stSidebarNav"]').first.wait_for(timeout=180_000)
            for r in range(1, rounds + 1):
                for link in ["Mask Explorer", "PMI k-mers and motifs", "Pretraining Lab", "Few-shot Lab"]:
                    rows.append({"round": r, "page": link, "s": _open_and_time(page, link)})
                    rows.append({"round": r, "page": "Home (baseline)", "s": _open_and_time(page, "Home")})
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(runs, ignore_errors=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reruns", type=int, default=20)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start measurement")
    ap.add_argument("--no-pages", action="store_true", help="skip the page opening times")
    ap.add_argument("--no-rerun", action="store_true", help="skip the in-process rerun latency")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if not args.no_pages:
        rows = page_opening_times()
        if rows:
            import statistics as stats_
            base = stats_.median(r["s"] for r in rows if r["page"] == "Home (baseline)")
            print(f"page opening in chromium (click -> rendered), baseline Home median {base:.2f} s:")
            for rnd in (1, 2):
                for r in rows:
                    if r["round"] == rnd and r["page"] != "Home (baseline)":
                        print(f"  round {rnd} ({'right after start' if rnd == 1 else 'warm'}): "
                              f"{r['page']:<22} {r['s']:6.2f} s  ratio to Home {r['s'] / base:5.1f}")
    if args.no_rerun:
        return 0
    r = rerun_latency(args.reruns)
    print(f"Mask Explorer first run (demo genome + PMI table + JIT, cold caches): {r['first_run_s']:.2f} s")
    print(f"Mask Explorer rerun after a seed change: median {r['seed_ms']:.0f} ms, p90 {r['seed_p90_ms']:.0f} ms "
          f"(target < {RERUN_TARGET_MS} ms: {'met' if r['seed_ms'] < RERUN_TARGET_MS else 'MISSED'})")
    print(f"  baseline, rerun with no change: {r['baseline_ms']:.0f} ms; ratio seed/baseline "
          f"{r['seed_ms'] / r['baseline_ms']:.2f}")
    if not args.no_cold:
        c = cold_start()
        if c:
            print(f"cold start: server healthy {c['health_s']:.2f} s, home title rendered "
                  f"{c['first_render_s']:.2f} s (target < {COLD_TARGET_S:.0f} s: "
                  f"{'met' if c['first_render_s'] < COLD_TARGET_S else 'MISSED'}), first script run "
                  f"finished {c['first_run_done_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
