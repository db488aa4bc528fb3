"""Real-browser helpers (headless Debian chromium via Playwright) for tests/test_browser.py and the README screenshot."""
