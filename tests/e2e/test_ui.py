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

OTHER_WRONG = "```python\ndef add(a: int, b: int) -> int:\n    return a * b\n```"

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
    submitted = [r for r in requests if r.method == "POST" and r.url.endswith("/v1/episodes")]
    assert "strategy" not in submitted[0].post_data_json  # left to the actor's default: reflexion here
    streams = [r for r in requests if r.url.endswith("/events")]
    assert streams, "the page should have opened the event stream"
    assert (await streams[0].all_headers()).get("authorization") == f"Bearer {API_KEY}"
    await page.close()


async def test_tree_search_is_drawn_as_a_tree(
    browser: Browser, service: str, fake_llm: FakeLLMServer
) -> None:
    """A tree_search episode submitted in the page: root, two children, the passing one marked as the
    answer, each node with its feedback verdict and value; a child's code is a diff against its parent."""
    fake_llm.reset()
    fake_llm.script(
        Rule(model="fake-actor", pattern=RETRY, replies=[Reply(text=OTHER_WRONG), Reply(text=RIGHT)]),
        Rule(model="fake-actor", pattern="failed its tests", replies=[Reply(text=LESSON)]),
        Rule(model="fake-actor", replies=[Reply(text=WRONG)]),
    )
    page, _ = await open_page(browser, service)
    await page.get_by_test_id("task-id").fill(TASK.id)
    await page.get_by_test_id("entry-point").fill(TASK.entry_point)
    await page.get_by_test_id("prompt").fill(TASK.prompt)
    await page.get_by_test_id("tests").fill(TASK.tests)
    await page.get_by_test_id("visible-tests").fill("\n".join(TASK.visible_tests))
    await page.get_by_test_id("strategy").select_option("tree_search")
    await page.get_by_test_id("max-trials").fill("5")
    await page.get_by_test_id("submit").click()

    await expect(page.get_by_test_id("final-verdict")).to_have_text(
        "Final verdict: succeeded (answer of trial 3)", timeout=TIMEOUT_MS
    )
    tree = page.get_by_test_id("tree")
    await expect(tree).to_be_visible()
    nodes = tree.get_by_test_id("tree-node")
    await expect(nodes).to_have_count(3)
    root = tree.locator('[data-trial="1"]')
    await expect(root.locator(":scope > [data-testid=node-verdict]")).to_have_text("failed")
    await expect(root.locator(":scope > [data-testid=node-value]")).to_have_text("value 0.00")
    # both children hang under the root, in trial order
    await expect(root.locator("ul > [data-testid=tree-node]")).to_have_count(2)
    children = root.locator("ul > [data-testid=tree-node]")
    await expect(children.nth(0)).to_have_attribute("data-trial", "2")
    await expect(children.nth(1).get_by_test_id("node-verdict")).to_have_text("passed")
    await expect(children.nth(1).get_by_test_id("node-value")).to_have_text("value 1.00")
    await expect(children.nth(1)).to_have_class("answer")
    # trial 3's code is a diff against its parent (trial 1), not against trial 2
    third = page.get_by_test_id("trial").nth(2)
    await expect(third.locator("h3")).to_have_text("Trial 3 (child of trial 1)")
    await expect(third.locator('[data-mark="-"]')).to_contain_text(["return a - b"])
    await expect(third.locator('[data-mark="+"]')).to_contain_text(["return a + b"])
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "ui-tree.png"), full_page=True)
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
