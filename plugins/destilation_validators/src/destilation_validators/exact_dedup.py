"""The `exact_dedup` validator: tell the model early that its sample is already in the dataset.

The store's unique key on (job, content hash) is the real guard; this check turns a duplicate
into feedback for the next attempt instead of a silently dropped sample.
"""

from __future__ import annotations

from destilation import Candidate, Issue, PluginContext, ValidationContext, Verdict

_DUPLICATE = Issue(
    "duplicate",
    "this sample is the same as one already accepted in this job",
    hint="Write a different sample: another aspect of the topic, other examples, other wording.",
)


class ExactDedupValidator:
    """Refuses content whose fingerprint the job already holds."""

    name = "exact_dedup"

    def __init__(self, config: None, context: PluginContext) -> None:
        del config, context  # nothing to configure

    async def check(self, candidate: Candidate, vctx: ValidationContext) -> Verdict:
        if not candidate.parsed:
            return Verdict()
        key = vctx.fingerprint(candidate.content)
        if await vctx.store.has_content_hash(vctx.job, key):
            return Verdict(issues=(_DUPLICATE,))
        return Verdict()
