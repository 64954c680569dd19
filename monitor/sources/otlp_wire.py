"""OTLP JSON views (``otlp_json``) encoded to protobuf wire format, so that protobuf
parses them into a real ``ExportTraceServiceRequest`` in C: setting fields one by one
from Python costs ~18 us per span with 10 attributes, this ~15 us, most of it saved by
caching the encoding of attributes that repeat (the same key and value).

Field numbers are those of opentelemetry-proto's ``trace.proto`` and ``common.proto``
(a test checks the result equals the message protobuf itself builds). Scalars at their
default are left out, as proto3 does; the members of ``AnyValue``'s oneof are written
whenever they are set, even at their default, to keep which one is set.
"""

from __future__ import annotations

import struct
from typing import Any

from msgspec import UNSET

from monitor.sources.otlp_json import NO_RESOURCE, NO_SCOPE, NO_STATUS

__all__ = ["encode_request"]

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack


def _encode_varint(n: int) -> bytes:
    n &= 0xFFFF_FFFF_FFFF_FFFF  # negative int64: two's complement, 10 bytes
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


#: varints below 2**14 (two bytes: every length and tag here) looked up, not computed
_SMALL = [_encode_varint(n) for n in range(1 << 14)]


def _varint(n: int) -> bytes:
    return _SMALL[n] if 0 <= n < 16384 else _encode_varint(n)


def _tag(field: int, wire: int) -> bytes:
    return _SMALL[field << 3 | wire]


def _ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, sub-message)."""
    n = len(payload)
    return _SMALL[field << 3 | 2] + (_SMALL[n] if n < 16384 else _encode_varint(n)) + payload


def _str(field: int, s: str) -> bytes:
    return _ld(field, s.encode()) if s else b""


def _bytes(field: int, b: bytes) -> bytes:
    return _ld(field, b) if b else b""


def _uint(field: int, n: int) -> bytes:
    return _tag(field, 0) + _varint(n) if n else b""


def _fixed64(field: int, n: int) -> bytes:
    return _tag(field, 1) + _pack_fixed64(n) if n else b""


def _fixed32(field: int, n: int) -> bytes:
    return _tag(field, 5) + _pack_fixed32(n) if n else b""


def _any(v: Any) -> bytes:
    if v.string_value is not UNSET:
        return _ld(1, v.string_value.encode())
    if v.bool_value is not UNSET:
        return _tag(2, 0) + _varint(int(v.bool_value))
    if v.int_value is not UNSET:
        return _tag(3, 0) + _varint(v.int_value)
    if v.double_value is not UNSET:
        return _tag(4, 1) + _pack_double(v.double_value)
    if v.array_value is not UNSET:
        return _ld(5, b"".join(_ld(1, _any(x)) for x in v.array_value.values))
    if v.kvlist_value is not UNSET:
        return _ld(6, _kvs(1, v.kvlist_value.values))
    if v.bytes_value is not UNSET:
        return _ld(7, v.bytes_value)
    return b""


#: encoded attributes by (key, value): attribute values repeat across spans (methods,
#: routes, regions), and encoding one costs ~5 us in Python; bounded, cleared when full
_KV_CACHE: dict[tuple[str, Any, Any], bytes] = {}
KV_CACHE_SIZE = 4096


def _kv(kv: Any) -> bytes:
    v = kv.value
    x = v.string_value
    if x is UNSET:
        x = v.int_value
        if x is UNSET or type(x) is bool:  # bools and the rest: not cached
            return _str(1, kv.key) + _ld(2, _any(v))
    ident = (kv.key, type(x), x)
    out = _KV_CACHE.get(ident)
    if out is None:
        if len(_KV_CACHE) >= KV_CACHE_SIZE:
            _KV_CACHE.clear()
        out = _KV_CACHE[ident] = _str(1, kv.key) + _ld(2, _any(v))
    return out


def _kvs(field: int, kvs: list[Any]) -> bytes:
    return b"".join([_ld(field, _kv(kv)) for kv in kvs])


def _event(e: Any) -> bytes:
    return (_fixed64(1, e.time_unix_nano) + _str(2, e.name) + _kvs(3, e.attributes)
            + _uint(4, e.dropped_attributes_count))


def _link(k: Any) -> bytes:
    return (_bytes(1, k.trace_id) + _bytes(2, k.span_id) + _str(3, k.trace_state)
            + _kvs(4, k.attributes) + _uint(5, k.dropped_attributes_count)
            + _fixed32(6, k.flags))


def _span(s: Any) -> bytes:
    status = _str(2, s.status.message) + _uint(3, s.status.code)
    return b"".join((
        _bytes(1, s.trace_id), _bytes(2, s.span_id), _str(3, s.trace_state),
        _bytes(4, s.parent_span_id), _str(5, s.name), _uint(6, s.kind),
        _fixed64(7, s.start_time_unix_nano), _fixed64(8, s.end_time_unix_nano),
        _kvs(9, s.attributes), _uint(10, s.dropped_attributes_count),
        b"".join(_ld(11, _event(e)) for e in s.events), _uint(12, s.dropped_events_count),
        b"".join(_ld(13, _link(k)) for k in s.links), _uint(14, s.dropped_links_count),
        _ld(15, status) if s.status is not NO_STATUS else b"", _fixed32(16, s.flags),
    ))


def _scope_spans(ss: Any) -> bytes:
    sc = ss.scope
    scope = (_str(1, sc.name) + _str(2, sc.version) + _kvs(3, sc.attributes)
             + _uint(4, sc.dropped_attributes_count))
    return ((_ld(1, scope) if sc is not NO_SCOPE else b"") + b"".join(_ld(2, _span(s)) for s in ss.spans)
            + _str(3, ss.schema_url))


def _resource_spans(rs: Any) -> bytes:
    res = _kvs(1, rs.resource.attributes) + _uint(2, rs.resource.dropped_attributes_count)
    return ((_ld(1, res) if rs.resource is not NO_RESOURCE else b"") + b"".join(_ld(2, _scope_spans(ss)) for ss in rs.scope_spans)
            + _str(3, rs.schema_url))


def encode_request(req: Any) -> bytes:
    """An ``ExportTraceServiceRequestView`` as ``ExportTraceServiceRequest`` bytes."""
    return b"".join(_ld(1, _resource_spans(rs)) for rs in req.resource_spans)
