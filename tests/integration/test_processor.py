"""SpecMonitorProcessor inside a real TracerProvider: the app's threads never wait for
the monitor, drops are counted, violations are found off-thread."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider

from monitor.otel import SpecMonitorProcessor
from tests.integration import shop
from tests.integration.receivers import ORDERS, STRICT


def provider_with(processor: SpecMonitorProcessor) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def test_an_order_shipped_unpaid_is_reported_to_on_violation_and_kept():
    seen = []
    monitor = SpecMonitorProcessor(ORDERS, config=STRICT, on_violation=seen.append)
    provider = provider_with(monitor)
    shop.emit(provider.get_tracer("shop"), shop.HAPPY + shop.SHIP_UNPAID)
    assert monitor.force_flush(10_000)
    assert [(v.key, v.kind, v.action) for v in seen] == [("o-2", "unexpected", "ship")]
    assert monitor.violations == seen and seen[0].origin.transport == "sdk"
    assert (monitor.enqueued, monitor.processed, monitor.dropped) == (5, 5, 0)
    provider.shutdown()


def test_on_end_from_many_threads_never_waits_when_the_queue_is_full_and_counts_drops():
    release, stuck = threading.Event(), threading.Event()

    def block_the_worker(_violation):
        stuck.set()
        release.wait(30)

    monitor = SpecMonitorProcessor(ORDERS, config=STRICT, max_queue=16,
                                   on_violation=block_the_worker)
    provider = provider_with(monitor)
    tracer = provider.get_tracer("shop")
    shop.emit(tracer, shop.SHIP_UNPAID)
    assert stuck.wait(10)  # the worker now sits in on_violation: nothing drains
    before = monitor.enqueued

    def app_thread(n: int) -> None:
        for i in range(200):
            shop.emit(tracer, [("order.place", f"t{n}-{i}", {})], t0=shop.T0 + 10**9)

    threads = [threading.Thread(target=app_thread, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads)  # finished while the worker was stuck
    assert monitor.enqueued - before == 16 and monitor.dropped == 8 * 200 - 16
    release.set()
    assert monitor.force_flush(10_000)
    assert monitor.processed == monitor.enqueued
    provider.shutdown()


def test_a_span_the_encoder_cannot_read_is_counted_and_the_worker_goes_on():
    monitor = SpecMonitorProcessor(ORDERS, config=STRICT)
    monitor.on_end(object())  # not a span: encoding the batch fails on the worker
    assert monitor.force_flush(10_000) and monitor.errors == 1
    provider = provider_with(monitor)
    shop.emit(provider.get_tracer("shop"), shop.SHIP_UNPAID, t0=shop.T0 + 10**9)
    assert monitor.force_flush(10_000)
    assert [v.key for v in monitor.violations] == ["o-2"]
    provider.shutdown()


def test_shutdown_applies_what_is_queued_and_later_spans_count_as_dropped():
    monitor = SpecMonitorProcessor(ORDERS)  # default 5 s reorder window: events wait in it
    provider = provider_with(monitor)
    tracer = provider.get_tracer("shop")
    shop.emit(tracer, shop.SHIP_UNPAID)
    provider.shutdown()  # ends the input: the buffered events are applied
    assert [v.key for v in monitor.violations] == ["o-2"]
    monitor.on_end(shop.make_spans(shop.HAPPY)[0])
    assert monitor.dropped == 1


def test_a_spec_dir_without_a_spans_section_is_refused_at_construction(tmp_path):
    (tmp_path / "spec.py").write_text((ORDERS / "spec.py").read_text())
    (tmp_path / "mapping.yaml").write_text("events:\n  key: id\n  rules:\n"
                                           "    - when: {type: placed}\n      action: place\n")
    with pytest.raises(Exception, match=r"no `spans:` section, so spans cannot be mapped"):
        SpecMonitorProcessor(tmp_path)


def test_importing_monitor_does_not_import_the_sdk():
    probe = "import sys, monitor; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr
