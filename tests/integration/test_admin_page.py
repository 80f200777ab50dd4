"""An operator opens the admin page in a real browser (Debian's headless Chromium, driven by
Selenium): it asks for the token, then shows the answer log's numbers, four server-drawn SVG
plots, the sources' last runs and the knowledge gaps, loading nothing from elsewhere."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from processes import running_bot
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from test_cli import knowhere
from test_sources import with_sources, write_sources

from indexing import PUBLIC_ONLY, compose, jobs
from indexing.infra.local_services import free_port
from indexing.learning.registry import EmbedderVersion, Switch

TOKEN = "admin-token-for-tests-5b1c9e"
PLOTS = ("plot-answers", "plot-votes", "plot-latency", "plot-embedders")
QUESTIONS = [
    "How do I connect to the VPN?",
    "How many vacation days do I get?",
    "How do I reset my password?",
    "Where can employees park their cars at the office?",
    "Is there a parking garage for staff at headquarters?",
    "How do I get a parking permit for the office car park?",
]


def chromium() -> webdriver.Chrome:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("Chromium and its driver are missing: scripts/bootstrap installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,2400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations show here
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def a_month_of_knowhere(settings, knowledge_base: Path, tmp_path: Path) -> None:
    """A real answer log (answers, votes, latency), a synced ticket source and a registry
    with one fine-tuned version that was promoted and then rolled back."""
    jobs.index_folder(settings, knowledge_base)
    answer_log = compose.open_answer_log(settings)
    with compose.connect_weaviate(settings) as client:
        service = compose.build_answer_service(client, settings)
        for n, question in enumerate(QUESTIONS):
            answer = service.ask(question, PUBLIC_ONLY)
            answer_id = answer_log.record(answer, "slack", "CGENERAL", f"U{n}")
            answer_log.add_feedback(answer_id, f"V{n}", "reaction", "vote", 1 if n < 2 else -1)
    answer_log.close()
    jobs.sync_source(with_sources(settings, write_sources(tmp_path / "s.yml", "http://x")), "jira")
    registry = compose.open_registry(settings)
    with compose.connect_weaviate(settings) as client:
        serving, embedder = compose.serving_index(client, settings)
    base = registry.ensure_base(embedder.version, embedder.model_name, embedder.model_name)
    tuned = registry.add(
        EmbedderVersion(
            f"{embedder.version}-ft1",
            embedder.model_name,
            "unused",
            "promoted",
            parent=base.version,
            metrics={"gate": {"candidate_dev": {"ndcg": 0.74}, "current_dev": {"ndcg": 0.69}}},
        )
    )
    now = datetime.now(UTC)
    for kind, old, new, at in (
        ("promote", base, tuned, now - timedelta(days=3)),
        ("rollback", tuned, base, now - timedelta(days=1)),
    ):
        registry.record_switch(
            Switch(settings.collection, kind, old.version, new.version, serving.name, "x", {}, at)
        )


def test_the_admin_page_shows_the_answer_log_in_a_real_browser(
    settings, settings_env, knowledge_base, tmp_path
):
    for token in ("", "short-token"):  # never open, never with a guessable token
        refused = knowhere({**settings_env, "KNOWHERE_ADMIN_TOKEN": token}, "admin", timeout=60)
        assert refused.returncode == 1 and "KNOWHERE_ADMIN_TOKEN" in refused.stderr
    a_month_of_knowhere(settings, knowledge_base, tmp_path)
    env = {**settings_env, "KNOWHERE_ADMIN_TOKEN": TOKEN}
    port = str(free_port())
    with running_bot(["admin", "--port", port], env, tmp_path / "admin.log", "indexing.cli") as url:
        # Nothing without the token.
        anonymous = httpx.get(url, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
        guessed = httpx.post(f"{url}/login", data={"token": "not-it"}, follow_redirects=False)
        assert guessed.status_code == 401 and "not the admin token" in guessed.text
        assert "default-src 'none'" in guessed.headers["Content-Security-Policy"]

        browser = chromium()
        try:
            browser.get(f"{url}/login")
            browser.find_element(By.ID, "token").send_keys(TOKEN)
            browser.find_element(By.CSS_SELECTOR, "#login button").click()
            WebDriverWait(browser, 60).until(
                expected_conditions.presence_of_element_located((By.ID, "plot-embedders"))
            )
            for plot in PLOTS:
                svg = browser.find_element(By.CSS_SELECTOR, f"#{plot} svg")
                assert svg.size["height"] > 100 and svg.size["width"] > 300, plot
                # Drawn as styled, not blocked: the figure's background is white, not black.
                background = browser.execute_script(
                    "return getComputedStyle(arguments[0].querySelector('#figure_1 path')).fill",
                    svg,
                )
                assert background == "rgb(255, 255, 255)", (plot, background)
            refused = [e["message"] for e in browser.get_log("browser") if "Policy" in e["message"]]
            assert not refused, refused
            assert browser.find_element(By.ID, "answers-count").text == str(len(QUESTIONS))
            embedders = browser.find_element(By.ID, "plot-embedders").text
            assert "promoted" in embedders and "rolled back to" in embedders
            sources = browser.find_element(By.ID, "sources").text
            assert "jira" in sources and "finished" in sources
            gaps = browser.find_element(By.ID, "gaps").text
            assert "parking" in gaps.lower()
            assert "latency p50" in browser.find_element(By.ID, "latency").text
            loaded = browser.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
            assert loaded and all(name.startswith(url) for name in loaded), loaded
            screenshot = tmp_path / "admin-page.png"
            assert browser.save_screenshot(str(screenshot))
            assert screenshot.stat().st_size > 20_000
            print(f"screenshot: {screenshot}")
        finally:
            browser.quit()
    logged = (tmp_path / "admin.log").read_text()
    assert TOKEN not in logged
