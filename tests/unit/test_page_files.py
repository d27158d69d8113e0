"""Page files for nginx (gateway.cache.files): the same rules as nginx.conf, generations
linked by time slot, swapped and reclaimed as the store renews, bounded in number."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from gateway.cache.files import (
    COUNT,
    SAFE_PATH,
    SAFE_QUERY,
    FilePages,
    cache_control,
    file_name,
    nginx_values,
    slot_digits,
)
from gateway.cache.generations import SimplePages
from gateway.cache.middleware import Requested
from gateway.http.etags import none_match, strong_etag
from gateway.http.negotiation import preferred_encoding, preferred_type
from tests.support.accept_headers import (
    BROWSERS,
    ENCODING_BROWSERS,
    accept_encodings,
    accept_headers,
    arbitrary_headers,
    if_none_matches,
)

NGINX_CONF = Path(__file__).resolve().parents[2] / "nginx.conf"
CONTROL = cache_control(300)
TAG = strong_etag(0x5F3C2A91, 5)
SITE_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "5"),
    ("Cache-Control", CONTROL),
    ("Vary", "Cookie, Accept-Encoding"),
    ("ETag", TAG),
]


def asked(path: str = "/", query: str = "", coding: str = "", host: str = "h:1") -> Requested:
    """A request for ``path`` as the response cache reads it."""
    return Requested("http", host, path, query, "text/html", coding)


HOME = asked()


def nginx_map(source: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """nginx.conf's ``map <source> ...`` block: its exact entries, and its regexes in
    order, unescaped as nginx reads a quoted string and compiled as PCRE would run them
    on bytes (ASCII case folding only)."""
    text = NGINX_CONF.read_text()
    block = text[text.index(f"map {source} ") :]
    block = block[block.index("{") + 1 : block.index("\n}")]
    exact, regexes = {}, []
    for key, value in re.findall(r'^\s*"((?:[^"\\]|\\.)*)" (\S+);$', block, re.M):
        key = key.replace("\\\\", "\\")
        if key.startswith("~"):
            flags = re.ASCII | (re.IGNORECASE if key.startswith("~*") else 0)
            regexes.append((re.compile(key.lstrip("~*"), flags), value))
        else:
            exact[key] = value
    return exact, regexes


def nginx_lookup(source: str, value: str, default: str) -> str:
    """What nginx.conf's ``map <source>`` gives ``value``: exact entries first, then the
    regexes in order, as nginx's map does."""
    exact, regexes = nginx_map(source)
    if value in exact:
        return exact[value]
    return next((v for pattern, v in regexes if pattern.search(value)), default)


def nginx_variant(accept: str) -> str:
    """The variant nginx.conf's Accept map gives ``accept`` ("" = not certain)."""
    return nginx_lookup("$http_accept", accept, "")


def app_variant(accept: str) -> str:
    return "html" if preferred_type(accept or None) == "text/html" else "json"


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accept_headers())
@example('*/*, application/json;q="0"')
@example("*/*, application/json;q*=utf-8''0")
@example("*/*, application/json;q*0=0")
@example('application/*;q="0", */*')
@example("text/html,te\\xt/html")
def test_nginx_is_never_sure_of_another_variant_than_the_app(accept: str) -> None:
    variant = nginx_variant(accept)
    assert variant in ("", app_variant(accept)), (accept, variant)


@settings(max_examples=1000, deadline=None)
@given(arbitrary_headers)
def test_nginx_is_never_sure_of_another_variant_for_any_bytes(accept: str) -> None:
    assert nginx_variant(accept) in ("", app_variant(accept))


def test_nginx_is_certain_for_common_clients() -> None:
    assert [nginx_variant(a) for a in BROWSERS] == ["html", "html", "html", "json", "json", "json"]
    codings = [nginx_lookup("$http_accept_encoding", a, "") for a in ENCODING_BROWSERS]
    assert codings == ["gz", "gz", "gz", "gz", "id", "id"]


@settings(max_examples=3000, deadline=None)
@given(accept_encodings())
@example("gzip;q=0, deflate")
@example("identity, gzip;q=0.5")
@example("*")
def test_nginx_is_never_sure_of_another_coding_than_the_app(header: str) -> None:
    coding = nginx_lookup("$http_accept_encoding", header, "")
    app = "gz" if preferred_encoding(header or None) == "gzip" else "id"
    assert coding in ("", app), (header, coding)


