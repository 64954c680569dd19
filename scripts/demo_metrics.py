"""The live half of the demo: Prometheus (1 s scrape and rule evaluation, the shipped
alert rules) scraping ``specmon run --spec specs/order``, while the order demo app with
a bug (``retry-declined``: a hard-declined card is charged again) exports its spans with
the OpenTelemetry SDK's OTLP/HTTP exporter. Prints the first violation report, the
violation metric with its trace-id exemplar, and the SpecViolation alert once it fires.
Every process is started here and stopped by its pid on the way out.

    python scripts/demo_metrics.py [--bug retry-declined] [--out out]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.stack import Daemon, Prometheus, get, wait_for  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bug", default="retry-declined")
    ap.add_argument("--out", type=Path, default=ROOT / "out")
    args = ap.parse_args()
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        print("demo: prometheus is not installed (Debian: apt-get install -y prometheus)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    reports = args.out / "demo-live-reports.jsonl"
    reports.unlink(missing_ok=True)
    daemon = Daemon(ROOT / "specs" / "order", log=args.out / "demo-live-specmon.log",
                    env={"SPECMON_REPORTS_FILE_PATH": str(reports)})
    prom = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prom = Prometheus(prometheus, [f"127.0.0.1:{daemon.admin_port}"], Path(tmp))
            # the app starts after Prometheus's first scrape (~5 s: its target discovery
            # ticks every 5 s), so the counters' 0 is recorded and increase() sees the rise
            wait_for(lambda: prom.query("specmon_violations_total"), 30, "first scrape")
            print(f"== specmon run --spec specs/order (OTLP/HTTP {daemon.traces_url}, "
                  f"metrics {daemon.admin}/metrics); Prometheus {prom.url}")
            print(f"== python specs/order/app.py --bug {args.bug} --start now "
                  f"--otlp-http {daemon.traces_url}")
            subprocess.run([sys.executable, str(ROOT / "specs" / "order" / "app.py"),
                            "--bug", args.bug, "--start", "now", "--otlp-http",
                            daemon.traces_url], check=True, cwd=ROOT)
            sent = time.monotonic()
            alerts = wait_for(lambda: [a for a in prom.alerts("SpecViolation")
                                       if a["state"] == "firing"], 60, "SpecViolation firing")
            print(f"\n== SpecViolation firing in Prometheus {time.monotonic() - sent:.1f}s "
                  f"after the app exited ({prom.url}/api/v1/alerts)")
            for a in alerts:
                print(json.dumps({"labels": a["labels"], "annotations": a["annotations"],
                                  "state": a["state"]}, indent=2))
            print(f"\n== the metric, with the violating trace id as exemplar "
                  f"({daemon.admin}/metrics, OpenMetrics)")
            text = get(f"{daemon.admin}/metrics", accept="application/openmetrics-text")
            for line in text.decode().splitlines():
                if line.startswith("specmon_violations_total{") and "# {" in line:
                    print(line)
            wait_for(lambda: reports.exists() and reports.stat().st_size, 10, "a report")
            print(f"\n== the first violation report ({reports})")
            first = json.loads(reports.read_text().splitlines()[0])
            short = {k: first.get(k) for k in ("spec", "key", "kind", "property", "message",
                                                "trace_id", "span_id")}
            short["history"] = [f"{h['action']}{tuple(h['args'].values()) or ''}"
                                for h in first.get("history", [])]
            short["states_before"] = first.get("states_before")
            print(json.dumps(short, indent=2))
    finally:
        if prom is not None:
            prom.stop()
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
