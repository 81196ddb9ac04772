"""The `near_dup` validator: tell the model its sample is too close to one the job already has.

Exact dedup misses a sample that differs by a word; this check compares word shingles of the
normalised text through MinHash and LSH (datasketch) and turns a near-copy into feedback that
names the accepted sample it resembles, so the next attempt takes a different angle.

The index is built from the store's accepted samples on first use and caught up from the last
sequence number seen, so it survives resume and sees what other processes of the job accepted.
Within a process a passing candidate is reserved at once (see `near_index`). Two processes
can still accept near-copies of each other in the same instant: each checked before the other's
sample was stored. The README says what would close that gap.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from destilation import Candidate, Issue, PluginContext, PluginError, ValidationContext, Verdict
from destilation_validators.shingles import content_text, shingles

if TYPE_CHECKING:
    from destilation_validators.near_index import Match, NearIndex

EXTRA_HINT = "pip install 'destilation-validators[neardup]'"
PAGE = 500
"""Samples read per store call while building or catching up the index."""


def _between(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not number or not low <= value <= high or (open_low and value == low) or (open_high and value == high):
            above = f"more than {low}" if open_low else f"at least {low}"
            below = f"less than {high}" if open_high else f"at most {high}"
            raise ValueError(f"'{attribute.name}' must be a number {above} and {below}, got {value!r}")

    return check


def _fields(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not value or not all(isinstance(f, str) and f for f in value)):
        raise ValueError(f"'fields' must be a non-empty list of top-level field names, got {value!r}")


@attrs.frozen
class NearDupConfig:
    """How similar is too similar, and how the text is cut up before comparing."""

    threshold: float = attrs.field(default=0.8, validator=_between(0.0, 1.0, open_low=True, open_high=True))
    """Estimated Jaccard similarity of the shingle sets at which a candidate is a near-duplicate.

    Below 1: an exact copy is `exact_dedup`'s to refuse. The higher it is, the more permutations
    the LSH index needs (0.99 needs more than 128).
    """
    num_perm: int = attrs.field(default=128, validator=_between(16, 1024))
    """MinHash permutations: more is a finer estimate and costs more CPU and memory per sample."""
    shingle: int = attrs.field(default=3, validator=_between(1, 32))
    """Words per shingle."""
    fields: list[str] | None = attrs.field(default=None, validator=_fields)
    """Top-level content fields to compare; all string values when not set."""
    refresh_s: float = attrs.field(default=0.5, validator=_between(0.0, 3600.0))
    """Catch up with the store at most this often while candidates are rejected."""
    reserve_s: float = attrs.field(default=120.0, validator=_between(0.0, 86400.0, open_low=True))
    """How long a passing candidate blocks near-copies before its sample is seen in the store."""


def _near_index(config: NearDupConfig) -> NearIndex:
    try:
        from destilation_validators.near_index import NearIndex
    except ImportError as exc:
        raise PluginError(f"validator 'near_dup' needs the datasketch package ({exc}): {EXTRA_HINT}") from None
    try:
        return NearIndex(config.threshold, config.num_perm)
    except ValueError as exc:  # datasketch: too few permutations to band at this threshold
        raise PluginError(
            f"validator 'near_dup': threshold {config.threshold} needs more than num_perm = {config.num_perm} "
            f"permutations ({exc}): lower threshold or raise num_perm"
        ) from None


def near_issue(match: Match, threshold: float) -> Issue:
    """The feedback: which sample it resembles, how much, and what to do instead."""
    which = f"task {match.task_index}" if match.stored else f"task {match.task_index}, being accepted now"
    return Issue(
        "near_duplicate",
        f"too similar to the accepted sample of {which}: similarity {match.similarity:.2f}, "
        f"the limit is {threshold:.2f}",
        hint="too similar to an accepted sample; take a different angle: another aspect, other examples, other wording",
    )


class NearDupValidator:
    """Refuses content whose shingles mostly match those of a sample the job has accepted."""

    name = "near_dup"

    def __init__(self, config: NearDupConfig | None, context: PluginContext) -> None:
        del context  # the index is read from the store each check is given
        self.config = config = config or NearDupConfig()
        self._size = config.shingle
        self._index = _near_index(config)
        self.clock = time.monotonic
        self._job: str | None = None
        self._seq = 0
        self._caught_up_at = -math.inf
        self._lock: anyio.Lock | None = None  # made in the event loop that uses it (workers fork)

    async def check(self, candidate: Candidate, vctx: ValidationContext) -> Verdict:
        if not candidate.parsed:
            return Verdict()
        grams = shingles(content_text(candidate.content, self.config.fields), self._size)
        if not grams:
            return Verdict()
        signature = self._index.signature(grams)  # the CPU part, outside the lock
        task = candidate.task.index
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            fresh = False
            if self._job != vctx.job or self.clock() - self._caught_up_at >= self.config.refresh_s:
                await self._catch_up(vctx)
                fresh = True
            match = self._index.closest(signature, task, self.clock())
            if match is None and not fresh:
                # It looks new: make sure no other process accepted its twin since the last look.
                await self._catch_up(vctx)
                match = self._index.closest(signature, task, self.clock())
            if match is not None:
                return Verdict(issues=(near_issue(match, self._index.threshold),))
            self._index.reserve(task, signature, self.clock() + self.config.reserve_s)
        return Verdict()

    async def _catch_up(self, vctx: ValidationContext) -> None:
        """Read the samples committed since the last one seen, a page at a time."""
        if self._job != vctx.job:  # one validator serves one job; start over if handed another
            self._index = _near_index(self.config)
            self._job, self._seq = vctx.job, 0
        while True:
            page = await vctx.store.samples_after(vctx.job, self._seq, PAGE)
            for sample in page:
                grams = shingles(content_text(sample.content, self.config.fields), self._size)
                if grams:
                    self._index.add_stored(sample.task_index, self._index.signature(grams))
                self._seq = max(self._seq, sample.seq or 0)
            if len(page) < PAGE:
                break
        self._caught_up_at = self.clock()
