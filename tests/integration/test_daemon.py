"""``specmon run`` as a process: it starts with nothing but ``--spec``, answers OTLP,
stops on SIGTERM within the grace period after draining and checkpointing, and after a
clean restart or a SIGKILL mid-stream ends with exactly the reports of an uninterrupted
run (no duplicate, none missing).

The stream: specs/order/app.py's spans as OTLP JSON lines (one export request per
line), with three bugs injected, its simulated clock starting an hour in the future so
that the daemon's idle ticks (the wall clock) never move the watermark: the verdicts
then depend only on the stream, and two runs can be compared report for report."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.daemon import REPO, Daemon, report_lines, verdict, wait_for

pytestmark = pytest.mark.integration

ORDER = REPO / "specs" / "order"
PAYMENT = REPO / "specs" / "payment"


@pytest.fixture(scope="module")
def stream(tmp_path_factory) -> list[bytes]:
    out = tmp_path_factory.mktemp("stream")
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    done = subprocess.run(
        [sys.executable, str(ORDER / "app.py"), "--orders", "120", "--bug-rate", "0.3",
         "--bug", "retry-declined", "--bug", "double-refund", "--bug", "no-compensation",
         "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--file", str(out / "s.jsonl")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return (out / "s.jsonl").read_bytes().splitlines()


def daemon(workdir: Path, *args: str) -> Daemon:
    workdir.mkdir(parents=True, exist_ok=True)
    return Daemon(workdir, "--spec", str(ORDER), "--spec", str(PAYMENT),
                  "--report-file", "reports.jsonl", "--checkpoint-interval", "1s", *args)


def send_all(d: Daemon, lines: list[bytes], *, after_each=None) -> None:
    """POST each request until it is acknowledged (200); a refused or failed request is
    sent again (to the restarted daemon, when ``after_each`` killed it)."""
    i = 0
    while i < len(lines):
        wait_for(lambda: d.started, 60, "a started daemon")
        try:
            status, body = d.post(lines[i])
        except OSError:
            status = None
        if status == 200:
            i += 1
            if after_each is not None:
                after_each(i)
        elif status is not None and status not in (429, 503):
            raise AssertionError(f"request {i}: {status} {body!r}")
        else:
            wait_for(lambda: d.started, 60, "a started daemon")


@pytest.fixture(scope="module")
def uninterrupted(stream, tmp_path_factory) -> list[tuple]:
    work = tmp_path_factory.mktemp("uninterrupted")
    d = daemon(work).start()
    try:
        send_all(d, stream)
        assert d.terminate() == 0
    finally:
        d.close()
    reports = [verdict(r) for r in report_lines(work / "reports.jsonl")]
    assert len(reports) >= 10  # the three bugs, in ~30% of the orders
    assert len(set(reports)) == len(reports)
    return sorted(reports)


def test_specmon_run_with_only_a_spec_answers_otlp_and_is_healthy(tmp_path):
    d = Daemon(tmp_path, "--spec", str(PAYMENT)).start()
    try:
        assert d.post(b'{"resourceSpans": []}') == (200, b"{}")
        assert d.get("/healthz")[0] == 200
        assert d.get("/readyz")[0] == 200
        assert d.terminate() == 0
    finally:
        d.close()
    assert (tmp_path / ".specmon" / "checkpoint" / "checkpoint.msgpack").is_file()


def test_sigterm_drains_checkpoints_and_exits_0_within_the_grace_period(stream, tmp_path):
    d = daemon(tmp_path, "--checkpoint-interval", "1h").start()
    try:
        send_all(d, stream[:50])
        d.proc.send_signal(15)
        assert d.proc.wait(timeout=20) == 0  # the default grace period
    finally:
        d.close()
    events = [r["event"] for r in d.logs()]
    assert events[-2:] == ["stopping", "stopped"]
    stopped = d.logs()[-1]
    assert stopped["queued"] == 0 and stopped["checkpoint"] is not None


def violations_total(d: Daemon) -> float:
    status, body = d.get("/metrics")
    assert status == 200
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("specmon_violations_total{"))


def test_a_clean_restart_continues_where_it_stopped(stream, uninterrupted, tmp_path):
    d = daemon(tmp_path).start()
    try:
        half = len(stream) // 2
        send_all(d, stream[:half])
        written = tmp_path / "reports.jsonl"
        wait_for(lambda: violations_total(d) == len(report_lines(written, writing=True)),
                 30, "the counters to match the reports written")
        before = violations_total(d)
        assert before > 0
        assert d.terminate() == 0
        d.start()
        restored = next(r for r in d.logs() if r["event"] == "restored")
        assert restored["checkpoint"] is True
        assert violations_total(d) == before  # the counters continue from the checkpoint
        send_all(d, stream[half:])
        assert d.terminate() == 0
    finally:
        d.close()
    reports = [verdict(r) for r in report_lines(tmp_path / "reports.jsonl")]
    assert sorted(reports) == uninterrupted


@pytest.mark.parametrize(("after_reports", "interval"), [(1, "1h"), (8, "1h"), (8, "200ms")])
def test_sigkill_mid_stream_then_restart_loses_and_repeats_no_report(
        stream, uninterrupted, tmp_path, after_reports, interval):
    # interval 1h: nothing but the start-up checkpoint, so the restart restores it and
    # replays the whole WAL, and must recognise every report already in the file
    d = daemon(tmp_path, "--checkpoint-interval", interval).start()
    killed = threading.Event()
    reports = tmp_path / "reports.jsonl"

    def kill_once(i: int) -> None:
        # SIGKILL as soon as enough reports are on disk; restart in the background
        # while the sender keeps retrying what was not acknowledged
        if killed.is_set() or len(report_lines(reports, writing=True)) < after_reports:
            return
        killed.set()
        d.kill()
        d.started = {}
        threading.Thread(target=d.start).start()

    try:
        send_all(d, stream, after_each=kill_once)
        assert killed.is_set(), "the stream ended before the kill"
        assert d.terminate() == 0
    finally:
        d.close()
    restored = next(r for r in d.logs() if r["event"] == "restored")
    if interval == "1h":
        assert restored["wal_records"] > 0
        assert restored["reports_already_written"] >= after_reports
    got = [verdict(r) for r in report_lines(reports)]
    assert len(got) == len(set(got)), "a report was written twice"
    assert sorted(got) == uninterrupted


def test_a_bad_config_stops_start_up_with_exit_2_and_the_path(tmp_path):
    (tmp_path / "bad.yaml").write_text("specs: [{path: x}]\ncheckpoint: {interval: soon}\n")
    done = subprocess.run([sys.executable, "-c", "import sys; from monitor.cli import main; "
                           "sys.exit(main())", "run", "bad.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("specmon: error: bad.yaml: invalid duration 'soon'")
    assert done.stderr.rstrip().endswith("- at `$.checkpoint.interval`")


def test_the_live_demo_shows_the_report_its_counterexample_and_the_counter(tmp_path):
    import os

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, str(ORDER / "demo_live.py"), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "UNEXPECTED charge for key ord-" in out
    assert re.search(r"\n +1\. place\(amount=\d+\)", out)  # the counterexample, numbered
    assert re.search(r"\n +\d+\. charge\(amount=\d+\)  -> VIOLATION\n", out)
    assert 'specmon_violations_total{kind="unexpected",property="charge",spec="order"}' in out
    assert out.rstrip().endswith("drained, checkpointed and exited 0")
    if shutil.which("prometheus"):  # .ci/run installs it: the alert half of the demo
        assert "SpecViolation firing" in out
        assert '"alertname": "SpecViolation"' in out and '"property": "charge"' in out
