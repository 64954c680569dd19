"""Reading OTLP/HTTP bodies under a cap that holds after decompression."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import RecordError
from monitor.sources.otlp_body import BodyTooLarge, read_capped


async def _chunks(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def read(data: bytes, cap: int, encoding: str, chunk: int = 7) -> bytes:
    return asyncio.run(read_capped(_chunks(data, chunk), cap, encoding))


ENCODE = {"identity": lambda b: b, "gzip": gzip.compress, "deflate": zlib.compress}


@given(payload=st.binary(max_size=3000), cap=st.integers(1, 4000),
       encoding=st.sampled_from(sorted(ENCODE)), chunk=st.integers(1, 600))
def test_a_body_within_the_cap_reads_back_whole_and_one_over_it_is_refused(
        payload, cap, encoding, chunk):
    data = ENCODE[encoding](payload)
    if len(payload) <= cap and len(data) <= cap:
        assert read(data, cap, encoding, chunk) == payload
    elif len(payload) > cap:
        with pytest.raises(BodyTooLarge):
            read(data, cap, encoding, chunk)


@given(parts=st.lists(st.binary(max_size=200), min_size=1, max_size=4))
def test_concatenated_gzip_members_read_as_one_body(parts):
    data = b"".join(gzip.compress(p) for p in parts)
    assert read(data, 10_000, "gzip") == b"".join(parts)


def test_a_gzip_bomb_stops_at_the_cap_plus_one_byte_of_output():
    bomb = gzip.compress(b"\0" * (32 << 20))
    with pytest.raises(BodyTooLarge, match="decompressed body larger than the 1000-byte limit"):
        read(bomb, 1000, "gzip", chunk=len(bomb))


def test_compressed_bytes_past_the_cap_are_refused_even_when_they_inflate_to_nothing():
    # stored deflate blocks of length 0: 5 bytes each, no output, forever
    empty_blocks = b"\x78\x01" + b"\x00\x00\x00\xff\xff" * 1000
    with pytest.raises(BodyTooLarge):
        read(empty_blocks, 1000, "deflate")


def test_a_corrupt_or_truncated_stream_is_a_malformed_record():
    with pytest.raises(RecordError, match="gzip body cannot be decompressed"):
        read(b"this is not gzip at all", 1000, "gzip")
    with pytest.raises(RecordError, match="gzip body is truncated") as caught:
        read(gzip.compress(b"x" * 100)[:-9], 1000, "gzip")
    assert caught.value.cause == "malformed"
