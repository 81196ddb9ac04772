"""`destiler check` finds every wiring mistake before a request is sent (in-process, real plugins)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from destilation.cli.main import make_cli

BASE = '[providers.teacher]\nkind = "mock"\n'


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    job = tmp_path / "job.toml"
    job.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(make_cli(), ["--data-dir", str(tmp_path), "check", str(job)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('template = "missing.toml"\n' + BASE, "$.template: template file"),
        ('[providers.teacher]\nkind = "nope"\n', "$.providers.teacher.kind: unknown provider 'nope'"),
        ("count = 3\n", "$.providers: the job names no provider"),
        (BASE + "[validators.spellcheck]\n", "$.validators.spellcheck: unknown validator 'spellcheck'"),
        (BASE + "[validators.exact_dedup]\nthreshold = 1\n", "$.validators.exact_dedup: exact_dedup takes no options"),
        (BASE + "[routing]\nstrategy = 3\n", "$.routing.strategy: expected a router name"),
        (BASE + '[routing]\nstrategy = "fastest"\n', "$.routing.strategy: unknown router 'fastest'"),
        (BASE + "[sinks.parquet]\n", "$.sinks.parquet: unknown sink 'parquet'"),
        (BASE + '[routing]\nstrategy = "weighted"\nseed = "x"\n', "$.routing.seed"),
        ("processes = 0\n" + BASE, "$.processes: must be >= 1"),
    ],
)
def test_check_reports_wiring_mistakes_by_key(tmp_path: Path, text: str, expected: str) -> None:
    code, output = check(tmp_path, text)
    assert code == 2
    assert expected in output


def test_check_accepts_a_good_job_and_says_what_it_will_do(tmp_path: Path) -> None:
    code, output = check(tmp_path, "count = 12\n[validators.exact_dedup]\n" + BASE)
    assert code == 0
    assert output.strip().endswith(
        "ok: job 'job', 12 samples, template simple v1, providers: teacher (mock), 1 process"
    )


def test_check_says_how_many_processes_will_work_the_job(tmp_path: Path) -> None:
    code, output = check(tmp_path, "count = 5000\nprocesses = 3\n" + BASE)
    assert code == 0
    assert output.strip().endswith("providers: teacher (mock), 3 processes")


def test_check_validates_a_custom_template_file(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'id = "mine"\nuser_prompt = "About {topic}"\ndefault_validators = ["json_schema"]\n'
        '[schema]\ntype = "object"\nrequired = ["x"]\n',
        encoding="utf-8",
    )
    code, output = check(tmp_path, 'template = "mine.toml"\n' + BASE)
    assert code == 0
    assert "template mine v1" in output


def test_capabilities_no_provider_declares_fail_the_run(tmp_path: Path) -> None:
    (tmp_path / "tools.toml").write_text(
        'id = "tooly"\nuser_prompt = "x"\ncapabilities = ["json_schema", "vision"]\n[schema]\ntype = "object"\n',
        encoding="utf-8",
    )
    job = tmp_path / "job.toml"
    job.write_text('template = "tools.toml"\n' + BASE, encoding="utf-8")
    result = CliRunner().invoke(make_cli(), ["--data-dir", str(tmp_path), "run", str(job)])
    assert result.exit_code == 2
    assert "needs capabilities ['json_schema', 'vision'], which none of the providers (teacher) declares" in (
        result.output
    )
