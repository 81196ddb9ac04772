"""A validator that wants at least `words` words in one string field of the content."""

from __future__ import annotations

from typing import Any

import attrs

from destilation import Candidate, Issue, PluginContext, ValidationContext, Verdict


@attrs.frozen
class MinWordsConfig:
    field: str = "answer"
    words: int = 3


class MinWords:
    name = "min_words"

    def __init__(self, config: MinWordsConfig, context: PluginContext) -> None:
        self.config = config

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        content: Any = candidate.content if candidate.parsed else {}
        value = content.get(self.config.field, "") if isinstance(content, dict) else ""
        count = len(str(value).split())
        if count >= self.config.words:
            return Verdict()
        return Verdict(
            issues=(
                Issue(
                    "too_few_words",
                    f"{self.config.field} has {count} words; at least {self.config.words} are needed",
                    path=f"$.{self.config.field}",
                    hint="give a fuller answer",
                ),
            )
        )
