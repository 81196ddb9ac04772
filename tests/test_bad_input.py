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
    assert "job.toml: $.template: unknown template 'sonnet'; installed: simple" in line


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
    result = destiler("show", "ghost")
    assert result.returncode == 2 and "no job named 'ghost'" in result.stderr
    line = one_line_error(destiler("inspect", "ghost"))
    assert "JOB/INDEX" in line


def test_missing_api_key_is_one_line_and_leaves_no_job_behind(destiler, tmp_path) -> None:
    destiler.env.pop("OPENROUTER_API_KEY", None)
    job = tmp_path / "remote.toml"
    job.write_text('count = 3\n[providers.t]\nkind = "openrouter"\nmodel = "openai/gpt-4o-mini"\n')
    line = one_line_error(destiler("run", str(job)))
    assert line == "error: provider 't': no API key: set OPENROUTER_API_KEY or api_key = \"${OPENROUTER_API_KEY}\""
    assert destiler.json("jobs") == []
