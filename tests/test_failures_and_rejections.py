"""A flaky, garbage-spewing provider still yields the full dataset; rejections keep their reasons."""

from __future__ import annotations


def test_failure_and_garbage_rates_still_deliver_every_sample(destiler, write_job) -> None:
    job = write_job(
        "flaky",
        count=200,
        provider="failure_rate = 0.3\ngarbage_rate = 0.3\ntruncation_rate = 0.1",
        max_attempts=2,
    )
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    lines = destiler.lines("flaky")
    assert len(lines) == 200
    assert all(isinstance(line["question"], str) and line["answer"] for line in lines)

    rejected = destiler.json("tasks", "flaky", "--state", "rejected", "--limit", "500")
    assert rejected, "with these rates and two attempts some tasks must be rejected"
    codes = {reason["code"] for task in rejected for reason in task["reasons"]}
    assert codes & {"provider_error", "invalid_json", "truncated", "unterminated_json"}
    text = destiler("tasks", "flaky", "--state", "rejected")
    assert text.returncode == 0
    assert "rejected" in text.stdout and "[" in text.stdout

    task = rejected[0]["task"]
    inspected = destiler("inspect", task)
    assert inspected.returncode == 0
    assert "failed" in inspected.stdout


def test_a_job_whose_every_attempt_fails_ends_failed_with_exit_1(destiler, write_job) -> None:
    job = write_job("doomed", count=5, provider="garbage_rate = 1.0", max_attempts=1, extra="max_tasks = 8")
    result = destiler("run", str(job))
    assert result.returncode == 1
    assert "only 0 of 5 samples accepted" in result.stderr
    assert "Traceback" not in result.stderr
    assert destiler.json("show", "doomed")["state"] == "failed"
