"""Profiles, environment overrides, production refusals and the debug toolbar."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from gateway.compose import build_gateway
from gateway.extensions import cache
from gateway.factory import create_app
from gateway.secret_file import ensure_secrets, read_secrets
from gateway.settings import ConfigError, typed
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import make_settings, production

# -- layering ------------------------------------------------------------------------


def test_app_prefix_wins_over_gateway_prefix(tmp_path: Path) -> None:
    gateway = build_gateway(
        make_settings(tmp_path, GATEWAY_PER_PAGE="7", BACKEND_PER_PAGE="9", FRONTEND_X="text")
    )
    frontend, backend = gateway.apps[""], gateway.apps["/backend"]
    assert (frontend.config["PER_PAGE"], backend.config["PER_PAGE"]) == (7, 9)
    assert frontend.config["X"] == "text" and "X" not in backend.config
    assert len(Client(gateway).get("/backend/api/extensions").json["items"]) == 9


def test_trusted_hosts_are_comma_separated(tmp_path: Path) -> None:
    app = create_app("backend_app", make_settings(tmp_path, GATEWAY_TRUSTED_HOSTS="a.org, b.org"))
    assert app.config["TRUSTED_HOSTS"] == ["a.org", "b.org"]


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'staging'"):
        build_gateway(make_settings(tmp_path, GATEWAY_PROFILE="staging"))


@pytest.mark.parametrize("timeout", ["0", "-5", "abc", "1.5", "true", ""])
def test_a_response_cache_timeout_that_cannot_work_is_refused(tmp_path: Path, timeout: str) -> None:
    # nginx's page files are linked per time slot of this many seconds: at least one.
    with pytest.raises(ConfigError, match="RESPONSE_CACHE_TIMEOUT is .*at least 1"):
        build_gateway(make_settings(tmp_path, GATEWAY_RESPONSE_CACHE_TIMEOUT=timeout))


def test_bad_cache_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported scheme 'memcache'"):
        build_gateway(make_settings(tmp_path, GATEWAY_CACHE_URL="memcache://x"))


def test_testing_profile_shares_one_cache_between_apps(tmp_path: Path) -> None:
    gateway = build_gateway(make_settings(tmp_path))
    frontend, backend = gateway.apps[""], gateway.apps["/backend"]
    with backend.app_context():
        cache.set("shared-key", "from the backend")
    with frontend.app_context():
        assert cache.get("shared-key") == "from the backend"
        cache.delete("shared-key")
    with backend.app_context():
        assert cache.get("shared-key") is None


# -- production ----------------------------------------------------------------------


def test_valid_production_serves_without_toolbar(tmp_path: Path) -> None:
    gateway = build_gateway(production(tmp_path))
    for app in gateway.apps.values():
        assert not app.debug and app.config["PROFILE"] == "production"
        assert "debugtoolbar" not in app.blueprints
    client = Client(gateway)
    page = client.get("/", headers=HTML, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert page.status_code == 200 and "flDebug" not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"GATEWAY_DEBUG": "true"}, "DEBUG is on"),
        ({"BACKEND_DEBUG_TB_ENABLED": "true"}, "BACKEND: the debug toolbar is enabled"),
        ({"GATEWAY_USE_DEBUGGER": "true"}, "the Werkzeug debugger is enabled"),
        ({"FRONTEND_SECRET_KEY": None}, "FRONTEND_SECRET_KEY is missing"),
        ({"BACKEND_SECRET_KEY": ""}, "BACKEND_SECRET_KEY is missing"),
        ({"FRONTEND_SECRET_KEY": "changeme"}, "FRONTEND_SECRET_KEY is a placeholder"),
        ({"BACKEND_SECRET_KEY": "change-this-to-a-long-random-string-please"}, "placeholder"),
        ({"FRONTEND_SECRET_KEY": "abc123"}, "FRONTEND_SECRET_KEY is shorter than 32"),
        ({"BACKEND_API_TOKEN": None}, "BACKEND_API_TOKEN is missing"),
        ({"BACKEND_API_TOKEN": "secret"}, "BACKEND_API_TOKEN is a placeholder"),
        ({"GATEWAY_TRUSTED_HOSTS": None}, "TRUSTED_HOSTS is unset"),
        ({"GATEWAY_TRUSTED_HOSTS": " , "}, "TRUSTED_HOSTS is unset"),
    ],
)
def test_production_refuses_to_start(
    tmp_path: Path, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        build_gateway(production(tmp_path, **overrides))
    assert any(reason in line for line in raised.value.problems), raised.value.problems
    assert all("\n" not in line for line in raised.value.problems)


def test_production_lists_every_problem_at_once(tmp_path: Path) -> None:
    settings = {"GATEWAY_PROFILE": "production", "GATEWAY_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError) as raised:
        create_app("backend_app", settings)
    problems = raised.value.problems
    assert any("BACKEND_SECRET_KEY is missing" in p for p in problems)
    assert any("BACKEND_API_TOKEN is missing" in p for p in problems)
    assert any("TRUSTED_HOSTS is unset" in p for p in problems)


def test_production_answers_untrusted_hosts_with_400(tmp_path: Path) -> None:
    client = Client(build_gateway(production(tmp_path)))
    assert client.get("/backend/healthz", base_url="http://gw.example.org").status_code == 200
    assert client.get("/backend/healthz", base_url="http://other.example").status_code == 400


# -- development ---------------------------------------------------------------------


def test_development_shows_the_toolbar_on_both_apps(tmp_path: Path) -> None:
    client = Client(build_gateway(make_settings(tmp_path, GATEWAY_PROFILE="development")))
    local = {"REMOTE_ADDR": "127.0.0.1"}
    for path in ("/", "/extensions/flask-login", "/backend/", "/backend/api/extensions"):
        page = client.get(path, headers=HTML, environ_base=local)
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and 'id="flDebug"' in text, path
    # Its assets resolve under each app's prefix.
    assert client.get("/backend/_debug_toolbar/static/css/toolbar.css").status_code == 200
    assert client.get("/_debug_toolbar/static/css/toolbar.css").status_code == 200
    # JSON clients never see it; nor does anyone but the local host.
    assert client.get("/backend/api/extensions", environ_base=local).mimetype == "application/json"
    remote = client.get("/", headers=HTML, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert 'id="flDebug"' not in remote.get_data(as_text=True)


def test_development_does_not_intercept_the_slash_redirect(tmp_path: Path) -> None:
    client = Client(build_gateway(make_settings(tmp_path, GATEWAY_PROFILE="development")))
    response = client.get("/backend", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 308


# -- generated secrets ---------------------------------------------------------------


def test_secrets_are_generated_once_privately(tmp_path: Path) -> None:
    path = ensure_secrets(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    first = read_secrets(tmp_path)
    assert set(first) == {"FRONTEND_SECRET_KEY", "BACKEND_SECRET_KEY", "BACKEND_API_TOKEN"}
    assert len(set(first.values())) == 3 and all(len(v) >= 40 for v in first.values())
    ensure_secrets(tmp_path)
    assert read_secrets(tmp_path) == first


def test_generated_secrets_pass_the_production_check(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    settings = {
        "GATEWAY_PROFILE": "production",
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_TRUSTED_HOSTS": "localhost",
        **read_secrets(tmp_path),
    }
    build_gateway(settings)


def test_a_partial_secrets_file_is_completed(tmp_path: Path) -> None:
    kept = secrets.token_urlsafe(32)
    (tmp_path / "secrets.json").write_text(json.dumps({"BACKEND_API_TOKEN": kept}))
    ensure_secrets(tmp_path)
    assert read_secrets(tmp_path)["BACKEND_API_TOKEN"] == kept
    assert len(read_secrets(tmp_path)) == 3


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("7", 300, 7),
        (" 7 ", 300, 7),
        ("1.5", 2.0, 1.5),
        ("3", 2.0, 3.0),
        ("false", True, False),
        ("ON", False, True),
        ("", True, False),
        ("a.org, b.org,", [], ["a.org", "b.org"]),
        ('["10.0.0.0/8"]', [], ["10.0.0.0/8"]),
        ('{"a": 1}', {}, {"a": 1}),
        # Text stays text: a numeric token or a JSON-looking secret is not a number.
        ("12345", None, "12345"),
        ("[1]", "text", "[1]"),
        # What does not parse stays text, for value_problems to name.
        ("abc", 300, "abc"),
        ("maybe", True, "maybe"),
        ("-1", 300, "-1"),
        ("nan", 2.0, "nan"),
        ("inf", 2.0, "inf"),
        ("1e99", 300, "1e99"),
        ("[1,2", [], "[1,2"),
        ('{"a": 1}', [], ['{"a": 1}']),
        ('["a"]x', [], '["a"]x'),
    ],
)
def test_environment_values_take_the_type_of_the_default(
    text: str, default: object, expected: object
) -> None:
    assert typed(text, default) == expected
    assert type(typed(text, default)) is type(expected)


@pytest.mark.parametrize(
    ("key", "value", "line"),
    [
        ("GATEWAY_DB_POOL_SIZE", "two", "DB_POOL_SIZE is 'two': expected a whole number"),
        ("GATEWAY_RESPONSE_CACHE", "perhaps", "RESPONSE_CACHE is .perhaps.: expected true or"),
        ("GATEWAY_HEALTH_TIMEOUT", "soon", "HEALTH_TIMEOUT is 'soon': expected a number"),
        ("GATEWAY_HEALTH_TIMEOUT", "nan", "HEALTH_TIMEOUT is 'nan': expected a number"),
        ("BACKEND_PER_PAGE", "-3", "PER_PAGE is '-3': expected a whole number"),
        ("GATEWAY_METRICS_CLIENTS", "[1,2", "METRICS_CLIENTS is .*: expected a comma-separated"),
        ("GATEWAY_RESPONSE_CACHE_TIMEOUT", "99999999999", "at most 31536000"),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused_by_name(
    tmp_path: Path, key: str, value: str, line: str
) -> None:
    with pytest.raises(ConfigError, match=line):
        build_gateway(make_settings(tmp_path, **{key: value}))


def test_api_tokens_of_digits_stay_text(tmp_path: Path) -> None:
    token = "1" * 40  # JSON would have read a number, and compared str(number)
    app = create_app("backend_app", make_settings(tmp_path, BACKEND_API_TOKEN=token))
    assert app.config["API_TOKEN"] == token
