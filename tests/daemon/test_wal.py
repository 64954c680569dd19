"""The write-ahead log: what was appended is replayed in order from any position; a
torn record (the process killed mid-write) ends its segment's replay and nothing
after it in that segment is returned, but later segments are; a full log refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.sources.ingest import Overloaded
from monitor.wal import WriteAheadLog

payloads = st.lists(st.binary(max_size=40), max_size=20)


def fresh(tmp_path, **kw) -> WriteAheadLog:
    wal = WriteAheadLog(tmp_path, **kw)
    wal.open()
    return wal


def reopen(wal: WriteAheadLog) -> WriteAheadLog:
    """What a restarted daemon sees: the same directory, a new writer."""
    wal.close()
    again = WriteAheadLog(wal.dir)
    again.open()
    return again


def test_records_replay_in_order_with_their_end_positions(tmp_path):
    wal = fresh(tmp_path)
    positions = [wal.append(p) for p in (b"a", b"bb", b"")]
    got = list(reopen(wal).replay(None))
    assert got == list(zip([b"a", b"bb", b""], positions))


def test_replay_starts_after_the_given_position_across_segments(tmp_path):
    wal = fresh(tmp_path)
    first = wal.append(b"one")
    wal.roll()
    wal.append(b"two")
    assert [p for p, _ in reopen(wal).replay(first)] == [b"two"]


@settings(max_examples=60, deadline=None)
@given(records=payloads, cut=st.integers(min_value=0, max_value=2000))
def test_a_log_cut_anywhere_replays_a_prefix_of_what_was_appended(tmp_path_factory, records, cut):
    wal = fresh(tmp_path_factory.mktemp("wal"))
    for r in records:
        wal.append(r)
    wal.close()
    path = wal.path(wal.segment)
    data = path.read_bytes()
    path.write_bytes(data[:min(cut, len(data))])
    got = [p for p, _ in reopen(wal).replay(None)]
    assert got == records[:len(got)]


def test_a_torn_record_ends_its_segment_but_not_the_later_ones(tmp_path):
    wal = fresh(tmp_path)
    wal.append(b"kept")
    wal.append(b"torn")
    path = wal.path(wal.segment)
    path.write_bytes(path.read_bytes()[:-2])  # killed mid-write
    wal = reopen(wal)  # the restart continues in a new segment
    wal.append(b"after the restart")
    assert [p for p, _ in reopen(wal).replay(None)] == [b"kept", b"after the restart"]


def test_a_corrupt_record_is_not_replayed(tmp_path):
    wal = fresh(tmp_path)
    wal.append(b"good")
    wal.append(b"flipped")
    path = wal.path(wal.segment)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert [p for p, _ in reopen(wal).replay(None)] == [b"good"]


def test_a_full_log_refuses_until_a_checkpoint_drops_old_segments(tmp_path):
    wal = fresh(tmp_path, max_bytes=100)
    wal.append(b"x" * 60)
    with pytest.raises(Overloaded, match="retry after 1s"):
        wal.append(b"y" * 60)
    assert wal.refused == 1
    wal.roll()
    wal.drop_before(wal.segment)
    assert wal.size == 0 and wal.segments() == [wal.segment]
    wal.append(b"y" * 60)
