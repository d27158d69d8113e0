"""`make dev`'s server in headless Chromium: the toolbar and the gateway's own panels.

The server is `gateway run` in the development profile, started on a free port with a
fresh, empty data dir (so this also proves `gateway run` works on a fresh checkout) and
stopped by PID. Each panel is opened on the site and on the API and screenshotted at
1280 px into the artifacts dir (test-artifacts/, or $GATEWAY_TEST_ARTIFACTS).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec

from tests.support.chromium import DEFAULT_SIZE, Browser
from tests.support.stack import DevServer

pytestmark = pytest.mark.browser

SITE_COOKIE = "gateway_site_session"
API_COOKIE = "gateway_api_session"
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def browser(chromium: WebDriver, dev_server: DevServer) -> Browser:
    """The module's Chromium, pointed at the dev server."""
    return Browser(chromium, dev_server.base)


def open_panel(page: Browser, dom_id: str) -> WebElement:
    """Click the toolbar's link to panel ``dom_id`` and return its visible content."""
    toolbar = page.wait().until(ec.visibility_of_element_located((By.ID, "flDebugToolbar")))
    toolbar.find_element(By.CSS_SELECTOR, f"a.{dom_id}").click()
    return page.wait().until(ec.visibility_of_element_located((By.ID, f"{dom_id}-content")))


def panel_rows(panel: WebElement, heading: str | None = None) -> dict[str, str]:
    """The key/value table of ``panel`` (the one after ``heading``) as a dict."""
    table = (
        panel.find_element(By.XPATH, f".//h4[normalize-space()='{heading}']/following::table[1]")
        if heading
        else panel.find_element(By.TAG_NAME, "table")
    )
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    return {
        r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
        for r in rows
    }


def session_payload(cookie: dict[str, Any]) -> str:
    """The data part of a Flask session cookie, without its timestamp and signature."""
    value: str = cookie["value"]
    return value.lstrip(".").split(".")[0]


