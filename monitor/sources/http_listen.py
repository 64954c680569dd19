"""Starting an aiohttp app on ``host:port`` for the daemon's HTTP endpoints (the OTLP/HTTP
receiver, the admin port), with one start-up error that says what to fix."""

from __future__ import annotations

from aiohttp import web

from monitor.errors import ConfigError

__all__ = ["listen"]


async def listen(runner: web.AppRunner, host: str, port: int, what: str, fix: str) -> int:
    """Set up ``runner`` and serve it on ``host:port``; returns the bound port (``port=0``
    picks a free one). A port in use is a ``ConfigError`` naming ``what`` and ``fix``."""
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"{what} cannot listen on {host}:{port}: {exc.strerror}; "
                          f"{fix}") from None
    return int(runner.addresses[0][1])
