"""Real processes on 127.0.0.1 for the end-to-end tests, the latency benchmark and the
demo: ``specmon run`` as a subprocess (``tests.integration.daemon``) and Debian's
``prometheus`` scraping it every second with the shipped alert rules loaded (TOOLS.md: ready in ~50 ms, alerts firing
0.4-0.8 s after a counter moves). Each is stopped by its own pid."""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.integration.daemon import Daemon

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "helm" / "specmon" / "files" / "rules.yml"
DASHBOARD = ROOT / "deploy" / "helm" / "specmon" / "files" / "dashboard.json"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(probe: Callable[[], T | None], timeout: float, what: str,
             interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        time.sleep(interval)


def terminate(proc: subprocess.Popen, log: Any) -> int:
    """SIGTERM (SIGKILL after 30 s) the process we started; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    return proc.returncode


def get(url: str, accept: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.read()


def start_daemon(workdir: Path, *specs: Path | str, env: dict[str, str] | None = None,
                 checkpoint: bool = False) -> Daemon:
    """``specmon run --spec DIR...`` on ephemeral ports (tests.integration.daemon), no
    checkpoint unless asked; ``env`` adds SPECMON_* variables."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [a for spec in specs for a in ("--spec", str(Path(spec).resolve()))]
    if not checkpoint:
        args.append("--no-checkpoint")
    return Daemon(workdir, *args, env=env).start()


def admin_url(daemon: Daemon) -> str:
    return f"http://127.0.0.1:{daemon.admin_port}"


def traces_url(daemon: Daemon) -> str:
    return f"http://127.0.0.1:{daemon.http_port}/v1/traces"


class Prometheus:
    """Scrapes ``targets`` every second, evaluates ``rules`` every second, stores
    exemplars; its API at ``.url``."""

    def __init__(self, prometheus: str, targets: list[str], workdir: Path,
                 rules: Path = RULES) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "specmon", "static_configs": [{"targets": targets}]}],
        }))
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--enable-feature=exemplar-storage"],
            stdout=subprocess.DEVNULL, stderr=self._log)
        try:
            wait_for(lambda: self._alive() and get(f"{self.url}/-/ready"), 30, "prometheus ready")
        except TimeoutError:
            self.stop()
            raise

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            self._log.seek(0)
            raise RuntimeError(f"prometheus exited {self.proc.returncode}: "
                               f"{self._log.read().decode(errors='replace')[-3000:]}")
        return True

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1/PATH; the ``data`` of a successful answer (else RuntimeError)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            doc = json.loads(get(f"{self.url}/api/v1/{path}{query}"))
        except urllib.error.HTTPError as exc:
            doc = json.loads(exc.read())
        if doc.get("status") != "success":
            raise RuntimeError(f"/api/v1/{path} {params}: {doc.get('errorType')}: "
                               f"{doc.get('error')}")
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def rule(self, name: str) -> dict[str, Any]:
        return next(r for g in self.api("rules")["groups"] for r in g["rules"]
                    if r["name"] == name)

    def stop(self) -> None:
        terminate(self.proc, self._log)


def dashboard_exprs(rate_interval: str = "10s", range_: str = "5m") -> list[tuple[str, str]]:
    """(panel title, expr) of every dashboard query with Grafana's variables filled in
    as Grafana would for "All" and a short time range."""
    dash = json.loads(DASHBOARD.read_text())
    subst = {"$__rate_interval": rate_interval, "$__range": range_, "$instance": ".*",
             "$spec": ".*"}
    out = []
    for panel in dash["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for var, value in subst.items():
                expr = expr.replace(var, value)
            out.append((panel["title"], expr))
    return out