def png_width(path: Path) -> int:
    """The width in pixels of the PNG at ``path`` (from its IHDR chunk)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width: int = struct.unpack(">I", data[16:20])[0]
    return width


def screenshot(page: Browser, artifacts: Path, name: str) -> Path:
    """Save the viewport as ``name``.png and check it is 1280 px wide."""
    path = artifacts / f"{name}.png"
    path.unlink(missing_ok=True)
    assert page.driver.save_screenshot(str(path))
    assert png_width(path) == DEFAULT_SIZE[0] == 1280
    return path


SIDES = [
    pytest.param("/", "frontend_app", "", "/", id="site"),
    pytest.param("/backend/", "backend_app", "/backend", "/", id="api"),
    pytest.param(
        "/backend/api/extensions?category=orm",
        "backend_app",
        "/backend",
        "/api/extensions",
        id="api-list",
    ),
]


@pytest.mark.parametrize(("path", "app", "script_name", "path_info"), SIDES)
def test_gateway_panel_names_the_app_that_served(
    page: Browser, artifacts: Path, path: str, app: str, script_name: str, path_info: str
) -> None:
    page.open(path)
    nav = page.driver.find_element(By.ID, "flDebugGatewayPanel")
    assert f"{app} at {script_name or '/'}" in nav.text
    panel = open_panel(page, "flDebugGatewayPanel")
    seen = panel_rows(panel, "This request")
    assert seen["Served by"] == app
    assert seen["SCRIPT_NAME"] == script_name
    assert seen["PATH_INFO"] == path_info
    assert HEX_ID.fullmatch(seen["X-Request-ID"]), seen
    mounts = panel.find_elements(
        By.XPATH, ".//h4[normalize-space()='Mount table']/following::table[1]//tbody/tr"
    )
    table = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in mounts]
    assert table == [
        ["/", "frontend_app", "development", "frontend"],
        ["/backend", "backend_app", "development", "backend"],
    ]
    current = [row.text for row in mounts if row.get_attribute("aria-current") == "true"]
    assert current == [f"{script_name or '/'} {app} development {app.split('_')[0]}"]
    if path in ("/", "/backend/"):
        screenshot(page, artifacts, f"toolbar-gateway-{'api' if script_name else 'site'}")

    # Another request gets another id: the panel shows this request, not a remembered one.
    page.driver.refresh()
    again = panel_rows(open_panel(page, "flDebugGatewayPanel"), "This request")
    assert HEX_ID.fullmatch(again["X-Request-ID"]) and again["X-Request-ID"] != seen["X-Request-ID"]


@pytest.mark.parametrize("path", ["/", "/backend/"], ids=["site", "api"])
def test_cache_panel_names_the_rule_that_refuses_a_toolbar_page(
    page: Browser, artifacts: Path, dev_server: DevServer, path: str
) -> None:
    page.open(path)
    assert "not shared" in page.driver.find_element(By.ID, "flDebugCachePanel").text
    panel = open_panel(page, "flDebugCachePanel")
    store = panel_rows(panel, "Store in use")
    assert store["GATEWAY_CACHE_URL"] == "simple"
    assert "bypassed, because this app runs the debug toolbar" in panel.text
    verdict = panel.find_element(
        By.XPATH, ".//h4[normalize-space()='Would this answer be shared?']/following::p[1]"
    )
    assert verdict.text == "Not shared, refused by the rule: the debug toolbar is on this page."
    namespace = "backend" if "backend" in path else "frontend"
    key = panel.find_element(By.TAG_NAME, "code").text
    assert re.fullmatch(rf"{namespace}:[0-9a-f]{{64}}", key), key
    screenshot(page, artifacts, f"toolbar-cache-{'api' if 'backend' in path else 'site'}")


@pytest.mark.parametrize(
    ("path", "matched"),
    [("/extensions/flask-login", "/extensions/<slug>"), ("/backend/", "/backend/")],
    ids=["site", "api"],
)
def test_routes_panel_lists_every_app_and_marks_this_route(
    page: Browser, artifacts: Path, path: str, matched: str
) -> None:
    page.open(path)
    panel = open_panel(page, "flDebugGatewayRoutesPanel")
    rows = panel.find_elements(By.CSS_SELECTOR, "tbody tr")
    table = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    paths = {(r[0], r[3]) for r in table}
    assert ("/extensions/<slug>", "frontend_app") in paths
    assert ("/backend/api/extensions/<slug>", "backend_app") in paths
    assert ("/_gateway/health", "gateway") in paths
    assert {r[3] for r in table} == {"frontend_app", "backend_app", "gateway"}
    current = [
        row.find_element(By.TAG_NAME, "td").text
        for row in rows
        if row.get_attribute("aria-current")
    ]
    assert current == [matched]
    screenshot(page, artifacts, f"toolbar-routes-{'api' if 'backend' in path else 'site'}")


def test_site_session_survives_a_visit_to_the_api(page: Browser) -> None:
    slug = "flask-login"
    page.open(f"/extensions/{slug}")
    star = page.driver.find_element(
        By.CSS_SELECTOR, f"form.star-form[action='/stars/{slug}'] button[name='action']"
    )
    page.click_and_wait(star)
    cookie = page.driver.get_cookie(SITE_COOKIE)
    assert cookie is not None and cookie["path"] == "/"

    for api_page in ("/backend/", "/backend/api/extensions", "/backend/ui/sign-in"):
        page.open(api_page)
        assert page.driver.find_element(By.ID, "flDebugToolbar")  # the API's own page
    assert page.driver.get_cookie(SITE_COOKIE) == cookie

    page.open("/")
    aside = page.driver.find_element(By.CSS_SELECTOR, "aside.stars")
    assert [a.text for a in aside.find_elements(By.TAG_NAME, "a")] == [slug]


def test_api_sign_in_survives_a_visit_to_the_site(page: Browser, dev_server: DevServer) -> None:
    page.open("/backend/ui/sign-in")
    page.driver.find_element(By.ID, "token").send_keys(dev_server.token)
    page.click_and_wait(page.driver.find_element(By.CSS_SELECTOR, "form.record button"))
    assert page.path() == "/backend/"
    cookie = page.driver.get_cookie(API_COOKIE)
    assert cookie is not None and cookie["path"] == "/backend"
    sign_out = "form[action='/backend/ui/sign-out'] button"
    assert page.driver.find_elements(By.CSS_SELECTOR, sign_out)

    # The site, including a star (its own session cookie), leaves the API's sign-in alone.
    page.open("/extensions/flask-login")
    page.click_and_wait(
        page.driver.find_element(By.CSS_SELECTOR, "form.star-form button[name='action']")
    )
    page.open("/search?q=cache")
    assert page.driver.get_cookie(SITE_COOKIE) is not None
    # The browser only shows a page the cookies of its path: look from under /backend.
    page.open("/backend/api/extensions")
    after = page.driver.get_cookie(API_COOKIE)
    assert after is not None and after["path"] == "/backend"
    # The same sign-in: a permanent session is re-signed on each API request (new
    # timestamp), but what it holds is unchanged.
    assert session_payload(after) == session_payload(cookie)
    assert page.driver.find_elements(By.CSS_SELECTOR, sign_out), "signed out by the site"
    assert page.driver.find_element(By.LINK_TEXT, "New extension")


def test_dev_server_started_on_a_fresh_data_dir(dev_server: DevServer) -> None:
    # `gateway run` began with no data dir at all: it made the secrets (privately) and
    # the catalogue, and never logged a traceback while these tests ran.
    secrets = dev_server.data_dir / "secrets.json"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert (dev_server.data_dir / "backend_app" / "catalog.sqlite3").exists()
    log = dev_server.log.read_text()
    assert "Running on http://127.0.0.1:" in log
    assert "Traceback" not in log
