"""The ``specmon`` command. Exit codes: 0 clean, 1 violations (or spec errors) found,
2 bad usage or configuration."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from monitor.errors import SpecmonError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except SpecmonError as exc:
        print(f"specmon: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    from monitor import cli_check, cli_diagram, cli_generate, cli_replay, cli_run

    parser = argparse.ArgumentParser(
        prog="specmon",
        description="Check telemetry against an executable specification.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cli_replay.add_commands(sub)
    cli_check.add_commands(sub)
    cli_run.add_commands(sub)
    cli_generate.add_commands(sub)
    cli_diagram.add_commands(sub)
    return parser


def _version() -> str:
    """The package version and whether the engine runs compiled (``make native``)."""
    from importlib.metadata import PackageNotFoundError, version

    from monitor.native import native_status

    try:
        v = version("specmon")
    except PackageNotFoundError:  # run from a source tree without installing
        v = "source"
    compiled = native_status()
    if all(compiled.values()):
        how = "and mapping compiled (mypyc)"
    elif any(compiled.values()):
        how = "partly compiled: " + ", ".join(m for m, c in compiled.items() if not c) + \
            " run as Python (stale or partial build: run `make native`)"
    else:
        how = "and mapping as pure Python (`make native` compiles them)"
    return f"specmon {v}, engine {how}"


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def duration_arg(text: str) -> float:
    from monitor.spec import parse_duration

    try:
        return parse_duration(text if not text.replace(".", "", 1).isdigit() else float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def whole_number(text: str, minimum: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
    return value
