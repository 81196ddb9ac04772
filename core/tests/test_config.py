"""Config loading: defaults, `${ENV}`, unknown keys and types reported with file and key path."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation.config import (
    JobSpec,
    ProviderSpec,
    Settings,
    check_job_name,
    interpolate,
    load_job,
    load_settings,
    read_toml,
    redact,
    structure,
)
from destilation.errors import ConfigError
from destilation.restore import restore_spec
from destilation.secrets import Secret


def write(tmp_path: Path, text: str, name: str = "job.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        fn(*args)
    return str(info.value)


def test_a_job_file_alone_works_with_defaults(tmp_path: Path) -> None:
    loaded = load_job(write(tmp_path, '[providers.t]\nkind = "mock"\n', "tiny.toml"))
    spec = loaded.spec
    assert spec.name == "tiny"
    assert (spec.template, spec.count, spec.max_attempts, spec.task_limit) == ("simple", 100, 3, 300)
    assert spec.providers["t"] == ProviderSpec(kind="mock")
    assert spec.sinks == {"jsonl": {}}


def test_provider_keys_split_into_core_fields_and_plugin_options(tmp_path: Path) -> None:
    text = '[providers.t]\nkind = "mock"\nconcurrency = 4\nweight = 2.5\ncapabilities = ["tools"]\nlatency_ms = 5\n'
    provider = load_job(write(tmp_path, text)).spec.providers["t"]
    assert provider.concurrency == 4
    assert provider.weight == 2.5
    assert provider.capabilities == ["tools"]
    assert provider.options == {"latency_ms": 5}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count = \n", "job.toml: invalid TOML: Invalid value (at line 1, column 9)"),
        ("colour = 1\n", "job.toml: $.colour: unknown key"),
        ('count = "x"\n', 'job.toml: $.count: expected an integer, got "x"'),
        ("count = 0\n", "job.toml: $.count: must be >= 1: 0"),
        ('name = "../up"\n', "job.toml: $.name: '../up' is not allowed as a job name"),
        (
            '[providers.t]\nkind = "m"\nconcurrency = "x"\n',
            'job.toml: $.providers.t.concurrency: expected an integer, got "x"',
        ),
        ("[providers.t]\nconcurrency = 1\n", "job.toml: $.providers.t.kind: required key missing"),
        ("[providers]\nt = 3\n", "job.toml: $.providers.t: expected a table, got int"),
        ('sampling = "random"\n', "job.toml: $.sampling:"),
        ("workers = -3\n", "job.toml: $.workers: must be >= 1: -3"),
        ("workers = 0\n", "job.toml: $.workers: must be >= 1: 0"),
        ("max_tasks = 0\n", "job.toml: $.max_tasks: must be >= 1: 0"),
        ("max_tasks = -1\n", "job.toml: $.max_tasks: must be >= 1: -1"),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(load_job, write(tmp_path, text))
    assert message.startswith(str(tmp_path / "job.toml"))
    assert expected.split("job.toml", 1)[1] in message


def test_workers_and_max_tasks_take_any_positive_count_or_their_default(tmp_path: Path) -> None:
    spec = load_job(write(tmp_path, "count = 5\nworkers = 1\nmax_tasks = 1\n")).spec
    assert (spec.workers, spec.max_tasks, spec.task_limit) == (1, 1, 1)
    default = load_job(write(tmp_path, "count = 5\n")).spec
    assert (default.workers, default.max_tasks, default.task_limit) == (None, None, 15)
    with pytest.raises(ValueError, match="'workers' must be >= 1"):
        JobSpec(name="j", workers=0)


def test_several_errors_are_summarised_on_one_line(tmp_path: Path) -> None:
    message = error_of(load_job, write(tmp_path, 'count = "x"\nseed = "y"\n'))
    assert "(and 1 more)" in message
    assert "\n" not in message


def test_unknown_keys_at_top_level_are_listed_together() -> None:
    message = error_of(lambda: structure({"a": 1, "b": 2}, Settings, source="g.toml"))
    assert message == "g.toml: $: unknown keys a, b"


def test_unreadable_files(tmp_path: Path) -> None:
    assert error_of(read_toml, tmp_path / "missing.toml").endswith("missing.toml: no such file")
    assert "is a directory" in error_of(read_toml, tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'name = "caf\xe9"\n')
    assert "not UTF-8" in error_of(read_toml, bad) or "invalid TOML" in error_of(read_toml, bad)


def test_env_interpolation_with_defaults_and_paths() -> None:
    env = {"KEY": "sk-1", "EMPTY": ""}
    value = {"a": "${KEY}", "b": ["x-${KEY}-y", "${NOPE:-fallback}"], "c": 3, "d": "${EMPTY}"}
    assert interpolate(value, source="s", environ=env) == {"a": "sk-1", "b": ["x-sk-1-y", "fallback"], "c": 3, "d": ""}
    message = error_of(lambda: interpolate({"p": {"k": ["${MISSING}"]}}, source="s.toml", environ={}))
    assert message == "s.toml: $.p.k[0]: environment variable MISSING is not set"


def test_secrets_are_redacted_for_storage_but_env_refs_kept() -> None:
    raw = {"providers": {"a": {"api_key": "sk-live", "token": "${TOKEN}", "model": "m"}}, "list": [{"password": "p"}]}
    assert redact(raw) == {
        "providers": {"a": {"api_key": "***", "token": "${TOKEN}", "model": "m"}},
        "list": [{"password": "***"}],
    }


def test_secret_type_never_shows_its_value() -> None:
    @attrs.frozen
    class Cfg:
        api_key: Secret | None = None

    cfg = structure({"api_key": "sk-123"}, Cfg, source="x")
    assert cfg.api_key is not None and cfg.api_key.reveal() == "sk-123"
    assert "sk-123" not in repr(cfg) and "sk-123" not in str(cfg.api_key)
    assert bool(cfg.api_key) and cfg.api_key == Secret("sk-123") and hash(cfg.api_key) == hash(Secret("sk-123"))
    assert cfg.api_key != "sk-123"
    assert structure({"api_key": Secret("a")}, Cfg, source="x").api_key == Secret("a")
    assert "expected a string" in error_of(lambda: structure({"api_key": 3}, Cfg, source="x"))


def test_relative_inputs_and_template_paths_become_absolute(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    job = write(tmp_path / "sub", 'inputs = "rows.jsonl"\ntemplate = "mine.toml"\n[providers.t]\nkind = "m"\n')
    loaded = load_job(job)
    assert loaded.spec.inputs == str((tmp_path / "sub" / "rows.jsonl").resolve())
    assert loaded.raw["template"] == str((tmp_path / "sub" / "mine.toml").resolve())
    again = restore_spec(loaded.spec.name, loaded.raw, Settings())
    assert again == loaded.spec


def test_settings_from_file_env_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESTILATION_CONFIG", raising=False)
    assert load_settings(None) == (Settings(), None)
    assert Settings().store_url == "sqlite:///destilation-data/destilation.db"
    cfg = write(tmp_path, 'data_dir = "out"\n[providers.shared]\nkind = "mock"\n', "destilation.toml")
    settings, path = load_settings(None)
    assert path == Path("destilation.toml")
    assert settings.data_dir == "out"
    other = write(tmp_path, f'store = "sqlite:///x.db"\ndata_dir = "{tmp_path}"\n', "other.toml")
    monkeypatch.setenv("DESTILATION_CONFIG", str(other))
    settings, path = load_settings(None)
    assert (settings.store_url, settings.data_dir, path) == ("sqlite:///x.db", str(tmp_path), other)
    settings, _ = load_settings(cfg)
    merged = load_job(write(tmp_path, '[providers.own]\nkind = "mock"\n'), settings).spec
    assert set(merged.providers) == {"shared", "own"}


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True))
def test_safe_job_names_are_accepted(name: str) -> None:
    if ".." not in name and name.split(".")[0].lower() not in {"con", "nul", "aux", "prn"}:
        assert check_job_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "a\\b", "a..b", "x" * 101, "nul", "CON.txt", "a\x00b", "-x"])
def test_unsafe_job_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        check_job_name(name)


def test_jobspec_is_built_directly_with_validation() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        JobSpec(name="../x")
