"""The website in a real headless Chromium, through the real nginx -> uWSGI stack.

Selenium drives Debian's chromium with Debian's chromedriver (never Selenium Manager, which
would try to download a browser). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.support.chromium import Browser
from tests.support.stack import Runner

pytestmark = pytest.mark.browser

SESSION_COOKIE = "gateway_site_session"


@pytest.fixture(scope="module")
def browser(chromium: WebDriver, stack: Runner) -> Browser:
    """The module's Chromium, pointed at the production stack."""
    return Browser(chromium, f"http://127.0.0.1:{stack.port}")


# --- 1. Layout: no sideways scrolling on a phone or a laptop -----------------------------


@pytest.mark.parametrize("size", [(375, 800), (1280, 900)], ids=["phone", "desktop"])
@pytest.mark.parametrize(
    ("path", "heading"),
    [("/", "Flask extensions"), ("/category/orm", None), ("/extensions/flask-login", None)],
    ids=["home", "category", "extension"],
)
def test_no_horizontal_overflow(
    page: Browser, size: tuple[int, int], path: str, heading: str | None
) -> None:
    page.resize(*size)
    page.open(path)
    assert page.path() == path
    # The stylesheet applied (nginx served it, the CSP let it in): the skip link is parked
    # off screen until focused.
    skip = page.driver.find_element(By.CSS_SELECTOR, "a.skip-link")
    assert skip.value_of_css_property("position") == "absolute"
    h1 = page.driver.find_element(By.TAG_NAME, "h1")
    assert h1.is_displayed() and h1.text.strip()
    if heading is not None:
        assert h1.text == heading
    widths = page.js(
        "return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
        " h1Right: document.querySelector('h1').getBoundingClientRect().right}"
    )
    assert widths["inner"] == size[0]
    assert widths["scroll"] <= widths["inner"], f"{path} scrolls sideways at {size}: {widths}"
    assert widths["h1Right"] <= widths["inner"], widths


# --- 2. Keyboard: the skip link ---------------------------------------------------------


def test_tab_first_focuses_skip_link_which_moves_to_main(page: Browser) -> None:
    page.open("/")
    ActionChains(page.driver).send_keys(Keys.TAB).perform()
    focused = page.driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip-link", focused.get_attribute("outerHTML")
    assert focused.text == "Skip to content"
    # Focused, it comes on screen.
    assert focused.rect["x"] >= 0 and focused.is_displayed()

    ActionChains(page.driver).send_keys(Keys.ENTER).perform()
    page.wait().until(lambda d: urlsplit(d.current_url).fragment == "main")
    assert page.js("return document.activeElement.id") == "main"
    # The next Tab continues inside main (the home page's own search box), not in the header.
    ActionChains(page.driver).send_keys(Keys.TAB).perform()
    assert page.js("return document.getElementById('main').contains(document.activeElement)")
    assert page.driver.switch_to.active_element.get_attribute("id") == "home-q"


# --- 3. Search through the header form ----------------------------------------------------


def test_header_search_lists_extension_links(page: Browser) -> None:
    page.open("/extensions/flask-login")
    box = page.driver.find_element(By.ID, "site-q")
    box.send_keys("cache", Keys.ENTER)
    page.wait().until(lambda d: urlsplit(d.current_url).path == "/search")

    url = urlsplit(page.driver.current_url)
    assert parse_qs(url.query) == {"q": ["cache"]}
    assert page.driver.find_element(By.TAG_NAME, "h1").text == "Search"
    assert page.driver.find_element(By.ID, "site-q").get_attribute("value") == "cache"
    cards = page.driver.find_elements(By.CSS_SELECTOR, "main .cards .card")
    assert cards, page.driver.find_element(By.TAG_NAME, "main").text
    for card in cards:
        link = card.find_element(By.CSS_SELECTOR, "h3 a")
        href = urlsplit(link.get_attribute("href") or "")
        assert href.netloc == url.netloc and href.path.startswith("/extensions/"), href
        assert "cache" in (card.text + href.path).lower(), card.text

    first = cards[0].find_element(By.CSS_SELECTOR, "h3 a")
    name, target = first.text, urlsplit(first.get_attribute("href") or "").path
    page.click_and_wait(first)
    assert page.path() == target
    assert page.driver.find_element(By.TAG_NAME, "h1").text == name


# --- 4. Stars: the form, the session cookie and the aside ---------------------------------


def star_button(page: Browser, slug: str) -> WebElement:
    """The star button of ``slug`` on the current page."""
    return page.driver.find_element(
        By.CSS_SELECTOR, f"form.star-form[action='/stars/{slug}'] button[name='action']"
    )


def starred_slugs(page: Browser) -> list[str] | None:
    """The slugs in the ``.stars`` aside of the current page, None when it has none."""
    asides = page.driver.find_elements(By.CSS_SELECTOR, "aside.stars")
    if not asides:
        return None
    links = asides[0].find_elements(By.CSS_SELECTOR, "a")
    for link in links:
        assert urlsplit(link.get_attribute("href") or "").path == f"/extensions/{link.text}"
    return [link.text for link in links]


