"""The near_dup validator: feedback naming the sample it resembles, an index kept in step with the store."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import anyio
import attrs
import pytest

from destilation import Candidate, Generation, PluginError, Sample, Task, TaskSeed, ValidationContext
from destilation.config import structure
from destilation.errors import ConfigError
from destilation_validators import near_dup
from destilation_validators.near_dup import NearDupConfig, NearDupValidator

WORDS = (
    "the quick brown fox jumps over the lazy dog while the farmer sleeps in the warm afternoon sun "
    "and the children of the village walk down to the river to watch the boats drift slowly past "
    "the old mill where bread was baked for a hundred years"
)
NEAR = WORDS.replace("farmer", "miller")
OTHER = "compound interest pays interest on the interest already earned, so savings grow faster every year"
THIRD = "photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaves of plants"


class SampleStore:
    """Just enough of a store: accepted samples in commit order, and a log of the reads."""

    def __init__(self, *texts: tuple[int, str], job: str = "job") -> None:
        self.samples: list[Sample] = []
        self.reads: list[tuple[str, int, int]] = []
        self.delay = 0.0
        for task, text in texts:
            self.add(task, text, job=job)

    def add(self, task: int, text: str, job: str = "job", **content: Any) -> None:
        body = content or {"answer": text}
        seq = len(self.samples) + 1
        self.samples.append(Sample(job, task, body, f"h{seq}", "qa", "1", "mock", "m", 1, seq=seq))

    async def samples_after(self, job: str, seq: int, limit: int) -> list[Sample]:
        self.reads.append((job, seq, limit))
        if self.delay:
            await anyio.sleep(self.delay)
        return [s for s in self.samples if s.job == job and (s.seq or 0) > seq][:limit]


def candidate(task: int, text: str | None = None, **content: Any) -> Candidate:
    generation = Generation(text="", provider="mock", model="m")
    seeded = Task(job="job", seed=TaskSeed(task))
    if text is None and not content:
        return Candidate(seeded, generation)
    return Candidate(seeded, generation, content or {"answer": text})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> SampleStore:
    return SampleStore((3, WORDS), (5, OTHER))


@pytest.fixture
def ctx(vctx: ValidationContext, store: SampleStore) -> ValidationContext:
    return attrs.evolve(vctx, store=store)


def make(context: Any, clock: Clock | None = None, **options: Any) -> NearDupValidator:
    validator = NearDupValidator(NearDupConfig(**options), context)
    validator.clock = clock or Clock()
    return validator


@pytest.mark.anyio
async def test_a_near_copy_of_an_accepted_sample_goes_back_as_feedback(context, ctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await make(context).check(candidate(9, NEAR), ctx)
    assert not verdict.ok
    (issue,) = verdict.issues
    assert issue.code == "near_duplicate"
    assert "accepted sample of task 3" in issue.message and "the limit is 0.80" in issue.message
    assert issue.hint is not None and "take a different angle" in issue.hint
    assert "task 3" in issue.as_feedback()


@pytest.mark.anyio
async def test_something_new_passes_and_blocks_its_near_copies_in_this_process(context, ctx) -> None:  # type: ignore[no-untyped-def]
    validator = make(context)
    assert (await validator.check(candidate(9, THIRD), ctx)).ok
    twin = await validator.check(candidate(10, THIRD.replace("plants", "trees")), ctx)
    assert not twin.ok and "task 9, being accepted now" in twin.issues[0].message
    # The same task trying again is not blocked by its own reservation.
    assert (await validator.check(candidate(9, THIRD), ctx)).ok


@pytest.mark.anyio
async def test_the_index_is_built_in_pages_and_then_caught_up_from_the_last_seq(
    context, ctx, store, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(near_dup, "PAGE", 1)
    clock = Clock()
    validator = make(context, clock)
    assert not (await validator.check(candidate(9, NEAR), ctx)).ok
    assert store.reads == [("job", 0, 1), ("job", 1, 1), ("job", 2, 1)]
    store.reads.clear()
    # Rejections within refresh_s read nothing; a candidate that looks new reads what came since.
    assert not (await validator.check(candidate(9, NEAR), ctx)).ok
    assert store.reads == []
    store.add(12, THIRD)  # accepted by another process meanwhile
    verdict = await validator.check(candidate(9, THIRD.replace("plants", "trees")), ctx)
    assert not verdict.ok and "task 12" in verdict.issues[0].message
    assert store.reads == [("job", 2, 1), ("job", 3, 1)]
    store.reads.clear()
    clock.now += 0.5  # refresh_s later, even a rejection looks at the store first
    assert not (await validator.check(candidate(9, NEAR), ctx)).ok
    assert store.reads == [("job", 3, 1)]


@pytest.mark.anyio
async def test_a_reservation_whose_task_never_reaches_the_store_expires(context, ctx) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    validator = make(context, clock, reserve_s=30.0)
    assert (await validator.check(candidate(9, THIRD), ctx)).ok
    clock.now += 29.0
    assert not (await validator.check(candidate(10, THIRD), ctx)).ok
    clock.now += 1.0
    assert (await validator.check(candidate(10, THIRD), ctx)).ok


@pytest.mark.anyio
async def test_concurrent_near_copies_in_one_process_cannot_both_pass(context, ctx, store) -> None:  # type: ignore[no-untyped-def]
    store.delay = 0.01  # every store read yields to the other check
    validator = make(context)
    verdicts: list[bool] = []

    async def check(task: int, text: str) -> None:
        verdicts.append((await validator.check(candidate(task, text), ctx)).ok)

    async with anyio.create_task_group() as tg:
        tg.start_soon(check, 20, THIRD)
        tg.start_soon(check, 21, THIRD.replace("plants", "trees"))
    assert sorted(verdicts) == [False, True]


@pytest.mark.anyio
async def test_fields_choose_what_is_compared(context, ctx, store) -> None:  # type: ignore[no-untyped-def]
    store.add(7, "", question="What is it?", answer=THIRD)
    same_answer = candidate(9, question="Something else entirely?", answer=THIRD)
    assert not (await make(context, fields=["answer"]).check(same_answer, ctx)).ok
    assert (await make(context, fields=["question"]).check(same_answer, ctx)).ok


@pytest.mark.anyio
async def test_unparsed_or_empty_content_is_not_compared(context, vctx) -> None:  # type: ignore[no-untyped-def]
    # vctx's store fails the test if it is asked anything
    validator = make(context)
    assert (await validator.check(candidate(9), vctx)).ok
    assert (await validator.check(candidate(9, " ... "), vctx)).ok
    assert (await validator.check(candidate(9, score=3), vctx)).ok


@pytest.mark.anyio
async def test_another_job_starts_a_fresh_index(context, ctx, store) -> None:  # type: ignore[no-untyped-def]
    validator = make(context)
    assert not (await validator.check(candidate(9, NEAR), ctx)).ok
    store.add(1, THIRD, job="other")
    other = attrs.evolve(ctx, job="other")
    assert (await validator.check(candidate(9, NEAR), other)).ok
    assert not (await validator.check(candidate(9, THIRD), other)).ok
    assert store.reads[-1] == ("other", 0, near_dup.PAGE)


def test_options_are_checked_with_one_line_naming_the_key() -> None:
    cases = {
        "threshold": (0, "more than 0.0 and less than 1.0"),
        "num_perm": (8, "at least 16"),
        "shingle": (0, "at least 1"),
        "reserve_s": (0, "more than 0.0"),
        "refresh_s": (float("nan"), "at least 0"),
        "fields": ([], "non-empty list"),
    }
    for key, (value, expected) in cases.items():
        with pytest.raises(ConfigError) as caught:
            structure({key: value}, NearDupConfig, source="job.toml", path="$.validators.near_dup")
        assert f"$.validators.near_dup.{key}" in str(caught.value) and expected in str(caught.value)
    config = structure({"threshold": 0.5, "fields": ["answer"]}, NearDupConfig, source="job.toml")
    assert (config.threshold, config.fields, config.num_perm, config.shingle) == (0.5, ["answer"], 128, 3)


def test_a_threshold_too_high_for_the_permutations_says_what_to_change(context) -> None:  # type: ignore[no-untyped-def]
    assert NearDupValidator(NearDupConfig(threshold=0.99, num_perm=512), context).config.threshold == 0.99
    with pytest.raises(PluginError) as caught:
        NearDupValidator(NearDupConfig(threshold=0.99), context)
    assert "threshold 0.99 needs more than num_perm = 128" in str(caught.value)
    assert "lower threshold or raise num_perm" in str(caught.value)
    with pytest.raises(
        ValueError, match=re.escape("'threshold' must be a number more than 0.0 and less than 1.0, got 1.0")
    ):
        NearDupConfig(threshold=1.0)


def test_without_datasketch_the_error_names_the_extra(context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "datasketch", None)
    monkeypatch.delitem(sys.modules, "destilation_validators.near_index", raising=False)
    with pytest.raises(PluginError) as caught:
        NearDupValidator(None, context)
    message = str(caught.value)
    assert "datasketch" in message and "destilation-validators[neardup]" in message
    assert "\n" not in message


def test_registering_the_validators_does_not_import_datasketch() -> None:
    code = (
        "import sys\n"
        "from destilation_validators import plugin\n"
        "plugin.register_validators(lambda name, factory, config=None: None)\n"
        "print('datasketch' in sys.modules, 'numpy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
