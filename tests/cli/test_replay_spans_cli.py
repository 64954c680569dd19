"""`specmon replay` on trace files: every format (and gzip) detected and giving the same
verdicts, `--format` overriding detection, `--workers`, and clear refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from monitor.cli import main
from tests.otlp import PAYMENT, SHIPPING, T0, payment, request, write_otlp_json, write_otlp_proto

JAEGER = Path(__file__).parents[1] / "sources" / "data" / "payments-jaeger.json"


@pytest.fixture(scope="module")
def reqs():
    # p1 clean; p2 refunds more than captured (invariant); p3 refunds after a void
    # (unexpected); p4 has a bad amount (invalid)
    return [request(payment("p1", T0, refunds=[50, 50])),
            request(payment("p2", T0, refunds=[150])),
            request(payment("p3", T0, void=True, refunds=[10])),
            request(payment("p4", T0, amount="lots"))]


def run(capsys, *argv: str) -> tuple[int, dict]:
    rc = main(["replay", str(PAYMENT), *argv, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def _verdicts(path: Path) -> list[tuple[str, str, str]]:
    reports = [json.loads(x) for x in path.read_text().splitlines()]
    return sorted((r["key"], r["kind"], r["property"]) for r in reports)


EXPECTED = [("p2", "invariant", "refunds_within_captures"), ("p3", "unexpected", "refund")]


@pytest.mark.parametrize("name", ["t.bin", "t.bin.gz", "t.jsonl", "t.jsonl.gz"])
def test_each_trace_format_is_detected_and_gives_the_same_verdicts(tmp_path, capsys, reqs, name):
    write = write_otlp_proto if ".bin" in name else write_otlp_json
    path = write(tmp_path / name, reqs, gz=name.endswith(".gz"))
    report = tmp_path / "r.jsonl"
    rc, summary = run(capsys, str(path), "--report", str(report))
    assert rc == 1
    assert summary["records"] == 11  # spans
    assert summary["invalid"] == {"bad_arg": 1}
    assert summary["outcomes"]["unmatched"] == 0
    assert _verdicts(report) == EXPECTED


def test_reports_carry_trace_ids_and_the_message_index(tmp_path, capsys, reqs):
    path = write_otlp_proto(tmp_path / "t.bin", reqs)
    report = tmp_path / "r.jsonl"
    run(capsys, str(path), "--report", str(report))
    first = json.loads(report.read_text().splitlines()[0])
    assert first["origin"] == {"file": str(path), "message": 1}
    span = reqs[1].resource_spans[0].scope_spans[0].spans[2]  # p2's refund span
    assert (first["trace_id"], first["span_id"]) == (span.trace_id.hex(), span.span_id.hex())
    assert first["record"] == {"span": "payment.refund", "event": "refund.issued"}


def test_the_human_summary_points_at_the_file_message_and_trace(tmp_path, capsys, reqs):
    path = write_otlp_proto(tmp_path / "t.bin", reqs)
    assert main(["replay", str(PAYMENT), str(path)]) == 1
    out, err = capsys.readouterr()
    assert f"  at {path} message 1\n  trace " in out
    assert f"skipped bad_arg record at {path} message 3: span 'payment.authorize'" in err


def test_a_jaeger_export_replays_with_span_indexes_as_origins(tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    rc, summary = run(capsys, str(JAEGER), "--report", str(report))
    assert rc == 1 and summary["records"] == 7 and summary["invalid"] == {"malformed": 1}
    first = json.loads(report.read_text())
    assert (first["key"], first["kind"], first["origin"]) == (
        "p8", "invariant", {"file": str(JAEGER), "span": 6})


def test_format_overrides_detection(tmp_path, capsys, reqs):
    path = write_otlp_json(tmp_path / "t.jsonl", reqs)
    rc, summary = run(capsys, str(path), "--format", "otlp-proto")
    assert rc == 0 and summary["invalid"] == {"malformed": 1}  # JSON read as a length prefix
    rc, summary = run(capsys, str(path), "--format", "otlp-json")
    assert rc == 1 and summary["records"] == 11


def test_several_formats_replay_together_into_one_run(tmp_path, capsys, reqs):
    a = write_otlp_proto(tmp_path / "a.bin", reqs[:2])
    b = write_otlp_json(tmp_path / "b.jsonl", reqs[2:])
    report = tmp_path / "r.jsonl"
    rc, summary = run(capsys, str(a), str(b), "--report", str(report))
    assert rc == 1 and summary["records"] == 11 and _verdicts(report) == EXPECTED


def test_two_workers_give_the_verdicts_of_one(tmp_path, capsys, reqs):
    path = write_otlp_proto(tmp_path / "t.bin", reqs)
    one, two = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    rc1, s1 = run(capsys, str(path), "--report", str(one))
    rc2, s2 = run(capsys, str(path), "--report", str(two), "--workers", "2")
    assert rc1 == rc2 == 1
    assert one.read_text() == two.read_text()
    assert (s1["records"], s1["invalid"], s1["outcomes"]) == (s2["records"], s2["invalid"],
                                                              s2["outcomes"])


def test_a_trace_file_for_a_spec_without_spans_section_is_refused(tmp_path, capsys, reqs):
    path = write_otlp_proto(tmp_path / "t.bin", reqs)
    payment_dir = Path(__file__).parents[2] / "specs" / "payment"
    events_only = tmp_path / "events_only"
    shutil.copytree(payment_dir, events_only)
    (events_only / "mapping.yaml").write_text(
        "events:\n  rules:\n    - {when: {type: payment.voided}, action: void}\n")
    assert main(["replay", str(events_only), str(path)]) == 2
    assert capsys.readouterr().err == (
        f"specmon: error: {events_only}/mapping.yaml: no `spans:` section, so spans cannot be "
        "mapped; add one (see docs/mapping.md)\n")


def test_an_events_file_for_a_spans_only_spec_is_refused(tmp_path, capsys):
    path = tmp_path / "e.jsonl"
    path.write_text('{"type": "payment.voided"}\n')
    assert main(["replay", str(SHIPPING), str(path)]) == 2
    assert "mapping.yaml: no `events:` section, so JSON records cannot be mapped" in (
        capsys.readouterr().err)


def test_an_unknown_format_is_bad_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(PAYMENT), "x", "--format", "csv"])
    assert exc.value.code == 2
    assert "invalid choice: 'csv'" in capsys.readouterr().err


def _shipping_requests():
    from opentelemetry.trace import SpanKind, StatusCode

    from tests.otlp import SECOND, SpanSpec

    def at(i: int) -> int:
        return T0 + i * SECOND

    warehouse = [
        SpanSpec("pack", {"shipment.id": "s1", "shipment.parcels": 2}, at(0), at(1)),
        SpanSpec("pack", {"shipment.id": "s2", "shipment.parcels": 2}, at(0), at(1)),
        SpanSpec("pack", {"shipment.id": "s3", "shipment.parcels": 1}, at(0), at(1)),
        SpanSpec("cancel", {"shipment.id": "s3"}, at(2), at(3)),
    ]
    carrier = [
        # s1: picked up (consumer span), two hub scans, delivered (status ok)
        SpanSpec("pickup", {"shipment.id": "s1", "shipment.parcels": 2}, at(4), at(5),
                 kind=SpanKind.CONSUMER),
        SpanSpec("transport", {"shipment.id": "s1"}, at(6), at(9), status=StatusCode.OK,
                 events=[("hub.scan", {"hub.name": "a"}, at(7)),
                         ("hub.scan", {"hub.name": "b"}, at(8))]),
        # s2: one parcel picked up of two packed; the client span is not the pickup
        SpanSpec("pickup", {"shipment.id": "s2", "shipment.parcels": 2}, at(4), at(5),
                 kind=SpanKind.CLIENT),
        SpanSpec("pickup", {"shipment.id": "s2", "shipment.parcels": 1}, at(6), at(7),
                 kind=SpanKind.CONSUMER),
        # s3: picked up after it was cancelled; a failed transport is no delivery
        SpanSpec("pickup", {"shipment.id": "s3", "shipment.parcels": 1}, at(4), at(5),
                 kind=SpanKind.CONSUMER),
        SpanSpec("transport", {"shipment.id": "s3"}, at(6), at(7), status=StatusCode.ERROR),
        # a pack span from the carrier's service is not the warehouse's pack
        SpanSpec("pack", {"shipment.id": "s4", "shipment.parcels": 1}, at(0), at(1)),
    ]
    return [request(warehouse, service="warehouse"), request(carrier, service="carrier")]


def test_a_spec_mapped_from_two_services_spans_checks_the_shipments(tmp_path, capsys):
    path = write_otlp_proto(tmp_path / "ship.bin", _shipping_requests())
    report = tmp_path / "r.jsonl"
    rc = main(["replay", str(SHIPPING), str(path), "--json", "--report", str(report)])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert (summary["records"], summary["outcomes"]["unmatched"]) == (11, 3)
    assert summary["instances"]["finished"] == 2  # s1 delivered, s3 cancelled
    reports = [json.loads(x) for x in report.read_text().splitlines()]
    assert [(r["key"], r["action"], r["message"]) for r in reports] == [
        ("s3", "pick_up", "pick_up(1) not allowed: pickup of a shipment not packed"),
        ("s2", "pick_up", "pick_up(1) not allowed: picked up a different number of parcels"),
    ]
    # pickups are timed at the start of the carrier's span
    assert [r["time"] for r in reports] == [(T0 + 4 * 10**9) / 1e9, (T0 + 6 * 10**9) / 1e9]


def test_the_bundled_trace_sample_shows_both_violations(capsys):
    sample = Path(__file__).parents[2] / "specs" / "payment" / "samples" / "traces.otlp.jsonl"
    rc, summary = run(capsys, str(sample))
    assert rc == 1 and summary["records"] == 9
    found = {(kind, prop): n for kind, props in summary["violations"].items()
             for prop, n in props.items() if n}
    assert found == {("invariant", "refunds_within_captures"): 1, ("unexpected", "refund"): 1}


def test_validate_says_which_sections_the_mapping_has(capsys):
    assert main(["validate", str(PAYMENT), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sections"] == ["events", "spans"]
    assert main(["validate", str(SHIPPING)]) == 0
    assert capsys.readouterr().out.endswith("; maps spans\n")


def test_progress_on_a_trace_file_advances_with_the_bytes_read(tmp_path):
    from monitor.replay import replay
    from monitor.specdir import load_specdir

    many = [request(payment(f"p{i}", T0 + i)) for i in range(40)]
    path = write_otlp_proto(tmp_path / "t.bin", many)
    calls: list[tuple[int, int, int]] = []
    replay(load_specdir(PAYMENT), [str(path)], progress=lambda *a: calls.append(a))
    size = path.stat().st_size
    done = [d for d, _total, _n in calls]
    assert len(calls) >= 3 and done == sorted(done) and 0 < done[0] < size
    assert calls[-1] == (size, size, 80)
