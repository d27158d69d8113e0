"""Headless Chromium for the browser tests: Debian's chromium through Debian's chromedriver.

Never Selenium Manager, which would try to download a browser; only 127.0.0.1 is
contacted. The integration conftest turns ``start_chromium`` into the ``chromium``
fixture; each test module points a ``Browser`` at the server it tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DEFAULT_SIZE = (1280, 900)
WAIT = 10


def trusting_home(ca: Path, home: Path) -> dict[str, str]:
    """An environment whose HOME has an NSS database trusting ``ca`` for web sites, as
    Chromium on Linux reads it ($HOME/.pki/nssdb; certutil from libnss3-tools)."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "gateway test CA", "-i", str(ca)],
    ):
        subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True, capture_output=True)
    return {**os.environ, "HOME": str(home)}


@contextmanager
def start_chromium(trust: Path | None = None) -> Iterator[WebDriver]:
    """One headless Chromium with a private profile, quit (and its profile removed) after;
    trusting the CA certificate ``trust`` too, when given."""
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not binary.exists():
            pytest.fail(f"{binary} is missing: install Debian's {package}")
    profile = tempfile.mkdtemp(prefix="gateway-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = trusting_home(trust, Path(profile) / "home") if trust else None
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER), env=env), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _stale(element: WebElement) -> bool:
    """True once ``element``'s page is gone. Chromium says so either with a stale
    reference or, when the new page replaced it mid-lookup, with an inspector error."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


@dataclass
class Browser:
    """One Chromium, pointed at the server under test."""

    driver: WebDriver
    base: str

    def open(self, path: str) -> None:
        """Load ``path`` of the server, as typed in the address bar."""
        self.driver.get(self.base + path)

    def path(self) -> str:
        """The path (and query) the browser shows now."""
        url = urlsplit(self.driver.current_url)
        assert f"{url.scheme}://{url.netloc}" == self.base, self.driver.current_url
        return url.path + (f"?{url.query}" if url.query else "")

    def resize(self, width: int, height: int) -> None:
        """Make the viewport ``width`` CSS pixels wide (the window height is ``height``)."""
        self.driver.set_window_size(width, height)
        inner = self.js("return window.innerWidth")
        assert inner == width, f"asked for a {width}px wide viewport, got {inner}px"

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self) -> WebDriverWait[WebDriver]:
        return WebDriverWait(self.driver, WAIT)

    def click_and_wait(self, element: WebElement) -> None:
        """Click ``element`` and wait until the page it was on has been replaced."""
        try:
            element.click()
        except WebDriverException as exc:
            # The click went through and the page was already being replaced when
            # Chromium looked the node up once more: the navigation is what we wait for.
            if "does not belong to the document" not in str(exc):
                raise
        self.wait().until(lambda d: _stale(element))
        # The old page is gone; the new one may still be loading (a 303 then a GET). Only
        # a finished document's nodes stay valid for the next lookup.
        self.wait().until(lambda d: d.execute_script("return document.readyState") == "complete")

    def browser_log(self) -> list[dict[str, Any]]:
        """The console entries since the last read (a Chromium command, not WebDriver's)."""
        assert isinstance(self.driver, ChromiumDriver)
        entries: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        return entries

    def console_errors(self) -> list[dict[str, Any]]:
        """The browser's console entries of level SEVERE since the last call."""
        return [e for e in self.browser_log() if e["level"] == "SEVERE"]

    def reset(self, neutral_path: str) -> None:
        """No cookies, the default window size and an empty console log.

        Cookies can only be deleted for the site the browser is on: ``neutral_path`` is a
        page of the server that sets none.
        """
        self.open(neutral_path)
        self.driver.delete_all_cookies()
        self.resize(*DEFAULT_SIZE)
        self.browser_log()
