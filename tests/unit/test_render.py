"""The one template renderer (gateway.render) and what nginx.conf takes from the mount
table (gateway.nginx)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.mounts import MOUNTS, Mount
from gateway.nginx import error_format, mount_values, site_values
from gateway.render import PLACEHOLDER, fill, parse_pairs, render
from gateway.settings import Base, ConfigError

REPO = Path(__file__).resolve().parents[2]
# The values deploy/run and deploy/install give nginx.conf themselves.
HOST_VALUES = ("LISTEN", "SERVER_NAMES", "HOME", "RUN_DIR", "LOG_DIR", "PAGES_DIR", "TLS_CONF")


def test_fill_replaces_each_placeholder_once() -> None:
    # A value is inserted as it is, never searched for placeholders itself.
    assert fill("a @X@ b @Y@ @X@", {"X": "@Y@", "Y": "1"}) == "a @Y@ b 1 @Y@"
    assert fill("user@example.org @ 3", {}) == "user@example.org @ 3"


def test_fill_names_every_placeholder_left() -> None:
    with pytest.raises(ConfigError) as refused:
        fill("@B@ @A@ @B@", {})
    assert refused.value.problems == ["render: no value for @A@", "render: no value for @B@"]


def test_render_writes_the_whole_file_or_nothing(tmp_path: Path) -> None:
    template = tmp_path / "t.conf"
    template.write_text("port @PORT@;\n")
    dest = tmp_path / "site.conf"
    dest.write_text("the old one\n")
    with pytest.raises(ConfigError):
        render(template, dest, {})
    assert dest.read_text() == "the old one\n"
    render(template, dest, {"PORT": "80"})
    assert dest.read_text() == "port 80;\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.conf", "t.conf"]


def test_parse_pairs() -> None:
    assert parse_pairs(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ConfigError, match="'lower=1' is not NAME=VALUE"):
        parse_pairs(["lower=1"])
    with pytest.raises(ConfigError, match="'A' is not NAME=VALUE"):
        parse_pairs(["A"])


def test_nginx_conf_has_a_value_for_every_placeholder() -> None:
    values = site_values(
        {"RESPONSE_CACHE_TIMEOUT": Base.RESPONSE_CACHE_TIMEOUT, "METRICS_CLIENTS": []},
        MOUNTS,
        REPO,
    )
    template = (REPO / "nginx.conf").read_text()
    assert set(PLACEHOLDER.findall(template)) == {*HOST_VALUES, *values}
    text = fill(template, {**dict.fromkeys(HOST_VALUES, "x"), **values})
    # nginx.conf itself names no mount: the table does.
    assert not re.search(r"backend|frontend", (REPO / "nginx.conf").read_text())
    assert '"~^/backend(/|$)" backend;' in text


def test_the_longest_prefix_comes_first_as_the_dispatcher_chooses() -> None:
    mounts = (
        Mount("", "frontend_app", "site"),
        Mount("/a", "backend_app", "a"),
        Mount("/a/b.c", "frontend_app", "ab"),
    )
    values = mount_values(mounts, Path("/code"))
    assert values["MOUNT_NAMESPACES"] == (r'"~^/a/b\.c(/|$)" ab; "~^/a(/|$)" a; default site;')
    assert values["ERROR_APPS"].index("/a/b") < values["ERROR_APPS"].index("/a(")
    # No page files for namespaces the app does not replay (gateway.cache.files).
    assert values["FILE_EXTENSIONS"] == values["FILE_VARY"] == ""


def test_a_mount_nginx_could_not_read_is_refused() -> None:
    mounts = (Mount("", "frontend_app", "site"), Mount("/a", "backend_app", 'a"; evil'))
    with pytest.raises(ConfigError, match="cannot be written into nginx.conf"):
        mount_values(mounts, Path("/code"))


def test_errors_take_the_format_of_the_page_the_app_ships() -> None:
    assert error_format("frontend_app") == "html"
    assert error_format("backend_app") == "json"
    with pytest.raises(ConfigError, match="ships no static/errors"):
        error_format("gateway")
