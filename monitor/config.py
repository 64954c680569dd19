"""The daemon's configuration (``specmon run CONFIG``): one typed msgspec Struct tree
decoded from YAML, unknown fields rejected with their ``$.path``.

Precedence, highest first: command-line flag > ``SPECMON_*`` environment variable >
config file > the defaults below. Every environment variable is a named constant in
``ENV`` (the table docs/daemon.md reproduces); its value is read as YAML, so
``SPECMON_OTLP_HTTP_PORT=4318`` is a number and ``SPECMON_REPORTS_STDOUT=true`` a bool.
``SPECMON_SPECS`` is a comma-separated list of spec directories.

Durations are seconds or strings like ``"10s"``, ``"7d"``, ``"1h30m"``; sizes are bytes
or strings like ``"20MiB"``. A bad value stops start-up with a ``ConfigError`` naming the
file (or the environment variable) and the path::

    specmon.yaml: Object contains unknown field `intervl` - at `$.checkpoint`
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from monitor.errors import ConfigError
from monitor.sources.kafka_config import KafkaConfig
from monitor.spec.duration import parse_duration

__all__ = ["ENV", "Config", "Duration", "Size", "load_config"]


class Duration(float):
    """Seconds; decoded from a number or a string like ``"10s"``."""


class Size(int):
    """Bytes; decoded from a number or a string like ``"20MiB"``."""


_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB|k|K|M|G)?\s*$")
_SIZE_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "k": 1000,
               "K": 1000, "KB": 1000, "M": 1_000_000, "MB": 1_000_000, "G": 10**9, "GB": 10**9}


def _dec_hook(ty: type, value: Any) -> Any:
    if ty is Duration:
        return Duration(parse_duration(value))
    if ty is Size:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return Size(value)
        m = _SIZE.match(value) if isinstance(value, str) else None
        if m is None:
            raise ValueError(f"invalid size {value!r}: use bytes (1048576) or '64KiB', "
                             "'20MiB', '1GiB'")
        return Size(int(m.group(1)) * _SIZE_UNITS[m.group(2)])
    raise NotImplementedError(ty)


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    pass


class EngineSection(_Section):
    """``monitor.engine.EngineConfig`` with config-file names and duration strings."""

    lateness: Duration = Duration(5.0)
    late_events: Literal["drop", "apply"] = "drop"
    late_join: Literal["strict", "adopt", "ignore"] = "adopt"
    after_violation: Literal["quarantine", "restart"] = "quarantine"
    hidden_steps: int = 2
    max_states: int = 64
    dedup_window: Duration = Duration(3600.0)
    max_dedup_ids: int = 200_000
    ttl: Duration | None = None
    max_instances: int = 1_000_000
    max_finished: int = 50_000
    history: int = 16
    max_buffered: int = 200_000

    def engine_config(self) -> Any:
        from monitor.engine import EngineConfig

        return EngineConfig(
            allowed_lateness=float(self.lateness), late_events=self.late_events,
            late_join=self.late_join, after_violation=self.after_violation,
            hidden_steps=self.hidden_steps, max_states=self.max_states,
            dedup_window=float(self.dedup_window), max_dedup_ids=self.max_dedup_ids,
            instance_ttl=None if self.ttl is None else float(self.ttl),
            max_instances=self.max_instances, max_finished=self.max_finished,
            history=self.history, max_buffered=self.max_buffered)


class SpecEntry(_Section):
    path: str
    #: the ``spec`` label in metrics and reports (default: the directory's name)
    name: str | None = None
    #: engine settings for this spec only, merged over the top-level ``engine``
    engine: EngineSection | None = None


class HttpListen(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 4318


class GrpcListen(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 4317


class OtlpSection(_Section):
    http: HttpListen = HttpListen()
    grpc: GrpcListen = GrpcListen()
    #: cap on a request body after decompression (the OTLP spec's recommended 20 MiB)
    max_body_bytes: Size = Size(20 * 1024 * 1024)
    #: events queued for the engines, all specs together (see monitor.sources.fanout)
    queue_events: int = 65_536
    overload_status: Literal[429, 503] = 503


class SourcesSection(_Section):
    otlp: OtlpSection = OtlpSection()
    kafka: KafkaConfig | None = None  # consumer group source (docs/kafka.md)


class AdminSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9464


class CheckpointSection(_Section):
    #: a directory: the checkpoint file and the write-ahead log live in it
    #: relative to the working directory by default, so a local ``specmon run`` works
    #: without root; containers point it at a volume (the chart: an emptyDir)
    path: str = ".specmon/checkpoint"
    interval: Duration = Duration(10.0)
    #: fsync each WAL append (survives power loss, not only a killed process); slower
    fsync: bool = False
    #: WAL size above which requests are refused (503, retried) until the next checkpoint
    wal_max_bytes: Size = Size(256 * 1024 * 1024)
    #: False: no checkpoint, no WAL (state is lost on restart)
    enabled: bool = True


class FileSink(_Section):
    path: str
    max_bytes: Size = Size(100 * 1024 * 1024)
    backups: int = 5


class WebhookSink(_Section):
    url: str
    #: post Alertmanager's ``/api/v2/alerts`` payload instead of the report itself
    alertmanager: bool = False
    timeout: Duration = Duration(5.0)
    queue: int = 1000
    retries: int = 5
    headers: dict[str, str] = {}


class ReportsSection(_Section):
    file: FileSink | None = None
    stdout: bool = False
    webhook: WebhookSink | None = None


class LogSection(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"


class Config(_Section):
    specs: list[SpecEntry] = []
    engine: EngineSection = EngineSection()
    sources: SourcesSection = SourcesSection()
    admin: AdminSection = AdminSection()
    checkpoint: CheckpointSection = CheckpointSection()
    reports: ReportsSection = ReportsSection()
    log: LogSection = LogSection()
    #: SIGTERM -> exit within this (drain, checkpoint, flush sinks)
    grace_period: Duration = Duration(20.0)

    def engine_for(self, spec: SpecEntry) -> EngineSection:
        return spec.engine if spec.engine is not None else self.engine


#: environment variable -> config path (the documented table; docs/daemon.md)
ENV: dict[str, tuple[str, ...]] = {
    "SPECMON_SPECS": ("specs",),
    "SPECMON_ENGINE_LATENESS": ("engine", "lateness"),
    "SPECMON_ENGINE_LATE_EVENTS": ("engine", "late_events"),
    "SPECMON_ENGINE_LATE_JOIN": ("engine", "late_join"),
    "SPECMON_ENGINE_AFTER_VIOLATION": ("engine", "after_violation"),
    "SPECMON_ENGINE_HIDDEN_STEPS": ("engine", "hidden_steps"),
    "SPECMON_ENGINE_MAX_STATES": ("engine", "max_states"),
    "SPECMON_ENGINE_DEDUP_WINDOW": ("engine", "dedup_window"),
    "SPECMON_ENGINE_MAX_DEDUP_IDS": ("engine", "max_dedup_ids"),
    "SPECMON_ENGINE_TTL": ("engine", "ttl"),
    "SPECMON_ENGINE_MAX_INSTANCES": ("engine", "max_instances"),
    "SPECMON_ENGINE_MAX_FINISHED": ("engine", "max_finished"),
    "SPECMON_ENGINE_HISTORY": ("engine", "history"),
    "SPECMON_ENGINE_MAX_BUFFERED": ("engine", "max_buffered"),
    "SPECMON_KAFKA_BOOTSTRAP_SERVERS": ("sources", "kafka", "bootstrap_servers"),
    "SPECMON_KAFKA_TOPICS": ("sources", "kafka", "topics"),
    "SPECMON_KAFKA_PATTERN": ("sources", "kafka", "pattern"),
    "SPECMON_KAFKA_GROUP_ID": ("sources", "kafka", "group_id"),
    "SPECMON_KAFKA_GROUP_INSTANCE_ID": ("sources", "kafka", "group_instance_id"),
    "SPECMON_KAFKA_SECURITY_PROTOCOL": ("sources", "kafka", "security_protocol"),
    "SPECMON_KAFKA_SASL_MECHANISM": ("sources", "kafka", "sasl_mechanism"),
    "SPECMON_KAFKA_SASL_PLAIN_USERNAME": ("sources", "kafka", "sasl_plain_username"),
    "SPECMON_KAFKA_SASL_PLAIN_PASSWORD": ("sources", "kafka", "sasl_plain_password"),
    "SPECMON_KAFKA_VIOLATIONS_TOPIC": ("sources", "kafka", "violations_topic"),
    "SPECMON_OTLP_HTTP_ENABLED": ("sources", "otlp", "http", "enabled"),
    "SPECMON_OTLP_HTTP_HOST": ("sources", "otlp", "http", "host"),
    "SPECMON_OTLP_HTTP_PORT": ("sources", "otlp", "http", "port"),
    "SPECMON_OTLP_GRPC_ENABLED": ("sources", "otlp", "grpc", "enabled"),
    "SPECMON_OTLP_GRPC_HOST": ("sources", "otlp", "grpc", "host"),
    "SPECMON_OTLP_GRPC_PORT": ("sources", "otlp", "grpc", "port"),
    "SPECMON_OTLP_MAX_BODY_BYTES": ("sources", "otlp", "max_body_bytes"),
    "SPECMON_OTLP_QUEUE_EVENTS": ("sources", "otlp", "queue_events"),
    "SPECMON_OTLP_OVERLOAD_STATUS": ("sources", "otlp", "overload_status"),
    "SPECMON_ADMIN_ENABLED": ("admin", "enabled"),
    "SPECMON_ADMIN_HOST": ("admin", "host"),
    "SPECMON_ADMIN_PORT": ("admin", "port"),
    "SPECMON_CHECKPOINT_ENABLED": ("checkpoint", "enabled"),
    "SPECMON_CHECKPOINT_PATH": ("checkpoint", "path"),
    "SPECMON_CHECKPOINT_INTERVAL": ("checkpoint", "interval"),
    "SPECMON_CHECKPOINT_FSYNC": ("checkpoint", "fsync"),
    "SPECMON_CHECKPOINT_WAL_MAX_BYTES": ("checkpoint", "wal_max_bytes"),
    "SPECMON_REPORTS_FILE_PATH": ("reports", "file", "path"),
    "SPECMON_REPORTS_FILE_MAX_BYTES": ("reports", "file", "max_bytes"),
    "SPECMON_REPORTS_FILE_BACKUPS": ("reports", "file", "backups"),
    "SPECMON_REPORTS_STDOUT": ("reports", "stdout"),
    "SPECMON_REPORTS_WEBHOOK_URL": ("reports", "webhook", "url"),
    "SPECMON_REPORTS_WEBHOOK_ALERTMANAGER": ("reports", "webhook", "alertmanager"),
    "SPECMON_REPORTS_WEBHOOK_TIMEOUT": ("reports", "webhook", "timeout"),
    "SPECMON_REPORTS_WEBHOOK_QUEUE": ("reports", "webhook", "queue"),
    "SPECMON_REPORTS_WEBHOOK_RETRIES": ("reports", "webhook", "retries"),
    "SPECMON_REPORTS_WEBHOOK_HEADERS": ("reports", "webhook", "headers"),  # a YAML mapping
    "SPECMON_LOG_LEVEL": ("log", "level"),
    "SPECMON_GRACE_PERIOD": ("grace_period",),
}


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[tuple[str, ...], Any] | None = None) -> Config:
    """Read ``path`` (optional), apply ``SPECMON_*`` variables from ``env`` (default
    ``os.environ``), then ``overrides`` (command-line flags, by config path)."""
    import yaml

    where = str(path) if path is not None else "(defaults)"
    doc: Any = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top, "
                              f"got {type(doc).__name__}")
    origin: dict[tuple[str, ...], str] = {}  # which paths came from the environment
    environ = os.environ if env is None else env
    for name, keys in ENV.items():
        if name in environ:
            value = _env_value(name, environ[name])
            _put(doc, keys, value)
            origin[keys] = name
    for keys, value in (overrides or {}).items():
        _put(doc, keys, value)
        origin[keys] = "the command line"
    _merge_spec_engines(doc)
    try:
        return msgspec.convert(doc, Config, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        message = str(exc)
        source = _blame(message, origin) or where
        raise ConfigError(f"{source}: {message}") from None


def _merge_spec_engines(doc: dict[str, Any]) -> None:
    """A spec's own ``engine:`` overrides the top-level one field by field."""
    specs, base = doc.get("specs"), doc.get("engine")
    if not isinstance(specs, list):
        return
    for entry in specs:
        if isinstance(entry, dict) and isinstance(entry.get("engine"), dict):
            entry["engine"] = {**(base if isinstance(base, dict) else {}), **entry["engine"]}


def _env_value(name: str, text: str) -> Any:
    import yaml

    if name == "SPECMON_SPECS":
        return [{"path": p.strip()} for p in text.split(",") if p.strip()]
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        return text


def _put(doc: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    node = doc
    for k in keys[:-1]:
        child = node.get(k)
        if not isinstance(child, dict):
            child = node[k] = {}
        node = child
    node[keys[-1]] = value


def _blame(message: str, origin: dict[tuple[str, ...], str]) -> str | None:
    """The environment variable (or flag) behind the path a validation error names."""
    m = re.search(r"at `\$((?:\.\w+|\[\d+\])*)`", message)
    if m is None:
        return None
    path = tuple(re.findall(r"\.(\w+)", m.group(1)))
    for keys, name in origin.items():
        if path[: len(keys)] == keys:
            return name
    return None
