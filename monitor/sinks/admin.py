"""The admin HTTP endpoints of the daemon: ``/metrics``, ``/healthz``, ``/readyz``.

- ``/metrics``: the ``SpecmonCollector`` plus client_python's process collector (CPU,
  RSS, open fds), in the format the scraper asks for: Prometheus asks for OpenMetrics
  (``Accept: application/openmetrics-text``), the only format that carries exemplars,
  so a violation's trace id reaches Grafana; anything else gets the 0.0.4 text format.
- ``/healthz`` (liveness): 200 while the processing loop makes progress; 503 when it
  applied nothing and did not tick for ``stall_after`` seconds (the ingest consumer ticks
  every second when idle, so 30 s is a stuck loop, not a quiet one).
- ``/readyz`` (readiness): ``runner.ready`` only. As a native sidecar the probe gates
  the application pod, so it reads one attribute and never touches the engine.
- ``/coverage?spec=NAME``: the per-transition counts of a spec's engine as a coverage
  document (``specmon-coverage/1``, docs/generate.md), which ``specmon diagram
  --coverage`` reads: coverage of the model by production, from a live sidecar.

Default port 9464 (the OpenTelemetry Prometheus exporter's; clear of OTLP 4317/4318 and
Prometheus 9090). ``make_admin_app`` builds the aiohttp app a daemon mounts;
``AdminServer`` serves it on its own port.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder

from monitor.sinks.metrics import SpecmonCollector
from monitor.sources.http_listen import listen
from monitor.sources.ingest import Service

__all__ = ["DEFAULT_ADMIN_PORT", "DEFAULT_STALL_AFTER", "AdminServer", "make_admin_app"]

DEFAULT_ADMIN_PORT = 9464
#: seconds without progress before /healthz fails: 30 idle ticks of the ingest loop
DEFAULT_STALL_AFTER = 30.0

REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)


def make_admin_app(runner: Any, *, registry: CollectorRegistry | None = None,
                   stall_after: float = DEFAULT_STALL_AFTER,
                   monotonic: Callable[[], float] = time.monotonic) -> web.Application:
    """The admin app over ``runner`` (see ``monitor.sinks.metrics`` for its shape).
    A fresh registry unless one is given; it is ``app[REGISTRY_KEY]``."""
    if registry is None:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
    registry.register(SpecmonCollector(runner, monotonic=monotonic))

    async def metrics(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(registry), headers={"Content-Type": content_type})

    async def healthz(request: web.Request) -> web.Response:
        age = monotonic() - runner.last_progress
        if age > stall_after:
            return web.Response(status=503, text=f"stalled: no progress for {age:.0f}s "
                                f"(limit {stall_after:g}s)\n")
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        if runner.ready:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready: specs loading or sources not "
                            "listening\n")

    async def coverage(request: web.Request) -> web.Response:
        from monitor.explore.coverage import engine_coverage

        specs = runner.specs
        name = request.query.get("spec")
        if name is None and len(specs) == 1:
            name = next(iter(specs))
        if name not in specs:
            return web.json_response(
                {"error": f"name a spec: /coverage?spec=NAME, one of {sorted(specs)}"},
                status=404)
        return web.json_response(engine_coverage(specs[name].pipeline.engine, name))

    app = web.Application()
    app[REGISTRY_KEY] = registry
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/coverage", coverage)
    return app


class AdminServer(Service):
    """Serves ``make_admin_app(runner)`` on ``host:port`` (``port=0``: a free port,
    read back from ``.port`` after ``start``)."""

    def __init__(self, runner: Any, *, host: str = "127.0.0.1",
                 port: int = DEFAULT_ADMIN_PORT, **app_options: Any) -> None:
        self.runner = runner
        self.host = host
        self.port = port
        self.app_options = app_options
        self._web: web.AppRunner | None = None

    async def start(self) -> None:
        web_runner = web.AppRunner(make_admin_app(self.runner, **self.app_options),
                                   access_log=None)
        self.port = await listen(web_runner, self.host, self.port, "admin endpoint",
                                 "free the port or set admin.port")
        self._web = web_runner

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.cleanup()
            self._web = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
