"""Serve the dashboard to web browsers: the same Textual app, one process per browser tab.

Each tab that opens the page gets its own `mlrelease tui` process (through textual-serve),
on the registry given with --repo (and --ref), with the rights of the user who runs serve.

Read-only by default: every action is refused, whoever opens the page. --allow-actions
lets the people who reach the page act; each action still shows its plan and its gates,
asks for a reason and a confirmation, and is recorded as a commit with the git identity of
the user running serve (not of the person in the browser: put the server behind single
sign-on and read its access log for who). Binds 127.0.0.1 by default; --host 0.0.0.0 or a
LAN address makes it reachable by anyone who can reach that address, without a password,
so put it behind a reverse proxy with TLS and single sign-on (docs/serve.md) and give that
proxy's address with --public-url.

Needs the `serve` extra (pip install 'mlrelease[serve]': textual-serve).

Exit codes: 0 stopped with Ctrl+C; 1 registry problem, or textual-serve not installed;
2 usage (bad --port or --public-url).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import urllib.parse

from mlrelease.errors import MlreleaseError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--allow-actions",
        action="store_true",
        help="let the browser promote, roll back, approve ... (each through its plan, gates and confirmation); default: read-only",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers use, when a reverse proxy is in front (e.g. https://mlrelease.example.com); default http://HOST:PORT",
    )


def app_command(args: argparse.Namespace, root: str) -> list[str]:
    """The `mlrelease tui` each browser tab runs: this interpreter, this registry, read-only unless allowed."""
    argv = [sys.executable, "-m", "mlrelease", "--repo", root]
    if args.ref:
        argv += ["--ref", args.ref]
    argv.append("tui")
    if not args.allow_actions:
        argv.append("--readonly")
    return argv


def public_url(args: argparse.Namespace) -> str:
    if not args.public_url:
        host = f"[{args.host}]" if ":" in args.host else args.host
        return f"http://{host}:{args.port}"
    url: str = args.public_url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise UsageError(f"--public-url must be an http(s) address like https://mlrelease.example.com, not {url!r}")
    return url.rstrip("/")


def run(args: argparse.Namespace) -> int:
    from mlrelease.cli.output import plain
    from mlrelease.registry.loader import open_registry
    from mlrelease.urlpolicy import is_loopback

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, not {args.port}")
    url = public_url(args)
    with open_registry(args.repo, args.ref) as reg:
        reg.config  # noqa: B018 - a broken mlrelease.yaml is reported here, not in every browser tab
        root = str(reg.root)
    try:
        from textual_serve.server import Server
    except ImportError:
        raise MlreleaseError("mlrelease serve needs textual-serve: pip install 'mlrelease[serve]'") from None

    mode = "actions allowed (each through its plan and gates)" if args.allow_actions else "read-only"
    print(f"Serving the dashboard of {plain(root)} on {url} ({mode}); Ctrl+C stops it", file=sys.stderr)
    if not is_loopback(args.host):
        print(
            f"warning: listening on {plain(args.host)}: anyone who can reach it sees the dashboard"
            f"{' and can act' if args.allow_actions else ''}, with no password; put it behind a reverse proxy "
            "with single sign-on (docs/serve.md)",
            file=sys.stderr,
        )
    # textual-serve starts each tab's process through a shell: the command is our own argv,
    # every part quoted, so the shell runs exactly that.
    server = Server(shlex.join(app_command(args, root)), host=args.host, port=args.port, title="mlrelease", public_url=url)
    server.serve()
    return 0