def nginx_none_match(if_none_match: str, etag: str) -> bool:
    """nginx's ngx_http_test_if_match(r, header, weak=1) on ``if_none_match``."""
    if if_none_match == "*":
        return True
    start, end = 0, len(if_none_match)
    while start < end:
        if end - start > 2 and if_none_match.startswith("W/", start):
            start += 2
        if len(etag) > end - start:
            return False
        if if_none_match.startswith(etag, start):
            start += len(etag)
            while start < end and if_none_match[start] in " \t":
                start += 1
            if start == end or if_none_match[start] == ",":
                return True
        while start < end and if_none_match[start] != ",":
            start += 1
        while start < end and if_none_match[start] in " \t,":
            start += 1
    return False


@settings(max_examples=3000, deadline=None)
@given(if_none_matches(TAG))
@example(TAG[:-1])
@example(TAG.strip('"'))
@example("w/" + TAG)
@example(f'{TAG}"')
def test_nginx_answers_if_none_match_as_the_app_where_it_answers(header: str) -> None:
    # Where the map lets nginx answer (a file with the app's ETag), it must say 304
    # exactly when the app does; every other header goes to the app.
    if nginx_lookup("$http_if_none_match", header, "0") == "1":
        assert nginx_none_match(header, TAG) == none_match(header, TAG), header


def test_nginx_and_python_share_the_path_and_query_rules() -> None:
    _, uri = nginx_map("$uri")
    _, args = nginx_map("$args")
    assert [p.pattern for p, _ in uri] == [f"^{SAFE_PATH.pattern}$"]
    assert [p.pattern for p, _ in args] == [f"^{SAFE_QUERY.pattern}$"]


@pytest.mark.parametrize(
    "path,query",
    [
        ("/..", ""),
        ("/a/../b", ""),
        ("/.hidden", ""),
        ("//x", ""),
        ("/a", "x=/../../etc"),
        ("/a", "x=..%2f"),
        ("/a b", ""),
        ("/é", ""),
        ("/a", "x" * 201),
        ("/" + "a" * 250, "q=" + "b" * 10),
    ],
)
def test_no_file_name_for_unsafe_requests(path: str, query: str) -> None:
    request = asked(path, query, host="127.0.0.1:80")
    assert file_name("frontend", "html", request, SITE_HEADERS, CONTROL) is None


def test_file_names_keep_slash_query_scheme_and_coding_apart() -> None:
    gzipped = [h for h in SITE_HEADERS if h[0] != "Content-Length"] + [("Content-Encoding", "gzip")]
    names = {
        file_name("frontend", "html", asked(path, query), SITE_HEADERS, CONTROL)
        for path, query in [("/a", ""), ("/a/", ""), ("/a", "b"), ("/a.b", ""), ("/", "")]
    }
    names.add(file_name("frontend", "html", asked(coding="gzip"), gzipped, CONTROL))
    names.add(file_name("frontend", "html", HOME._replace(scheme="https"), SITE_HEADERS, CONTROL))
    assert None not in names and len(names) == 7
    assert file_name("frontend", "html", HOME, SITE_HEADERS, CONTROL) == (
        "http/h:1/frontend/html/..id.html",
        0x5F3C2A91,
    )


@pytest.mark.parametrize(
    "change",
    [
        ("Vary", "Accept"),
        ("Vary", "Cookie"),
        ("ETag", '"not-the-gateways"'),
        ("Content-Encoding", "gzip"),
        ("Cache-Control", "public, max-age=60"),
        ("Cache-Control", cache_control(60)),
        ("Content-Type", "text/plain"),
        ("X-Extra", "1"),
    ],
)
def test_no_file_when_nginx_could_not_replay_the_headers(change: tuple[str, str]) -> None:
    headers = [h for h in SITE_HEADERS if h[0] != change[0]] + [change]
    assert file_name("frontend", "html", HOME, headers, CONTROL) is None


@pytest.mark.parametrize(
    "timeout,digits,links", [(1, 0, 1), (9, 0, 9), (60, 0, 60), (300, 1, 30), (3600, 2, 36)]
)
def test_slots_follow_the_timeout(timeout: int, digits: int, links: int) -> None:
    assert slot_digits(timeout) == digits
    assert nginx_values(timeout) == {"S_MAXAGE": str(timeout), "SLOT_DIGITS": str(digits)}
    # A generation is linked for the slots that end before it is `timeout` seconds old:
    # between timeout - slot and timeout seconds.
    slot = 10**digits
    assert links * slot <= timeout and (links + 1) * slot > timeout - slot


