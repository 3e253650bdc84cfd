"""`ccda2fhir serve`: its flags, and running the app on uvicorn with the hardened protocol.

SIGTERM (and Ctrl-C) stop it gracefully: the listening socket closes, in-flight requests get
``--shutdown-timeout`` seconds to finish, the workers stop, and the process exits 0.
"""
from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import fields, replace
from typing import Callable

from ..errors import one_line
from ..limits import Limits, ServiceLimits, described
from .settings import Settings, load_tokens

MISSING_EXTRA = "ccda2fhir: error: the service needs its extra: pip install 'ccda2fhir[serve]'"
_EXTRA = ("starlette", "uvicorn", "httptools", "anyio")   # what [serve] brings, and Starlette needs


def _environment(tokens: bool = True) -> tuple[Settings, ValueError | None]:
    """The CCDA2FHIR_* settings, or the built-in ones and the error reading the variables."""
    try:
        return Settings.from_env(tokens=tokens), None
    except ValueError as exc:
        return Settings(), exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serve subcommand's flags: address, workers, token, and one flag per limit (default: the
    CCDA2FHIR_* variable when set, else ccda2fhir.limits)."""
    defaults, _ = _environment(tokens=False)   # built for every subcommand: read no file here
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; "
                        "0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one, "
                        "logged as it starts (default: 8080)")
    parser.add_argument("--workers", type=int, default=defaults.workers, metavar="N",
                        help="conversion worker processes (default: one per core)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="require 'Authorization: Bearer <token>' with a token from FILE (one a line) on "
                             "the convert route; or set CCDA2FHIR_TOKEN (default: no check)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--templates", metavar="PATH", default=None,
                        help="a templates overlay folder over the built-in templates (templates/README.md); or set "
                             "CCDA2FHIR_TEMPLATES (default: none)")
    parser.add_argument("--code-systems", metavar="FILE", default=None,
                        help="a terminology overlay (OID -> URI, concept maps) over ccda2fhir/data; or set "
                             "CCDA2FHIR_CODE_SYSTEMS (default: none)")
    for group in (defaults.limits, defaults.service):
        for name, default, what in described(group):
            flag = "--" + name.replace("_", "-")
            kind = type(default)
            extra = "; 0 for no limit" if name == "timeout" else ""
            parser.add_argument(flag, type=kind, default=default, metavar="SECONDS" if kind is float else "N",
                                help=f"{what}{extra} (default: {default:g})" if kind is float
                                else f"{what} (default: {default})")


def standalone_parser() -> argparse.ArgumentParser:
    """A parser of the serve flags alone (for launchers that run the service another way)."""
    parser = argparse.ArgumentParser(prog="ccda2fhir serve", description="Serve POST /convert/v1/ccda/to/fhir")
    add_arguments(parser)
    return parser


def _settings(args, env: Settings) -> Settings:
    tokens = load_tokens(args.token_file) if args.token_file else env.tokens
    pick = lambda cls: {f.name: getattr(args, f.name) for f in fields(cls)}  # noqa: E731
    return Settings(workers=args.workers, limits=replace(env.limits, **pick(Limits)),
                    service=replace(env.service, **pick(ServiceLimits)), tokens=tokens,
                    templates=getattr(args, "templates", None) or env.templates,
                    code_systems=getattr(args, "code_systems", None) or env.code_systems)


def run(args, *, initializer: Callable[[], None] | None = None) -> int:
    """Serve until SIGTERM or Ctrl-C; 0 after a graceful stop, 2 for bad settings or no [serve] extra."""
    try:
        import uvicorn

        from .app import create_app
        from .logs import log_config
        from .protocol import Protocol
        from .server import Server
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in _EXTRA:
            raise
        print(MISSING_EXTRA, file=sys.stderr)
        return 2
    env, env_error = _environment()
    try:
        if env_error is not None:
            raise env_error
        settings = _settings(args, env)
    except ValueError as exc:
        print(one_line(f"ccda2fhir: error: {exc}"), file=sys.stderr)
        return 2
    s = settings.service
    config = uvicorn.Config(
        create_app(settings, initializer=initializer), host=args.host, port=args.port,
        http=Protocol.configured(s), ws="none", lifespan="on", log_config=log_config(args.log_level),
        access_log=False, server_header=False, headers=[("server", "ccda2fhir")], date_header=True,
        timeout_keep_alive=s.keep_alive, backlog=s.backlog, timeout_graceful_shutdown=s.shutdown_timeout)
    # uvicorn re-raises the stopping signal once it has stopped; handlers that do nothing make a
    # graceful stop exit 0 instead of dying of the signal (or of KeyboardInterrupt).
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        Server(config).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
