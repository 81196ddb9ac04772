"""Bad input gives one line naming the file and key, exit code 2, and never a traceback."""

from __future__ import annotations

import pytest


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["run", "check"])
def test_malformed_toml(destiler, tmp_path, command) -> None:
    job = tmp_path / "broken.toml"
    job.write_text('name = "x"\ncount = \n')
    line = one_line_error(destiler(command, str(job)))
    assert "broken.toml" in line and "invalid TOML" in line and "line 2" in line


def test_unknown_key(destiler, write_job) -> None:
    job = write_job(extra="colour = 3")
    line = one_line_error(destiler("run", str(job)))
    assert "job.toml: $.colour: unknown key" in line


def test_unknown_provider_option(destiler, write_job) -> None:
    job = write_job(provider="latency = 3")
    line = one_line_error(destiler("check", str(job)))
    assert "$.providers.teacher" in line and "latency" in line


def test_wrong_type(destiler, write_job) -> None:
    job = write_job(provider='failure_rate = "often"')
    line = one_line_error(destiler("run", str(job)))
    assert "$.providers.teacher.failure_rate" in line


def test_unknown_template(destiler, write_job) -> None:
    job = write_job(extra='template = "sonnet"')
    line = one_line_error(destiler("run", str(job)))
    assert "job.toml: $.template: unknown template 'sonnet'; installed: moe, reasoning, simple, tools" in line


@pytest.mark.parametrize("url", ["not-a-url", "mysql://127.0.0.1/x", "sqlite:////proc/forbidden/x.db"])
def test_bad_db_url(destiler, write_job, url) -> None:
    job = write_job()
    line = one_line_error(destiler("--db", url, "run", str(job)))
    assert url in line or "mysql" in line


def test_missing_file_and_missing_env(destiler, write_job, tmp_path) -> None:
    line = one_line_error(destiler("run", str(tmp_path / "nope.toml")))
    assert "nope.toml" in line
    job = write_job(provider='api_key = "${DESTILATION_TEST_NOT_SET}"')
    line = one_line_error(destiler("run", str(job)))
    assert "DESTILATION_TEST_NOT_SET is not set" in line and "$.providers.teacher.api_key" in line


def test_unknown_job_and_bad_task_reference(destiler) -> None:
    assert "no job named 'ghost'" in one_line_error(destiler("show", "ghost"))
    line = one_line_error(destiler("inspect", "ghost"))
    assert "JOB/INDEX" in line


def test_missing_api_key_is_one_line_and_leaves_no_job_behind(destiler, tmp_path) -> None:
    destiler.env.pop("OPENROUTER_API_KEY", None)
    job = tmp_path / "remote.toml"
    job.write_text('count = 3\n[providers.t]\nkind = "openrouter"\nmodel = "openai/gpt-4o-mini"\n')
    line = one_line_error(destiler("run", str(job)))
    assert line == (
        f"error: {job}: $.providers.t: provider 't': no API key: set OPENROUTER_API_KEY or "
        'api_key = "${OPENROUTER_API_KEY}"'
    )
    assert destiler.json("jobs") == []


@pytest.mark.parametrize("value", ["5", '"yes"', '["threshold"]'])
def test_validator_options_that_are_not_a_table_are_refused(destiler, write_job, value) -> None:
    job = write_job(extra=f"validators = {{ near_dup = {value} }}")
    line = one_line_error(destiler("check", str(job)))
    assert line.endswith("job.toml: $.validators.near_dup: expected true, false or a table of options")
