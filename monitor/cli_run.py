"""``specmon run [CONFIG] [--spec DIR ...]``: the daemon (docs/daemon.md).

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT, drained and checkpointed within the
grace period), 1 shutdown overran the grace period, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
from typing import Any

from monitor.cli import duration_arg, print_json

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run the monitor daemon (OTLP receivers, reports, checkpoints)",
        description="Monitor live telemetry against one or more specs until SIGTERM. "
        "Settings come from CONFIG (YAML), SPECMON_* environment variables and the flags "
        "below, in increasing precedence; `specmon run --spec specs/payment` needs no "
        "config file. Logs are JSON lines on stderr. See docs/daemon.md.")
    p.add_argument("config", nargs="?", metavar="CONFIG", help="YAML config file")
    p.add_argument("--spec", action="append", metavar="DIR", dest="specs",
                   help="spec directory to monitor (repeatable; replaces the config's specs)")
    p.add_argument("--otlp-http-port", type=int, metavar="PORT")
    p.add_argument("--otlp-grpc-port", type=int, metavar="PORT")
    p.add_argument("--admin-port", type=int, metavar="PORT",
                   help="/metrics /healthz /readyz (default 9464)")
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="checkpoint and write-ahead log directory")
    p.add_argument("--checkpoint-interval", type=duration_arg, metavar="DURATION")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="keep no checkpoint (state is lost on restart)")
    p.add_argument("--report-file", metavar="FILE", help="violation reports as JSON lines")
    p.add_argument("--report-stdout", action="store_true", help="violation reports on stdout")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--print-config", action="store_true",
                   help="print the effective configuration and exit")
    p.add_argument("--json", action="store_true",
                   help="with --print-config: as JSON (the default is YAML)")
    p.set_defaults(handler=run_daemon)


def overrides(args: argparse.Namespace) -> dict[tuple[str, ...], Any]:
    """Flags given on the command line, by config path (they win over env and file)."""
    out: dict[tuple[str, ...], Any] = {}
    if args.specs:
        out[("specs",)] = [{"path": s} for s in args.specs]
    flags: list[tuple[str, tuple[str, ...]]] = [
        ("otlp_http_port", ("sources", "otlp", "http", "port")),
        ("otlp_grpc_port", ("sources", "otlp", "grpc", "port")),
        ("admin_port", ("admin", "port")),
        ("checkpoint_dir", ("checkpoint", "path")),
        ("checkpoint_interval", ("checkpoint", "interval")),
        ("report_file", ("reports", "file", "path")),
        ("log_level", ("log", "level")),
    ]
    for attr, keys in flags:
        value = getattr(args, attr)
        if value is not None:
            out[keys] = value
    if args.no_checkpoint:
        out[("checkpoint", "enabled")] = False
    if args.report_stdout:
        out[("reports", "stdout")] = True
    return out


def run_daemon(args: argparse.Namespace) -> int:
    import msgspec

    from monitor.config import load_config
    from monitor.runner import run
    from monitor.sinks.logs import setup_logging

    config = load_config(args.config, overrides=overrides(args))
    if args.print_config:
        doc = msgspec.to_builtins(config, enc_hook=_plain)
        if args.json:
            print_json(doc)
        else:
            import yaml

            print(yaml.safe_dump(doc, sort_keys=False), end="")
        return 0
    setup_logging(config.log.level)
    return run(config)


def _plain(value: Any) -> Any:
    """Duration/Size (float/int subclasses) as plain numbers."""
    return int(value) if isinstance(value, int) else float(value)
