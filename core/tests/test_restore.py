"""Reading a stored spec back: masked values come from the job file, lent providers from the global config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from destilation.config import ORIGIN_KEY, Settings, load_job, load_settings, spec_body, structure
from destilation.errors import ConfigError
from destilation.restore import restore_spec
from destilation.secrets import REDACTED, Secret

KEY = "sk-restore-0123456789"
PROVIDER = f'[providers.t]\nkind = "openai"\napi_key = "{KEY}"\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error_of(call: Callable[..., object], *args: object) -> str:
    with pytest.raises(ConfigError) as info:
        call(*args)
    return str(info.value)


def test_the_stored_spec_is_redacted_and_says_where_the_job_file_is(tmp_path: Path) -> None:
    job = write(tmp_path / "j.toml", 'name = "j"\n' + PROVIDER + 'headers = ["Bearer abcdefgh"]\n')
    stored = load_job(job).raw
    assert KEY not in repr(stored)
    assert stored[ORIGIN_KEY] == {
        "job_file": str(job.resolve()),
        "redacted": [["providers", "t", "api_key"], ["providers", "t", "headers", 0]],
    }
    assert spec_body(stored)["providers"] == {"t": {"kind": "openai", "api_key": REDACTED, "headers": ["Bearer ***"]}}
    assert restore_spec("j", stored, Settings()).providers["t"].options["headers"] == ["Bearer abcdefgh"]


def test_masked_values_come_back_from_the_job_file_even_in_lists(tmp_path: Path) -> None:
    job = write(
        tmp_path / "j.toml", 'name = "j"\n[providers.t]\nkind = "openai"\nkeys = ["a", "sk-x-0123456789abcdef"]\n'
    )
    stored = load_job(job).raw
    assert stored["providers"]["t"]["keys"] == ["a", REDACTED]  # type: ignore[index]
    spec = restore_spec("j", stored, Settings())
    assert spec.providers["t"].options["keys"] == ["a", "sk-x-0123456789abcdef"]


def test_a_job_file_without_the_key_any_more_is_named(tmp_path: Path) -> None:
    job = write(tmp_path / "j.toml", 'name = "j"\n' + PROVIDER)
    stored = load_job(job).raw
    write(job, 'name = "j"\n[providers.t]\nkind = "openai"\n')
    assert error_of(restore_spec, "j", stored, Settings()) == (
        f"job j: $.providers.t.api_key was given in {job.resolve()}, which no longer has it; "
        'put it back there or write api_key = "${OPENAI_API_KEY}" there and set that variable'
    )


def test_a_suggested_variable_follows_the_key_path_outside_providers(tmp_path: Path) -> None:
    job = write(tmp_path / "j.toml", 'name = "j"\n[validators.judge]\ntoken = "abc"\n[providers.t]\nkind = "m"\n')
    stored = load_job(job).raw
    job.unlink()
    message = error_of(restore_spec, "j", stored, Settings())
    assert message.startswith(f"job j: $.validators.judge.token was given in {job.resolve()}, which is gone;")
    assert 'write token = "${VALIDATORS_JUDGE_TOKEN}" there' in message


def test_a_spec_stored_before_origins_were_kept_says_how_to_continue() -> None:
    legacy = {"name": "old", "axes": {"topic": ["a"]}, "providers": {"t": {"kind": "openai", "api_key": REDACTED}}}
    assert error_of(restore_spec, "old", legacy, Settings()) == (
        "job old: $.providers.t.api_key was masked when the job was stored and its job file is not recorded; "
        'continue it with `destiler run JOB.toml` from its job file, or write api_key = "${OPENAI_API_KEY}" there'
    )
    plain = {"name": "old", "providers": {"t": {"kind": "mock"}}, ORIGIN_KEY: "not a table"}
    assert restore_spec("old", plain, Settings()).providers["t"].kind == "mock"


def test_a_masked_value_can_never_be_structured_into_a_key() -> None:
    @attrs.frozen
    class Cfg:
        api_key: Secret | None = None

    message = error_of(lambda: structure({"api_key": REDACTED}, Cfg, source="j.toml"))
    assert message.startswith("j.toml: $.api_key: this value was redacted for storage")


def test_lent_providers_come_from_todays_config_or_the_one_the_job_ran_with(tmp_path: Path) -> None:
    config = write(tmp_path / "global.toml", PROVIDER)
    settings, _ = load_settings(config)
    job = write(tmp_path / "j.toml", 'name = "j"\n')
    loaded = load_job(job, settings, config)
    assert loaded.raw[ORIGIN_KEY] == {
        "job_file": str(job.resolve()),
        "config_file": str(config.resolve()),
        "providers": ["t"],
    }
    assert KEY not in repr(loaded.raw)

    today = restore_spec("j", loaded.raw, settings, config)
    remembered = restore_spec("j", loaded.raw, Settings(), None)
    assert today == remembered == loaded.spec
    assert set(today.providers) == {"t"}

    other = write(tmp_path / "other.toml", '[providers.u]\nkind = "mock"\n')
    message = error_of(restore_spec, "j", loaded.raw, load_settings(other)[0], other)
    assert message == (
        f"job j: $.providers.t came from the global config {config.resolve()} and today's global config has no such "
        "provider; pass a global config with [providers.t] by --config or $DESTILATION_CONFIG"
    )
    config.unlink()
    assert "which is gone; put it back, or pass" in error_of(restore_spec, "j", loaded.raw, Settings(), None)


def test_a_job_that_names_its_own_provider_does_not_need_the_global_one(tmp_path: Path) -> None:
    config = write(tmp_path / "global.toml", PROVIDER)
    settings, _ = load_settings(config)
    job = write(tmp_path / "j.toml", 'name = "j"\n[providers.t]\nkind = "mock"\n')
    loaded = load_job(job, settings, config)
    assert "providers" not in loaded.raw[ORIGIN_KEY]  # type: ignore[operator]
    assert restore_spec("j", loaded.raw, Settings()).providers["t"].kind == "mock"
