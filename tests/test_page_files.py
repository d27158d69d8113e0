"""Page files for nginx (gateway.page_files): the same rules as nginx.conf, and the
generation directories swapped and reclaimed as the store renews."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from gateway.negotiation import preferred_type
from gateway.page_files import CACHE_CONTROL, SAFE_PATH, SAFE_QUERY, FilePages, file_name
from gateway.page_stores import SimplePages

NGINX_CONF = Path(__file__).resolve().parents[1] / "nginx.conf"
SITE_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "5"),
    ("Cache-Control", CACHE_CONTROL),
    ("Vary", "Cookie"),
]


def nginx_map(source: str) -> dict[str, str]:
    """The regex entries of nginx.conf's ``map <source> ...`` block: pattern -> value,
    unescaped as nginx reads a quoted string."""
    text = NGINX_CONF.read_text()
    block = text[text.index(f"map {source} ") :]
    block = block[: block.index("\n}")]
    entries = re.findall(r'^\s*"(~\*?)(.*)" (\S+);$', block, re.M)
    return {
        ("(?i)" if flag == "~*" else "") + pattern.replace("\\\\", "\\"): value
        for flag, pattern, value in entries
    }


def nginx_variant(accept: str) -> str:
    """The variant nginx.conf's Accept map gives ``accept`` ("" = not certain)."""
    if accept == "":
        return "json"
    for pattern, value in nginx_map("$http_accept").items():
        if re.search(pattern, accept):
            return value
    return ""


ACCEPT_ATOMS = [
    "text/html", "*/*", "application/json", "application/*", "text/*", "image/png",
    "application/xhtml+xml", ";q=0", ";q=0.5", ";q=1", ";q=2", ";q=0.000", ";Q=0", ";q =0",
    ";q=.5", ";q=-1", ";level=1", '"', "\\", ",", ", ", "JSON", "Text/Html", "*", " ", "=",
]  # fmt: skip


def accept_sample(count: int, seed: int = 7) -> list[str]:
    """Accept headers built from pieces that move werkzeug's choice, half led by text/html."""
    rng = random.Random(seed)
    sample = []
    for _ in range(count):
        value = "".join(rng.choice(ACCEPT_ATOMS) for _ in range(rng.randint(0, 6)))
        sample.append(("text/html," + value) if rng.random() < 0.5 else value)
    return sample


BROWSERS = [
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "*/*",
    "application/json",
    "",
]


def test_nginx_variant_is_never_other_than_the_apps() -> None:
    # One test over the whole sample: 20,000 parametrized cases would cost a minute.
    wrong = []
    for accept in BROWSERS + accept_sample(20000):
        variant = nginx_variant(accept)
        if variant and variant != ("html" if preferred_type(accept) == "text/html" else "json"):
            wrong.append((accept, variant))
    assert not wrong


def test_nginx_is_certain_for_common_clients() -> None:
    assert [nginx_variant(a) for a in BROWSERS] == ["html", "html", "json", "json", "json"]


def test_nginx_and_python_share_the_path_and_query_rules() -> None:
    uri = nginx_map("$uri")
    args = nginx_map("$args")
    assert list(uri) == [f"^{SAFE_PATH.pattern}$"]
    assert list(args) == [f"^{SAFE_QUERY.pattern}$"]


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
    assert file_name("frontend", "html", ("127.0.0.1:80", path, query), SITE_HEADERS) is None


def test_file_names_keep_slash_and_query_apart() -> None:
    names = {
        file_name("frontend", "html", ("h:1", path, query), SITE_HEADERS)
        for path, query in [("/a", ""), ("/a/", ""), ("/a", "b"), ("/a.b", ""), ("/", "")]
    }
    assert None not in names and len(names) == 5


@pytest.mark.parametrize(
    "change",
    [
        ("Vary", "Accept"),
        ("Cache-Control", "public, max-age=60"),
        ("Content-Type", "text/plain"),
        ("X-Extra", "1"),
    ],
)
def test_no_file_when_nginx_could_not_replay_the_headers(change: tuple[str, str]) -> None:
    headers = [h for h in SITE_HEADERS if h[0] != change[0]] + [change]
    assert file_name("frontend", "html", ("h:1", "/", ""), headers) is None


def test_renew_swaps_current_and_reclaims_old_generations(tmp_path: Path) -> None:
    pages = FilePages(SimplePages("files-test"), tmp_path / "pages")
    first = pages.renew()
    assert pages.publish(first, "h:1/frontend/html/..html", b"first")
    second = pages.renew()
    current = tmp_path / "pages" / "current"
    assert current.resolve().name == second
    assert not (tmp_path / "pages" / first).exists()
    # A slow request that read the first generation keeps nothing now.
    assert not pages.publish(first, "h:1/frontend/html/..html", b"stale")
    assert not (current / "h:1/frontend/html/..html").exists()
    assert pages.publish(second, "h:1/frontend/html/..html", b"fresh")
    assert (current / "h:1/frontend/html/..html").read_bytes() == b"fresh"
    assert oct((current / "h:1/frontend/html/..html").stat().st_mode & 0o777) == "0o644"


def test_an_unwritable_pages_dir_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pages = FilePages(SimplePages("files-test-ro"), tmp_path / "pages")
    token = pages.renew()
    (tmp_path / "pages" / token / "h:1").write_text("a file where a directory goes")
    for _ in range(3):
        assert not pages.publish(token, "h:1/frontend/html/..html", b"x")
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 1


def test_a_generation_older_than_the_timeout_is_renewed(tmp_path: Path) -> None:
    pages = FilePages(SimplePages("files-test-old"), tmp_path / "pages", timeout=60)
    first = pages.renew()
    assert pages.generation() == first
    current = tmp_path / "pages" / "current"
    os.utime(current, (0, 0), follow_symlinks=False)  # became current long ago
    second = pages.generation()
    assert second != first and current.resolve().name == second


class FailingPages(SimplePages):
    """A store whose renewals fail."""

    def renew(self) -> str:
        raise ConnectionError("store down")


def test_a_renewal_the_store_refuses_leaves_nginx_no_file(tmp_path: Path) -> None:
    good = FilePages(SimplePages("files-test-down"), tmp_path / "pages")
    token = good.renew()
    assert good.publish(token, "h:1/frontend/html/..html", b"old")
    failing = FilePages(FailingPages("files-test-down"), tmp_path / "pages")
    with pytest.raises(ConnectionError):
        failing.renew()
    assert not (tmp_path / "pages" / "current").exists()


def test_an_invalidation_while_the_store_is_skipped_withdraws_the_files(tmp_path: Path) -> None:
    from gateway.response_cache import ResponseCache

    pages = FilePages(SimplePages("files-test-skip"), tmp_path / "pages")
    pages.renew()
    cache = ResponseCache(app=lambda e, s: [], pages=pages, routes=[])
    cache.down_until = float("inf")  # skipped after an error
    assert cache.invalidate() is False
    assert not (tmp_path / "pages" / "current").exists()
