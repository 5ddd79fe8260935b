"""List installed backend types and the backends configured in mlrelease.yaml, with a health check.

Installed types come from entry-point metadata (group ``mlrelease.backends``) without
importing them. Each configured backend is shown with its type, the environments (and
retrain) that use it, and its settings; a setting that names an environment variable
(``secret_env``, ``token_env``, ``env_from``) shows the variable's name and whether it is
set, never its value. Every backend is then created (its settings checked) and, unless
``--no-health``, asked for its health: all at once in threads, bounded by ``--timeout``.
A check that fails, raises or does not answer in time is a FAIL line, never a crash.

Exit codes: 0 every configured backend is usable; 1 a backend's settings are wrong, its
type is not installed, an environment names a backend that is not configured, or the
registry cannot be read; 5 a health check failed.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from rich.text import Text

from mlrelease.backends import create, installed
from mlrelease.backends.base import BackendContext
from mlrelease.backends.support import one_line
from mlrelease.cli.args import add_json, registry
from mlrelease.cli.output import cell, console, plain, print_json, table
from mlrelease.errors import ExitCode, MlreleaseError
from mlrelease.registry.types import Config, PluginConfig

OK, FAIL, CONFIG, UNCHECKED = "ok", "fail", "config-error", "unchecked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser)
    parser.add_argument("--no-health", action="store_true", help="check settings only; contact nothing")
    parser.add_argument(
        "--timeout", type=float, default=20.0, metavar="SECONDS", help="longest wait for all health checks together (default 20)"
    )


@dataclass
class Check:
    state: str  # ok | fail | config-error | unchecked
    message: str


def _type_row(name: str, ep: EntryPoint) -> dict[str, Any]:
    dist = getattr(ep, "dist", None)
    return {"name": name, "module": ep.value, "package": f"{dist.name} {dist.version}" if dist else None}


def _setting(key: str, value: Any, environ: dict[str, str]) -> Any:
    """A setting as shown: environment variables by name and whether they are set, never their value."""
    if key.endswith("_env") and isinstance(value, str):
        return {"variable": value, "set": bool(environ.get(value))}
    if key == "env_from" and isinstance(value, list):
        return [{"variable": v, "set": bool(environ.get(v))} if isinstance(v, str) else v for v in value]
    if isinstance(value, dict):
        return {k: _setting("", v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_setting("", v, environ) for v in value]
    return value


def _used_by(config: Config, name: str) -> list[str]:
    users = [e.name for e in config.environments if e.backend == name]
    if config.retrain.backend == name:
        users.append("retrain")
    return users


def _dangling(config: Config) -> list[str]:
    """Environments (or retrain) that name a backend nobody configured."""
    out = []
    for env in config.environments:
        if env.backend and env.backend not in config.backends:
            out.append(f"mlrelease.yaml: environment {env.name!r} uses backend {env.backend!r}, which is not configured")
    if config.retrain.backend and config.retrain.backend not in config.backends:
        out.append(f"mlrelease.yaml: retrain uses backend {config.retrain.backend!r}, which is not configured")
    return out


def _check(plugin: PluginConfig, context: BackendContext, health: bool) -> Check:
    try:
        backend = create(plugin, context)
    except MlreleaseError as exc:
        return Check(CONFIG, one_line(str(exc), 500))
    except Exception as exc:  # a third-party factory's bug is reported, not raised
        return Check(CONFIG, one_line(f"backend type {plugin.type!r} failed to start: {type(exc).__name__}: {exc}", 500))
    if not health:
        return Check(UNCHECKED, "settings OK; health not checked (--no-health)")
    try:
        result = backend.health()
        return Check(OK if result.ok else FAIL, one_line(str(result.message), 500))
    except Exception as exc:  # health() must not raise, but a plugin's bug must not crash the listing
        return Check(FAIL, one_line(f"health check raised {type(exc).__name__}: {exc}", 500))


def check_all(plugins: list[PluginConfig], root: Path, *, health: bool, timeout: float) -> dict[str, Check]:
    """Create and health-check every backend at once; a check still running at the deadline is a FAIL."""
    context = BackendContext(registry_root=root, environ=dict(os.environ))
    results: dict[str, Check] = {}

    def work(plugin: PluginConfig) -> None:
        results[plugin.name] = _check(plugin, context, health)

    # Daemon threads: a health check that hangs cannot keep the process alive after we answer.
    threads = [threading.Thread(target=work, args=(p,), name=f"health-{p.name}", daemon=True) for p in plugins]
    for t in threads:
        t.start()
    end = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    results = dict(results)  # a late answer after the deadline does not change what we print
    for p in plugins:
        results.setdefault(p.name, Check(FAIL, f"no answer within {timeout:g} s"))
    return results


def run(args: argparse.Namespace) -> int:
    types = installed()
    with registry(args) as reg:
        config = reg.config
        root = reg.root
    plugins = [config.backends[name] for name in sorted(config.backends)]
    checks = check_all(plugins, root, health=not args.no_health, timeout=args.timeout)
    environ = dict(os.environ)
    problems = _dangling(config)
    configured = [
        {
            "name": p.name,
            "type": p.type,
            "installed": p.type in types,
            "used_by": _used_by(config, p.name),
            "settings": {k: _setting(k, v, environ) for k, v in p.settings.items()},
            "state": checks[p.name].state,
            "message": checks[p.name].message,
        }
        for p in plugins
    ]
    if args.json:
        print_json(
            {
                "installed": [_type_row(name, ep) for name, ep in sorted(types.items())],
                "configured": configured,
                "problems": problems,
            }
        )
    else:
        _render(types, configured, problems)
    states = {c["state"] for c in configured}
    if CONFIG in states or problems:
        return int(ExitCode.PROBLEM)
    if FAIL in states:
        return int(ExitCode.BACKEND_FAILED)
    return int(ExitCode.OK)


_STYLE = {OK: ("OK", "green"), FAIL: ("FAIL", "bold red"), CONFIG: ("CONFIG", "bold red"), UNCHECKED: ("-", "dim")}


def _settings_text(settings: dict[str, Any]) -> str:
    lines = []
    for key, value in settings.items():
        lines.append(f"{key}: {_compact(value)}")
    return "\n".join(lines)


def _compact(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"variable", "set"}:
        return f"${value['variable']} ({'set' if value['set'] else 'NOT SET'})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    return plain(value)


def _render(types: dict[str, EntryPoint], configured: list[dict[str, Any]], problems: list[str]) -> None:
    out = console()
    rows = [[r["name"], r["module"], r["package"] or "—"] for r in (_type_row(n, ep) for n, ep in sorted(types.items()))]
    out.print(table(["type", "entry point", "package"], rows, title="Installed backend types"))
    if not configured:
        out.print(Text("No backends configured in mlrelease.yaml (backends: {name: {type: ..., ...}})."))
    else:
        body = []
        for c in configured:
            label, style = _STYLE[c["state"]]
            health = Text(f"{label} ", style=style)
            health.append(plain(c["message"]))
            kind = c["type"] if c["installed"] else f"{c['type']} (not installed)"
            body.append([cell(c["name"]), cell(kind), cell(", ".join(c["used_by"]) or "—"), cell(_settings_text(c["settings"])), health])
        out.print(table(["backend", "type", "used by", "settings", "health"], body, title="Configured backends"))
    for problem in problems:
        out.print(Text(plain(problem), style="bold red"))
