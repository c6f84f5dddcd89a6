"""What a user sees in the Dagster UI: the asset graph and a partition's failed check.

Headless Chromium from Debian's `chromium` package, driven by Playwright's Python package
through `executable_path` (no browser download). Screenshots land in `test-artifacts/`
so a reviewer can look at what the assertions looked at.
"""

from __future__ import annotations

import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from wiring_pipeline import settings
from wiring_pipeline.domain.contract.metrics import METRICS
from wiring_pipeline_tests.e2e.conftest import BROKEN_CHECK, BrokenPartition
from wiring_pipeline_tests.e2e.dagster_stack import LOCATION_NAME, DagsterStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM}: install Debian's `chromium` package "
        "(`.ci/run` does when it runs as root)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the `playwright` Python package is not installed"
)
expect = sync_api.expect
ARTIFACTS = settings.PROJECT_ROOT / "test-artifacts"
ASSETS = ("raw_import_records", "cleansed_import_records", "asset_inventory", "wiring_health")
#: How long the UI may take to show something after the page loaded (milliseconds).
UI_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def page() -> Iterator:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def open_ui(page, stack: DagsterStack, path: str) -> None:
    page.goto(stack.base_url + path)
    page.wait_for_load_state("networkidle")
    dismiss_welcome_dialog(page)


def dismiss_welcome_dialog(page) -> None:
    """The UI greets a new browser with a newsletter dialog; skip it as a user would."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.click()


def screenshot(page, name: str) -> None:
    dismiss_welcome_dialog(page)
    page.screenshot(path=str(ARTIFACTS / name))


def test_asset_graph_shows_the_four_assets(page, stack: DagsterStack, broken_partition):
    open_ui(page, stack, f"/locations/{LOCATION_NAME}/asset-groups/discovery")
    try:
        for name in ASSETS:
            expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        # wiring_health's node sums up its checks: "5 / 7 Passed" once the wiring is broken.
        expect(page.get_by_text(f"/ {len(METRICS)} Passed").first).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )
    finally:
        screenshot(page, "asset-graph.png")


def test_partition_check_results_show_the_failed_check(
    page, stack: DagsterStack, broken_partition: BrokenPartition
):
    query = urllib.parse.urlencode({"view": "checks", "checkDetail": BROKEN_CHECK})
    open_ui(page, stack, f"/assets/wiring_health?{query}")
    try:
        for text in ("Evaluation result", broken_partition.partition_key, "Failed"):
            expect(page.get_by_text(text, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        body = page.inner_text("body")
    finally:
        screenshot(page, "failed-check.png")
    missing = [metric.name for metric in METRICS if metric.name not in body]
    assert not missing, f"check names not shown: {missing}"
