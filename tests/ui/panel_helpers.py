"""Shared steps for the cashier panel browser tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import RunningAgent, wait_for

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
SMALL = {"width": 800, "height": 600}


def shot(page: Any, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if full_page:
        page.evaluate("window.scrollTo(0, 0)")  # else the sticky status bar is drawn mid-page
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def open_panel(page: Any, running: RunningAgent, size: dict[str, int] | None = None) -> None:
    if size is not None:
        page.set_viewport_size(size)
    page.goto(running.base_url + "/")
    from playwright.sync_api import expect

    expect(page.locator("#statusbar")).to_have_class("status online")
    # The live stream is open: events (member refreshes, queue counts) reach this page from here on.
    wait_for(lambda: running.agent.events.subscriber_count >= 1)


def scan(page: Any, code: str) -> None:
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def in_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def scroll_y(page: Any) -> float:
    return float(page.evaluate("window.scrollY"))
