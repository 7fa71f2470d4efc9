"""The analyst's path: JupyterLab on 127.0.0.1, driven by Playwright in Debian's Chromium.

Opens explore.ipynb, runs all cells, waits for the widgets, changes one filter and sees the
table follow. No browser is downloaded: Playwright drives /usr/bin/chromium.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_report import ARTIFACTS, CHROME_FLAGS, _chromium

from cfposture.report.run import notebooks_dir

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    shutil.copy(notebooks_dir() / "explore.ipynb", tmp_path / "explore.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip",
            "127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--LabApp.news_url=None",
            "--ServerApp.disable_check_xsrf=False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/lab?token={token}", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "jupyter lab did not start"
        time.sleep(0.5)
    try:
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_explore_widgets_filter_the_table(lab):
    base, token = lab
    chromium = _chromium()
    with sync_api.sync_playwright() as p:
        # the report test's flags, less headless (Playwright sets it) and the network block
        # (JupyterLab is on 127.0.0.1)
        flags = [f for f in CHROME_FLAGS if not f.startswith(("--headless", "--host", "--proxy"))]
        browser = p.chromium.launch(executable_path=chromium, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            selects = page.locator(".widget-dropdown select")
            # As an analyst would: wait for the kernel, then Run › Run All Cells; a click that
            # lands while JupyterLab is still settling is simply made again.
            for attempt in range(3):
                page.wait_for_function(
                    "() => document.body.innerText.includes('| Idle')", timeout=120_000
                )
                page.locator(".jp-Notebook").first.click()
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_text("Run All Cells", exact=True).click()
                try:  # five dropdowns: four filters and the drill-down
                    selects.nth(4).wait_for(timeout=60_000)
                    break
                except sync_api.TimeoutError:
                    if attempt == 2:
                        raise
            table = page.locator(".widget-output").first
            table.locator("table").wait_for(timeout=60_000)
            before = table.locator("tbody tr").count()
            assert before > 5
            selects.nth(3).select_option("CFP-M03")  # the rule filter
            page.wait_for_function(
                """() => { const t = document.querySelector('.widget-output table');
                           return t && t.querySelectorAll('tbody tr').length === 2; }""",
                timeout=30_000,
            )
            rows = table.locator("tbody tr").all_inner_texts()
            assert len(rows) == 2 and all("CFP-M03" in r for r in rows)
            ARTIFACTS.mkdir(exist_ok=True)
            selects.nth(0).scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-explore.png"))
        finally:
            browser.close()
    assert Path(ARTIFACTS / "jupyterlab-explore.png").stat().st_size > 10_000