def slots(root: Path) -> dict[str, str]:
    """Slot link -> the generation it names."""
    return {e.name: os.readlink(e) for e in root.iterdir() if e.name.startswith("slot-")}


def current(root: Path) -> Path:
    """The directory nginx reads now (through this second's slot link)."""
    digits = slot_digits(300)
    return root / f"slot-{int(time.time()) // 10**digits}"


def publish(pages: FilePages, generation: str, path: str, body: bytes) -> bool:
    return pages.publish(generation, "frontend", "html", asked(path), SITE_HEADERS, body)


def test_renew_links_the_slots_and_reclaims_old_generations(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    pages = FilePages(SimplePages("files-test"), root)
    first = pages.renew()
    assert publish(pages, first, "/", b"first")
    assert (current(root) / "http/h:1/frontend/html/..id.html").read_bytes() == b"first"
    second = pages.renew()
    links = slots(root)
    assert set(links.values()) == {second} and 29 <= len(links) <= 30
    assert not (root / first).exists()
    # A slow request that read the first generation keeps nothing now.
    assert not publish(pages, first, "/", b"stale")
    assert not (current(root) / "http/h:1/frontend/html/..id.html").exists()
    assert publish(pages, second, "/", b"fresh")
    page = current(root) / "http/h:1/frontend/html/..id.html"
    assert page.read_bytes() == b"fresh" and oct(page.stat().st_mode & 0o777) == "0o644"


def test_a_generation_is_never_linked_past_the_timeout(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    started = time.time()
    pages = FilePages(SimplePages("files-test-linked"), root, timeout=300)
    pages.renew()
    ends = [(int(name[5:]) + 1) * 10 for name in slots(root)]
    assert max(ends) <= started + 300 + 1 and min(ends) > started


def test_a_generation_whose_slots_are_over_is_renewed(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    pages = FilePages(SimplePages("files-test-old"), root, timeout=60)
    first = pages.renew()
    assert pages.generation() == first
    for link in root.glob("slot-*"):  # as if every slot were in the past
        link.unlink()
    second = pages.generation()
    assert second != first and set(slots(root).values()) == {second}


def test_files_are_bounded_and_the_oldest_go_first(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    pages = FilePages(SimplePages("files-test-bound"), root, max_files=20)
    token = pages.renew()
    for n in range(100):
        assert publish(pages, token, f"/search-{n}", b"x" * 10)
        files = [p for p in (root / token).rglob("*") if p.is_file() and p.name != COUNT]
        assert len(files) <= 20
    names = sorted(int(p.name.split("-")[1].split(".")[0]) for p in files)
    assert names[-1] == 99 and names[0] >= 80  # the newest kept
    # Publishing the same page again replaces it and counts once.
    assert publish(pages, token, "/search-99", b"again")
    assert len([p for p in (root / token).rglob("*.html")]) == len(files)


def test_an_unwritable_pages_dir_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pages = FilePages(SimplePages("files-test-ro"), tmp_path / "pages")
    token = pages.renew()
    (tmp_path / "pages" / token / "http").write_text("a file where a directory goes")
    for _ in range(3):
        assert not publish(pages, token, "/", b"x")
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1


class FailingPages(SimplePages):
    """A store whose renewals fail."""

    def renew(self) -> str:
        raise ConnectionError("store down")


def test_a_renewal_the_store_refuses_leaves_nginx_no_file(tmp_path: Path) -> None:
    good = FilePages(SimplePages("files-test-down"), tmp_path / "pages")
    token = good.renew()
    assert publish(good, token, "/", b"old")
    failing = FilePages(FailingPages("files-test-down"), tmp_path / "pages")
    with pytest.raises(ConnectionError):
        failing.renew()
    assert slots(tmp_path / "pages") == {}


def test_an_invalidation_while_the_store_is_skipped_withdraws_the_files(tmp_path: Path) -> None:
    from gateway.cache.middleware import ResponseCache

    pages = FilePages(SimplePages("files-test-skip"), tmp_path / "pages")
    pages.renew()
    cache = ResponseCache(app=lambda e, s: [], pages=pages, routes=[])
    cache.down_until = float("inf")  # skipped after an error
    assert cache.invalidate() is False
    assert slots(tmp_path / "pages") == {}


def test_withdrawing_before_any_file_is_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    FilePages(SimplePages("files-test-none"), tmp_path / "never").withdraw()
    assert not caplog.records
