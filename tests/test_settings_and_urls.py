"""One settings reader and one URL policy for every plugin (issue 16 item 7).

Backends and telemetry sources read their settings through the same strict reader, which
collects every problem with its line in mlrelease.yaml; and one URL policy decides where
a credential may travel: never over plain http except to a loopback host.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlrelease.backends import create as create_backend
from mlrelease.backends.base import BackendConfigError, BackendContext
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import PluginConfig
from mlrelease.telemetry.base import SourceConfigError, SourceContext, create
from tests.builders import commit_all, config, write


def telemetry(repo: Path, type_name: str, settings: dict[str, object]) -> object:
    with Registry(repo) as reg:
        return create(PluginConfig("production.telemetry", type_name, settings), SourceContext(reg))


@pytest.mark.parametrize("type_name", ["http-json", "prometheus"])
def test_a_telemetry_token_never_goes_over_plain_http_to_another_host(repo: Path, type_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITORING_TOKEN", "tok-secret-123")
    url = "http://monitoring.example.com/api/{model}" if type_name == "http-json" else "http://prometheus.example.com:9090"
    with pytest.raises(
        SourceConfigError, match=r"refusing to send the token over plain http to (monitoring|prometheus)\.example\.com"
    ) as err:
        telemetry(repo, type_name, {"url": url, "token_env": "MONITORING_TOKEN"})
    assert "tok-secret-123" not in str(err.value)


@pytest.mark.parametrize("type_name", ["http-json", "prometheus"])
def test_plain_http_is_fine_without_a_token_or_to_loopback(repo: Path, type_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITORING_TOKEN", "tok-secret-123")
    path = "/api/{model}" if type_name == "http-json" else ""
    telemetry(repo, type_name, {"url": f"http://monitoring.example.com{path}"})
    telemetry(repo, type_name, {"url": f"http://127.0.0.1:9{path}", "token_env": "MONITORING_TOKEN"})
    telemetry(repo, type_name, {"url": f"http://localhost:9{path}", "token_env": "MONITORING_TOKEN"})
    telemetry(repo, type_name, {"url": f"https://monitoring.example.com{path}", "token_env": "MONITORING_TOKEN"})


def test_telemetry_settings_report_every_problem_not_just_the_first(repo: Path) -> None:
    with pytest.raises(SourceConfigError) as err:
        telemetry(repo, "prometheus", {"url": "ftp://x", "timeout": "soon", "window": "an hour", "colour": "red"})
    message = str(err.value)
    for key in ("url", "timeout", "window", "colour"):
        assert f"environments.production.telemetry.{key}:" in message, message
    assert message.count("mlrelease.yaml") == 4, message


def test_problems_name_their_line_in_mlrelease_yaml(repo: Path) -> None:
    cfg = config()
    cfg["environments"][2]["telemetry"] = {"type": "http-json", "url": "https://m.example.com/{model}", "timeout": "5"}
    cfg["backends"] = {"hook": {"type": "command", "argv": ["deploy"], "timout": 5}}
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "settings with typos")
    text = (repo / "mlrelease.yaml").read_text().splitlines()
    with Registry(repo) as reg:
        env = reg.config.environment("production")
        assert env.telemetry is not None
        with pytest.raises(SourceConfigError) as err:
            create(env.telemetry, SourceContext(reg))
        found = re.fullmatch(
            r"mlrelease\.yaml:(\d+): environments\.production\.telemetry\.timeout: must be a number, not text", str(err.value)
        )
        assert found, str(err.value)
        assert text[int(found.group(1)) - 1].strip().startswith("timeout:")

        with pytest.raises(BackendConfigError) as berr:
            create_backend(reg.config.backends["hook"], BackendContext(registry_root=repo, environ={}))
        found = re.fullmatch(r"mlrelease\.yaml:(\d+): backends\.hook\.timout: unknown setting for a command backend", str(berr.value))
        assert found, str(berr.value)
        assert text[int(found.group(1)) - 1].strip().startswith("timout:")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("0.0.0.0", False),
        ("", False),
    ],
)
def test_one_loopback_helper(host: str, loopback: bool) -> None:
    from mlrelease.urlpolicy import is_loopback

    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "credentials", "needle"),
    [
        ("https://x.example.com/hook", True, None),
        ("http://127.0.0.1:8080/hook", True, None),
        ("http://x.example.com/hook", False, None),
        ("http://x.example.com/hook", True, "plain http:// is allowed only for a loopback host"),
        ("https://u:p@x.example.com/", False, "must not hold credentials"),
        ("ftp://x.example.com/", False, "must be an http:// or https:// URL"),
        ("ftp://x.example.com/", True, "must be an https:// URL"),
        ("https://x.example.com:99999/", False, "is not a valid URL"),
        ("https:///nohost", False, "must be an http:// or https:// URL"),
    ],
)
def test_one_url_policy(url: str, credentials: bool, needle: str | None) -> None:
    from mlrelease.urlpolicy import url_problem

    reason = url_problem(url, credentials=credentials)
    assert (reason is None) if needle is None else (reason is not None and needle in reason), reason
