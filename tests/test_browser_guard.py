"""The real-browser test skips outside CI when chromium or playwright is missing, and fails under CI."""

from __future__ import annotations

import sys

import pytest

from tests.browser.driver import missing_browser, require_browser


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setenv("SCLORA_CHROMIUM", str(tmp_path / "no-such-chromium"))


@pytest.fixture
def fake_chromium(monkeypatch):
    monkeypatch.setenv("SCLORA_CHROMIUM", sys.executable)  # any executable stands in for the browser


@pytest.fixture
def no_playwright(monkeypatch):
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # makes the import raise ImportError


@pytest.mark.parametrize("ci", ["", "false", "0"])
def test_missing_chromium_skips_with_reason_outside_ci(no_chromium, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        require_browser()


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_chromium_fails_under_ci(no_chromium, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI is set .* chromium is not installed"):
        require_browser()


def test_missing_playwright_fails_under_ci_and_skips_outside(fake_chromium, no_playwright, monkeypatch):
    assert "playwright" in missing_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="playwright Python package is missing"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="playwright Python package is missing"):
        require_browser()


def test_browser_present_neither_skips_nor_fails(fake_chromium, monkeypatch):
    pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("CI", "true")
    assert missing_browser() is None
    require_browser()  # returns: the browser test runs
