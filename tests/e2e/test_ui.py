"""The /ui page in a real headless Chromium (Debian's), against the real server, worker, Docker judge
and the fake LLM: submit a task in the form, watch the trials arrive live, see the final verdict.

A screenshot of the finished episode is written to artifacts/ui-episode.png.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Request, async_playwright, expect

from app.llm.fake_script import Reply, Rule
from app.llm.fake_server import FakeLLMServer
from tests.integration.test_client import API_KEY, service_with_worker, settings_for
from tests.integration.test_episode_engine import LESSON, RETRY, RIGHT, TASK, WRONG

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
async def service(
    redis_url: str, key_prefix: str, fake_llm: FakeLLMServer, judge_factory: Callable[..., Any]
) -> AsyncIterator[str]:
    # The corrected answer takes a moment, so the page shows trial 1 and its lesson while running.
    fake_llm.script(
        Rule(model="fake-actor", pattern=RETRY, replies=[Reply(text=RIGHT, latency_s=2.0)]),
        Rule(model="fake-actor", pattern="failed its tests", replies=[Reply(text=LESSON)]),
        Rule(model="fake-actor", replies=[Reply(text=WRONG)]),
    )
    judge = await judge_factory(mode="pooled")
    async with service_with_worker(settings_for(redis_url, key_prefix, fake_llm), judge) as base:
        yield base


async def open_page(browser: Browser, base: str) -> tuple[Page, list[Request]]:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    await page.goto(f"{base}/ui")
    await page.get_by_test_id("api-key").fill(API_KEY)
    await page.get_by_test_id("save-key").click()
    await expect(page.get_by_test_id("auth-state")).to_have_text("key set for this tab")
    return page, requests


async def test_submit_in_page_and_watch_live(browser: Browser, service: str) -> None:
    page, requests = await open_page(browser, service)
    await page.get_by_test_id("task-id").fill(TASK.id)
    await page.get_by_test_id("entry-point").fill(TASK.entry_point)
    await page.get_by_test_id("prompt").fill(TASK.prompt)
    await page.get_by_test_id("tests").fill(TASK.tests)
    await page.get_by_test_id("visible-tests").fill("\n".join(TASK.visible_tests))
    await page.get_by_test_id("max-trials").fill("3")
    await page.get_by_test_id("submit").click()

    # Live: trial 1 with its failing verdict and the lesson, while the episode is still running.
    lesson = page.get_by_test_id("lesson")
    await expect(lesson).to_contain_text(LESSON)
    await expect(page.get_by_test_id("episode-status")).to_have_text("running")
    await expect(page.get_by_test_id("live-state")).to_have_text("live")

    # Then trial 2 and the final verdict, without reloading the page.
    await expect(page.get_by_test_id("final-verdict")).to_have_text(
        "Final verdict: succeeded (answer of trial 2)", timeout=TIMEOUT_MS
    )
    trials = page.get_by_test_id("trial")
    await expect(trials).to_have_count(2)
    first, second = trials.nth(0), trials.nth(1)
    await expect(first.get_by_test_id("verdict-feedback").get_by_test_id("verdict-status")).to_have_text(
        "failed"
    )
    await expect(first.get_by_test_id("test-result").first).to_have_class("fail")
    await expect(second.get_by_test_id("verdict-hidden").get_by_test_id("verdict-status")).to_have_text(
        "passed"
    )
    # The code of trial 2 is shown as a diff against trial 1.
    await expect(second.locator('[data-mark="-"]')).to_contain_text(["return a - b"])
    await expect(second.locator('[data-mark="+"]')).to_contain_text(["return a + b"])
    await expect(second.get_by_test_id("trial-meta")).to_contain_text("completion tokens")
    await expect(page.get_by_test_id("event").last).to_contain_text("episode.finished")
    await expect(page.get_by_test_id("episode-row").first).to_contain_text("succeeded")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "ui-episode.png"), full_page=True)
    assert (ARTIFACTS / "ui-episode.png").stat().st_size > 10_000

    # The key travels in the Authorization header, never in a URL; the stream was read with fetch.
    assert all(API_KEY not in r.url for r in requests)
    streams = [r for r in requests if r.url.endswith("/events")]
    assert streams, "the page should have opened the event stream"
    assert (await streams[0].all_headers()).get("authorization") == f"Bearer {API_KEY}"
    await page.close()


async def test_page_shows_problem_detail_for_bad_input(browser: Browser, service: str) -> None:
    page, _ = await open_page(browser, service)
    await page.get_by_test_id("entry-point").fill("not an identifier")
    await page.get_by_test_id("submit").click()
    await expect(page.get_by_test_id("submit-error")).to_contain_text("entry_point")
    await page.close()


async def test_page_without_key_says_unauthorized(browser: Browser, service: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{service}/ui")
    await expect(page.locator("#list-error")).to_contain_text("Could not list episodes")
    response = await page.request.get(f"{service}/ui/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await page.close()