def test_star_and_unstar_with_the_real_button(page: Browser) -> None:
    slug = "flask-login"
    page.open(f"/extensions/{slug}")
    assert page.driver.get_cookie(SESSION_COOKIE) is None
    assert starred_slugs(page) is None
    button = star_button(page, slug)
    assert button.get_attribute("aria-pressed") == "false"
    assert button.get_attribute("value") == "star"

    # No session yet: the form has no CSRF token and the browser's Origin vouches for it.
    page.click_and_wait(button)
    assert page.path() == f"/extensions/{slug}", page.driver.page_source[:2000]
    button = star_button(page, slug)
    assert button.get_attribute("aria-pressed") == "true"
    assert button.get_attribute("value") == "unstar"
    cookie = page.driver.get_cookie(SESSION_COOKIE)
    assert cookie is not None and cookie["httpOnly"]
    assert starred_slugs(page) == [slug]

    # Another page shows the star too.
    page.open("/")
    assert starred_slugs(page) == [slug]

    # With a session the form carries a CSRF token, which the browser sends back.
    page.open(f"/extensions/{slug}")
    button = star_button(page, slug)
    assert button.get_attribute("value") == "unstar"
    page.click_and_wait(button)
    assert page.path() == f"/extensions/{slug}", page.driver.page_source[:2000]
    assert star_button(page, slug).get_attribute("aria-pressed") == "false"
    assert starred_slugs(page) is None
    assert page.driver.get_cookie(SESSION_COOKIE) is None

    page.open("/")
    assert starred_slugs(page) is None


def test_star_from_a_card_returns_to_the_list(page: Browser) -> None:
    page.open("/")
    cards = page.driver.find_elements(By.CSS_SELECTOR, "main .cards .card form.star-form")
    assert len(cards) >= 2
    slugs = [(form.get_attribute("action") or "").rsplit("/", 1)[-1] for form in cards[:2]]

    for done, slug in enumerate(slugs, start=1):
        page.click_and_wait(star_button(page, slug))
        # The form's "next" brought the browser back to the home page.
        assert page.path() == "/", page.driver.page_source[:2000]
        assert starred_slugs(page) == slugs[:done]
        assert star_button(page, slug).get_attribute("aria-pressed") == "true"
    assert page.driver.get_cookie(SESSION_COOKIE) is not None

    for left, slug in enumerate(slugs, start=1):
        page.click_and_wait(star_button(page, slug))
        assert page.path() == "/", page.driver.page_source[:2000]
        assert starred_slugs(page) == (slugs[left:] or None)
    assert page.driver.get_cookie(SESSION_COOKIE) is None


# --- 5. The API's browsable pages -----------------------------------------------------------


def test_api_html_list_links_to_detail(page: Browser) -> None:
    page.open("/backend/api/extensions")
    assert page.driver.find_element(By.TAG_NAME, "h1").text == "Extensions"
    # Each row: the extension's name (to its detail page), its category (to the filtered list).
    rows = page.driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert rows, page.driver.page_source[:2000]
    links = [row.find_element(By.CSS_SELECTOR, "td:first-child a") for row in rows]
    paths = [urlsplit(link.get_attribute("href") or "").path for link in links]
    assert all(p.startswith("/backend/api/extensions/") for p in paths), paths
    category = urlsplit(
        rows[0].find_element(By.CSS_SELECTOR, "td:nth-child(2) a").get_attribute("href") or ""
    )
    assert category.path == "/backend/api/extensions" and category.query.startswith("category=")

    first = links[0]
    name, target = first.text, paths[0]
    slug = target.rsplit("/", 1)[-1]
    page.click_and_wait(first)
    assert page.path() == target
    assert page.driver.find_element(By.TAG_NAME, "h1").text == name
    terms = {
        dt.text: dd.text
        for dt, dd in zip(
            page.driver.find_elements(By.CSS_SELECTOR, "main dl dt"),
            page.driver.find_elements(By.CSS_SELECTOR, "main dl dd"),
            strict=True,
        )
    }
    assert terms["Slug"] == slug
    website = page.driver.find_element(By.LINK_TEXT, terms["On the website"])
    assert urlsplit(website.get_attribute("href") or "").path == f"/extensions/{slug}"


# --- 6. The console: nothing blocked, nothing broken -------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/extensions/flask-login", "/search?q=cache", "/backend/api/extensions"],
    ids=["home", "extension", "search", "api-list"],
)
def test_no_console_errors(page: Browser, path: str) -> None:
    page.open(path)
    assert page.path() == path
    errors = page.console_errors()
    assert errors == [], f"console errors on {path}: {errors}"
    # The log does catch errors: a deliberate one shows up.
    page.js("console.error('probe-from-test')")
    assert any("probe-from-test" in e["message"] for e in page.console_errors())
