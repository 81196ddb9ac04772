"""Exactly N, the rejection-rate stop, budgets and `run --estimate`, through the real CLI on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Destiler, problem_lines

MOCK = '[providers.teacher]\nkind = "mock"\nconcurrency = 4\n'


def inputs_job(tmp_path: Path, name: str, rows: int, count: int, extra: str = "", provider: str = "") -> Path:
    """An inputs job over `rows` distinct topics."""
    (tmp_path / f"{name}.jsonl").write_text(
        "".join(json.dumps({"topic": f"topic number {i}"}) + "\n" for i in range(rows)), encoding="utf-8"
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ncount = {count}\nseed = 5\nmax_attempts = 1\ninputs = "{name}.jsonl"\nprocesses = 1\n'
        f"{extra}\n{MOCK}{provider}\n",
        encoding="utf-8",
    )
    return path


def test_an_inputs_job_replaces_rejected_rows_with_unused_ones_and_delivers_exactly_count(
    destiler: Destiler, tmp_path: Path
) -> None:
    job = inputs_job(tmp_path, "rows", rows=60, count=30, provider="garbage_rate = 0.3")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    lines = destiler.lines("rows")
    assert len(lines) == 30
    shown = destiler.json("show", "rows")
    assert shown["rejected"] > 0, "with garbage_rate = 0.3 and one attempt some rows must be rejected"
    assert shown["planned"] == 30 + shown["rejected"], "each rejected row was replaced by one unused row"
    tasks = sorted(line["meta"]["task"] for line in lines)
    assert max(tasks) < 60 and len(set(tasks)) == 30


def test_an_inputs_job_without_enough_unused_rows_fails_at_the_task_limit(destiler: Destiler, tmp_path: Path) -> None:
    job = inputs_job(tmp_path, "short", rows=10, count=10, provider="garbage_rate = 0.3")
    result = destiler("run", str(job))
    assert result.returncode == 1
    assert "the task limit (10) is reached" in result.stderr
    assert "`destiler tasks short --state rejected`" in result.stderr


def test_repeat_rows_lets_count_exceed_the_rows_with_new_seeds(destiler: Destiler, tmp_path: Path) -> None:
    refused = inputs_job(tmp_path, "few", rows=4, count=12)
    result = destiler("run", str(refused))
    assert result.returncode == 2
    assert "set repeat_rows = true" in result.stderr
    job = inputs_job(tmp_path, "again", rows=4, count=12, extra="repeat_rows = true", provider="garbage_rate = 0.2")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    lines = destiler.lines("again")
    assert len(lines) == 12
    tasks = [line["meta"]["task"] for line in lines]
    assert len(set(tasks)) == 12 and max(tasks) >= 12, "rows are reused under new task indexes"
    questions = [line["question"] for line in lines]
    assert len(set(questions)) == 12, "a reused row is asked with another seed, so it answers otherwise"


def test_a_job_whose_answers_nearly_all_fail_stops_early_with_the_reason(destiler: Destiler, write_job) -> None:
    job = write_job("hopeless", count=200, provider="garbage_rate = 1.0", max_attempts=1, extra="stop_window = 20")
    result = destiler("run", str(job))
    assert result.returncode == 1
    last = problem_lines(result.stderr)[-1]
    assert last.startswith("hopeless: failed, 0/200 samples accepted, ")
    assert ": stopped: 20 of the last 20 tasks were rejected (the last: " in last
    assert last.endswith("; see `destiler tasks hopeless --state rejected`")
    shown = destiler.json("show", "hopeless")
    assert shown["state"] == "failed"
    assert shown["planned"] < 600, "stopped long before the task limit (3 x count)"


def test_a_low_rejection_rate_does_not_stop_the_job(destiler: Destiler, write_job) -> None:
    job = write_job("bumpy", count=60, provider="garbage_rate = 0.2", max_attempts=1, extra="stop_window = 20")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    assert len(destiler.lines("bumpy")) == 60


def test_a_cost_budget_pauses_within_the_requests_in_flight_and_resumes_with_a_raised_cap(
    destiler: Destiler, write_job
) -> None:
    job = write_job(
        "capped",
        count=40,
        provider="cost_per_request = 0.01\nlatency_ms = 20\nconcurrency = 4",
        extra="processes = 1\nworkers = 4\n[budget]\nmax_cost_usd = 0.05",
    )
    result = destiler("run", str(job))
    assert result.returncode == 1
    last = problem_lines(result.stderr)[-1]
    assert "budget reached: max_cost_usd 0.05 (spent 0.0" in last
    assert last.endswith("`destiler resume capped --max-cost-usd N` raises the cap and continues")
    shown = destiler.json("show", "capped")
    assert shown["state"] == "paused"
    spent = shown["cost"]["total"]
    assert 0.05 <= spent <= 0.05 + 4 * 0.01 + 1e-9, "never more over the cap than the 4 requests in flight"
    assert shown["accepted"] < 40

    again = destiler("resume", "capped")
    assert again.returncode == 1, "resumed without a higher cap, the job pauses again at once"
    assert "budget reached: max_cost_usd 0.05" in again.stderr

    done = destiler("resume", "capped", "--max-cost-usd", "20")
    assert done.returncode == 0, done.stderr
    assert len(destiler.lines("capped")) == 40
    shown = destiler.json("show", "capped")
    assert shown["state"] == "done"
    assert shown["cost"]["total"] < 20


def test_request_and_token_budgets_pause_and_a_job_file_may_raise_them(destiler: Destiler, write_job) -> None:
    # Answers take 100 ms: the sixth request is still in flight when the cap stops new ones, and is waited for.
    job = write_job(
        "requests",
        count=30,
        provider="latency_ms = 100",
        extra="processes = 1\nworkers = 2\n[budget]\nmax_requests = 6",
    )
    result = destiler("run", str(job))
    assert result.returncode == 1
    assert "budget reached: max_requests 6 (sent " in result.stderr
    assert "--max-requests N" in result.stderr
    shown = destiler.json("show", "requests")
    assert shown["accepted"] == 6, "every request sent before the cap was answered and committed"

    tokens = destiler("resume", "requests", "--max-requests", "1000", "--max-tokens", "50")
    assert tokens.returncode == 1
    assert "budget reached: max_tokens 50 (used " in tokens.stderr

    # The job file's caps may change (a budget is no setting the samples were made under).
    text = job.read_text(encoding="utf-8").replace("max_requests = 6", "max_requests = 1000")
    job.write_text(text, encoding="utf-8")
    done = destiler("run", str(job))
    assert done.returncode == 0, done.stderr
    assert len(destiler.lines("requests")) == 30


def test_bad_budget_and_stop_keys_are_one_line(destiler: Destiler, write_job) -> None:
    for extra, says in [
        ("[budget]\nmax_cost_usd = -1", "$.budget.max_cost_usd: must be >= 0"),
        ("[budget]\nmax_requests = 0", "$.budget.max_requests: must be >= 1"),
        ("[budget]\nmax_dollars = 3", "$.budget.max_dollars: unknown key"),
        ("stop_rejection_rate = 1.5", "$.stop_rejection_rate: must be between 0 and 1: 1.5"),
        ("stop_window = 0", "$.stop_window: must be >= 1"),
    ]:
        job = write_job("bad", extra=extra)
        result = destiler("run", str(job))
        assert result.returncode == 2, (extra, result.stderr)
        assert says in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.stderr


def test_estimate_prints_requests_tokens_and_cost_and_sends_nothing(destiler: Destiler, tmp_path: Path) -> None:
    job = tmp_path / "priced.toml"
    job.write_text(
        'name = "priced"\ncount = 100\nmax_tokens = 300\n[axes]\ntopic = ["bees", "tides"]\n'
        '[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
        "price_prompt_per_mtok = 1.0\nprice_completion_per_mtok = 2.0\n",
        encoding="utf-8",
    )
    result = destiler("run", str(job), "--estimate", "--json")
    assert result.returncode == 0, result.stderr
    guess = json.loads(result.stdout)
    assert guess["samples"] == 100 and guess["requests"] == 120
    assert guess["completion_tokens"] == 120 * 300
    prompt = guess["prompt_tokens"]
    assert prompt > 0 and prompt % 120 == 0
    assert abs(guess["cost_usd"] - (prompt * 1.0 + 120 * 300 * 2.0) / 1e6) < 1e-6
    assert guess["providers"][0]["name"] == "local" and guess["providers"][0]["requests"] == 120
    assert "1.2 requests per sample" in guess["assumptions"]

    text = destiler("run", str(job), "--estimate")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("priced: 100 samples: about 120 requests, ")
    assert "local (m): 120 requests, $" in text.stdout
    assert not destiler.data_dir.exists(), "an estimate creates no store and no dataset"

    lone = destiler("run", str(job), "--json")
    assert lone.returncode == 2
    assert "--json goes with --estimate" in lone.stderr
