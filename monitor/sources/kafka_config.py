"""The ``sources.kafka`` section of the daemon's config: one typed Struct, decoded with
``forbid_unknown_fields`` so a typo fails at start-up with its ``$.path``.

Durations accept seconds or strings (``"5s"``, ``"250ms"``). SASL/TLS settings are
passed through to aiokafka unchanged (``security_protocol``, ``sasl_*``, ``ssl_*``).
See docs/kafka.md for the meaning of each setting and the scaling model.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from monitor.errors import ConfigError
from monitor.spec.duration import parse_duration

__all__ = ["Encoding", "KafkaConfig"]

#: how a topic's record values are read: JSON events (CloudEvents structured mode, or
#: binary mode with ``ce_*`` headers), or the Collector's kafka exporter encodings
Encoding = Literal["json", "otlp_proto", "otlp_json"]


class KafkaConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    bootstrap_servers: str | list[str] = "127.0.0.1:9092"
    #: topics to consume, or ``pattern`` (a regex over topic names); one of the two
    topics: list[str] = []
    pattern: str | None = None
    group_id: str = "specmon"
    #: static membership (the pod name): a restart within the session timeout keeps
    #: the member's partitions instead of rebalancing the whole group
    group_instance_id: str | None = None
    client_id: str = "specmon"
    encoding: Encoding = "json"
    #: per-topic overrides of ``encoding`` (``{otlp_spans: otlp_proto}``)
    encodings: dict[str, Encoding] = {}
    #: event time from the mapped payload, or the Kafka record timestamp
    event_time: Literal["payload", "record"] = "payload"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    #: state per partition, keyed ``topic/partition``; default ``<group_id>-changelog``
    changelog_topic: str | None = None
    #: reports are also produced here, keyed by entity (None: not produced)
    violations_topic: str | None = None
    #: how often applied records are checkpointed, reports released and offsets committed
    checkpoint_interval: float | str = 5.0
    #: reports held per replica before a checkpoint is forced (bounds memory)
    max_pending_reports: int = 10_000
    #: advance a caught-up partition's watermark with the wall clock after this much
    #: idle time, so deadlines fire without traffic (None: never)
    idle_advance: float | str | None = 2.0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_poll_records: int = 5_000
    #: largest changelog record; state is split into chunks of this size
    changelog_chunk_bytes: int = 512 * 1024
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI",
                            "OAUTHBEARER"] | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if bool(self.topics) == (self.pattern is not None):
            raise ConfigError("sources.kafka: set exactly one of `topics` (a list) or "
                              "`pattern` (a regex over topic names)")
        for name in ("checkpoint_interval", "idle_advance"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_duration(value)
                except ValueError as exc:
                    raise ConfigError(f"sources.kafka.{name}: {exc}") from None
        for name in ("max_pending_reports", "max_poll_records", "changelog_chunk_bytes",
                     "session_timeout_ms", "heartbeat_interval_ms"):
            if getattr(self, name) < 1:
                raise ConfigError(f"sources.kafka.{name} must be >= 1, got {getattr(self, name)!r}")

    @property
    def changelog(self) -> str:
        return self.changelog_topic or f"{self.group_id}-changelog"

    @property
    def interval_s(self) -> float:
        return parse_duration(self.checkpoint_interval)

    @property
    def idle_s(self) -> float | None:
        return None if self.idle_advance is None else parse_duration(self.idle_advance)

    def encoding_of(self, topic: str) -> Encoding:
        return self.encodings.get(topic, self.encoding)

    def client_kwargs(self) -> dict[str, Any]:
        """Connection settings shared by the consumer, the producer and the admin."""
        kw: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers,
                              "security_protocol": self.security_protocol}
        if self.sasl_mechanism is not None:
            kw["sasl_mechanism"] = self.sasl_mechanism
            kw["sasl_plain_username"] = self.sasl_plain_username
            kw["sasl_plain_password"] = self.sasl_plain_password
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            kw["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile)
        return kw


def load_kafka_config(obj: Any, where: str = "sources.kafka") -> KafkaConfig:
    """A ``KafkaConfig`` from decoded YAML/JSON; ``ConfigError`` naming the path."""
    try:
        return msgspec.convert(obj, KafkaConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
