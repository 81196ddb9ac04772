"""The exact_dedup validator asks the store whether the content's fingerprint is taken."""

from __future__ import annotations

import attrs
import pytest

from destilation import ValidationContext
from destilation_validators.exact_dedup import ExactDedupValidator


class HashStore:
    """Just enough of a store: a set of (job, content hash) pairs."""

    def __init__(self, *taken: tuple[str, str]) -> None:
        self.taken = set(taken)
        self.asked: list[tuple[str, str]] = []

    async def has_content_hash(self, job: str, content_hash: str) -> bool:
        self.asked.append((job, content_hash))
        return (job, content_hash) in self.taken


@pytest.fixture
def dedup_ctx(vctx: ValidationContext) -> ValidationContext:
    store = HashStore(("job", "hash:taken"))
    return attrs.evolve(vctx, store=store, fingerprint=lambda content: f"hash:{content['k']}")


@pytest.mark.anyio
async def test_a_taken_fingerprint_is_a_duplicate(context, candidate, dedup_ctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await ExactDedupValidator(None, context).check(candidate(content={"k": "taken"}), dedup_ctx)
    assert not verdict.ok
    (issue,) = verdict.issues
    assert issue.code == "duplicate"
    assert issue.hint is not None and "different" in issue.hint
    assert dedup_ctx.store.asked == [("job", "hash:taken")]


@pytest.mark.anyio
async def test_a_new_fingerprint_passes(context, candidate, dedup_ctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await ExactDedupValidator(None, context).check(candidate(content={"k": "new"}), dedup_ctx)
    assert verdict.ok and verdict.issues == ()


@pytest.mark.anyio
async def test_the_job_scopes_the_lookup(context, candidate, dedup_ctx) -> None:  # type: ignore[no-untyped-def]
    other_job = attrs.evolve(dedup_ctx, job="other")
    verdict = await ExactDedupValidator(None, context).check(candidate(content={"k": "taken"}), other_job)
    assert verdict.ok


@pytest.mark.anyio
async def test_unparsed_candidates_are_not_looked_up(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    # vctx's store fails the test if it is asked anything
    verdict = await ExactDedupValidator(None, context).check(candidate('{"k": 1}'), vctx)
    assert verdict.ok
