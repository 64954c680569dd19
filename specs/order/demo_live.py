"""The live loop, end to end (``make demo-live``): ``specmon run`` on the order saga, the
demo app exporting its spans over OTLP/HTTP with a bug injected, the violation report
with its counterexample, and the violation counter on ``/metrics``.

    python specs/order/demo_live.py [--bug retry-declined] [--out out]

Steps (each prints a heading):
1. start the daemon (ephemeral ports, read back from its ``started`` log line);
2. run ``specs/order/app.py --otlp-http ... --start now`` (the real SDK exporter);
3. wait for the first report in ``OUT/live-reports.jsonl`` and explain it;
4. show ``specmon_violations_total`` from ``/metrics`` (OpenMetrics: with the violating
   trace id as exemplar);
5. with Debian's ``prometheus`` installed (started before the app, 1 s scrape and rule
   evaluation, the rules of deploy/helm/specmon/files/rules.yml), wait for the
   ``SpecViolation`` alert to fire and show it;
6. SIGTERM: the daemon drains, checkpoints and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ORDER = ROOT / "specs" / "order"
_MAIN = "import sys; from monitor.cli import main; sys.exit(main())"


def wait_for(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
    return value


def start_prometheus(admin_url: str, out: Path) -> Any:
    """Prometheus scraping the daemon, or None when it is not installed. Waits for the
    first scrape (~5 s: target discovery ticks every 5 s) so the counters' 0 is stored
    before the app runs and ``increase()`` sees the violations."""
    import shutil

    binary = shutil.which("prometheus")
    if binary is None:
        print("   (prometheus not installed: apt-get install -y prometheus for the alert)\n")
        return None
    sys.path.insert(0, str(ROOT))
    from tests.integration.stack import Prometheus

    work = out / "live-prometheus"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prom = Prometheus(binary, [admin_url.removeprefix("http://")], work)
    print(f"== prometheus {prom.url}: scraping {admin_url}/metrics every 1 s, rules "
          "deploy/helm/specmon/files/rules.yml", flush=True)
    wait_for(lambda: prom.query("specmon_violations_total"), 30, "Prometheus's first scrape")
    print("   first scrape done: every series at 0\n", flush=True)
    return prom


def after_metrics(prom: Any) -> None:
    """Wait for SpecViolation to fire in Prometheus and show it."""
    if prom is None:
        return
    t0 = time.monotonic()
    alerts = wait_for(lambda: [a for a in prom.alerts("SpecViolation")
                               if a["state"] == "firing"], 60, "SpecViolation to fire")
    print(f"\n== {prom.url}/api/v1/alerts: SpecViolation firing "
          f"({time.monotonic() - t0:.1f}s after the report was shown)")
    for a in alerts:
        print(json.dumps({"labels": a["labels"], "annotations": a["annotations"]}, indent=2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bug", default="retry-declined")
    ap.add_argument("--orders", type=int, default=40)
    ap.add_argument("--out", default="out")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prom = None
    reports, log = out / "live-reports.jsonl", out / "live-daemon.log"
    reports.unlink(missing_ok=True)
    cmd = ["specmon", "run", "--spec", str(ORDER), "--otlp-http-port", "0",
           "--otlp-grpc-port", "0", "--admin-port", "0", "--report-file", str(reports),
           "--checkpoint-dir", str(out / "live-checkpoint")]
    print("== " + " ".join(cmd) + f"  (JSON logs: {log})", flush=True)
    with open(log, "wb") as err:
        daemon = subprocess.Popen([sys.executable, "-c", _MAIN, *cmd[1:]], stderr=err)
    try:
        def started() -> dict[str, Any] | None:
            if daemon.poll() is not None:
                raise SystemExit(f"demo: specmon run exited {daemon.returncode}; see {log}")
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
            return next((x for x in lines if x["event"] == "started"), None)

        info = wait_for(started, 60, "the daemon to start")
        url = info["sources"]["otlp_http"]
        admin = f"http://127.0.0.1:{info['admin']}"
        print(f"   listening: OTLP/HTTP {url}, admin {admin}\n", flush=True)
        prom = start_prometheus(admin, out)

        app = [sys.executable, str(ORDER / "app.py"), "--bug", args.bug, "--orders",
               str(args.orders), "--start", "now", "--otlp-http", url,
               "--truth", str(out / "live-truth.jsonl")]
        print(f"== python specs/order/app.py --bug {args.bug} --start now --otlp-http {url}",
              flush=True)
        subprocess.run(app, check=True)

        first = wait_for(lambda: reports.exists() and reports.read_text().splitlines(), 30,
                         "the first violation report")[0]
        from monitor.cli_replay import explain

        print(f"\n== the first violation report ({reports})")
        print(explain(json.loads(first)), end="")

        print(f"\n== {admin}/metrics: specmon_violations_total (OpenMetrics: the exemplar "
              "is the last violating trace id)")
        req = urllib.request.Request(f"{admin}/metrics",
                                     headers={"Accept": "application/openmetrics-text"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("specmon_violations_total") and " 0.0" not in line:
                    print("   " + line)
        after_metrics(prom)
    finally:
        if prom is not None:
            prom.stop()
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(30)
    print(f"\n== SIGTERM: specmon run drained, checkpointed and exited {rc}")
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
