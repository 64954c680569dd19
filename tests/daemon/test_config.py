"""The daemon's config: defaults, YAML, SPECMON_* variables and flags, and errors that
name the file (or variable) and the ``$.path``."""

from __future__ import annotations

import pytest

from monitor.config import ENV, Config, load_config
from monitor.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "specmon.yaml"
    path.write_text(text)
    return path


def test_no_file_gives_the_documented_defaults():
    cfg = load_config(env={})
    assert cfg == Config()
    assert (cfg.sources.otlp.http.port, cfg.sources.otlp.grpc.port, cfg.admin.port) == (
        4318, 4317, 9464)
    assert cfg.sources.otlp.http.host == "127.0.0.1"
    assert cfg.checkpoint.interval == 10.0


def test_durations_and_sizes_accept_units(tmp_path):
    cfg = load_config(write(tmp_path, """
checkpoint: {interval: 1m30s, wal_max_bytes: 64MiB}
engine: {lateness: 250ms, ttl: 7d}
sources: {otlp: {max_body_bytes: 1KiB}}
"""), env={})
    assert cfg.checkpoint.interval == 90.0
    assert cfg.checkpoint.wal_max_bytes == 64 * 1024 * 1024
    assert cfg.engine.lateness == 0.25 and cfg.engine.ttl == 7 * 86400
    assert cfg.sources.otlp.max_body_bytes == 1024


def test_an_unknown_field_is_refused_with_the_file_and_its_path(tmp_path):
    path = write(tmp_path, "checkpoint:\n  intervl: 5s\n")
    with pytest.raises(ConfigError, match=rf"^{path}: Object contains unknown field "
                       r"`intervl` - at `\$.checkpoint`$"):
        load_config(path, env={})


def test_a_bad_duration_names_its_path(tmp_path):
    path = write(tmp_path, "specs: [{path: x, engine: {lateness: soon}}]\n")
    with pytest.raises(ConfigError, match=r"invalid duration 'soon': use seconds \(30\) or "
                       r"units .* - at `\$.specs\[0\].engine.lateness`$"):
        load_config(path, env={})


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match=r"^SPECMON_OTLP_HTTP_PORT: Expected `int`, got "
                       r"`str` - at `\$.sources.otlp.http.port`$"):
        load_config(env={"SPECMON_OTLP_HTTP_PORT": "http"})


def test_flags_beat_the_environment_which_beats_the_file(tmp_path):
    path = write(tmp_path, "admin: {port: 1000}\nsources: {otlp: {http: {port: 1001}}}\n"
                 "log: {level: debug}\n")
    env = {"SPECMON_ADMIN_PORT": "2000", "SPECMON_OTLP_HTTP_PORT": "2001"}
    cfg = load_config(path, env=env, overrides={("admin", "port"): 3000})
    assert cfg.admin.port == 3000
    assert cfg.sources.otlp.http.port == 2001
    assert cfg.log.level == "debug"


def test_specmon_specs_is_a_comma_separated_list_of_directories():
    cfg = load_config(env={"SPECMON_SPECS": "specs/payment, specs/order"})
    assert [s.path for s in cfg.specs] == ["specs/payment", "specs/order"]


def test_a_spec_engine_section_overrides_the_top_level_one_field_by_field(tmp_path):
    cfg = load_config(write(tmp_path, """
engine: {lateness: 2s, hidden_steps: 0}
specs: [{path: a, engine: {hidden_steps: 3}}, {path: b}]
"""), env={})
    a, b = cfg.specs
    assert (cfg.engine_for(a).lateness, cfg.engine_for(a).hidden_steps) == (2.0, 3)
    assert (cfg.engine_for(b).lateness, cfg.engine_for(b).hidden_steps) == (2.0, 0)


def test_every_environment_variable_names_a_field_that_exists():
    import msgspec.inspect as mi

    def field_type(t, key):
        while isinstance(t, (mi.UnionType, mi.ListType)):
            t = next(x for x in t.types if not isinstance(x, mi.NoneType)) \
                if isinstance(t, mi.UnionType) else t.item_type
        assert isinstance(t, mi.StructType), key
        return next(f.type for f in t.fields if f.name == key)

    for keys in ENV.values():
        t = mi.type_info(Config)
        for k in keys:
            t = field_type(t, k)  # StopIteration: the variable names no field


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match=rf"^{path}: expected a mapping of settings"):
        load_config(path, env={})


def test_docs_daemon_md_names_exactly_the_environment_variables_there_are():
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "daemon.md").read_text()
    assert set(re.findall(r"SPECMON_[A-Z_]*[A-Z]", doc)) == set(ENV)


def test_every_setting_has_an_environment_variable():
    import msgspec.inspect as mi

    def leaves(t, path):
        if isinstance(t, mi.UnionType):
            t = next((x for x in t.types if isinstance(x, mi.StructType)), t)
        if not isinstance(t, mi.StructType):
            yield path
            return
        for f in t.fields:
            yield from leaves(f.type, (*path, f.name))

    settings = set(leaves(mi.type_info(Config), ()))
    # per-spec entries are a list (SPECMON_SPECS sets the paths); kafka has its own section
    settings = {p for p in settings if p[0] != "specs" and p[:2] != ("sources", "kafka")}
    assert settings - set(ENV.values()) == set()


def test_webhook_headers_come_from_the_environment_as_a_yaml_mapping():
    cfg = load_config(env={"SPECMON_REPORTS_WEBHOOK_URL": "http://am:9093/api/v2/alerts",
                           "SPECMON_REPORTS_WEBHOOK_HEADERS": "{Authorization: Bearer x}"})
    assert cfg.reports.webhook.headers == {"Authorization": "Bearer x"}
