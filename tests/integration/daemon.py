"""``specmon run`` as a real subprocess for the tests: ephemeral ports (read back from
the ``started`` log line), JSON-lines logs in a file, SIGTERM / SIGKILL by pid, and a
blocking OTLP/HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
_MAIN = "import sys; from monitor.cli import main; sys.exit(main())"


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Daemon:
    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.args = ["--otlp-http-port", "0", "--otlp-grpc-port", "0", "--admin-port", "0",
                     *args]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.started: dict[str, Any] = {}

    @property
    def log_path(self) -> Path:
        return self.workdir / f"daemon-{self.runs}.log"

    def start(self, timeout: float = 60.0) -> Daemon:
        self.runs += 1
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _MAIN, "run", *self.args], cwd=self.workdir,
                stdout=subprocess.DEVNULL, stderr=err, env=self.env)
        self.started = wait_for(self._started, timeout, "the daemon's `started` log line")
        return self

    def _started(self) -> dict[str, Any] | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"specmon run exited {self.proc.returncode}:\n"
                                 + self.log_path.read_text())
        return next((r for r in self.logs() if r.get("event") == "started"), None)

    def logs(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    @property
    def http_port(self) -> int:
        return int(self.started["sources"]["otlp_http"].rsplit(":", 1)[1].split("/")[0])

    @property
    def admin_port(self) -> int:
        return int(self.started["admin"])

    def post(self, body: bytes, content_type: str = "application/json",
             path: str = "/v1/traces", port: int | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.http_port, timeout=30)
        try:
            conn.request("POST" if body is not None else "GET", path, body=body,
                         headers={"Content-Type": content_type})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def report_lines(path: Path, *, writing: bool = False) -> list[dict[str, Any]]:
    """The reports in ``path``. ``writing``: the daemon may be writing right now, so a
    last line without its newline is a write in progress and not read (a line of a few
    KB can reach the file in more than one piece); otherwise every line must parse."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if writing:
        data = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in data.decode().splitlines()]


def verdict(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["spec"], r["key"], r["kind"], r["property"], r["time"])
