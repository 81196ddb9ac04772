"""The `rules` validator: length limits, required patterns and forbidden phrases set by the user.

It looks at parsed content only; text that did not parse is the `json_schema` validator's to
report. Lengths and patterns address top-level fields; forbidden phrases are searched in every
string of the content.
"""

from __future__ import annotations

import re

import attrs

from destilation import Candidate, Issue, PluginContext, PluginError, ValidationContext, Verdict
from destilation_validators.jsonpath import child, strings
from destilation_validators.text import quote


@attrs.frozen
class RulesConfig:
    """Per-field rules, fields named by their top-level key."""

    min_length: dict[str, int] = attrs.field(factory=dict)
    """Fewest characters a string field must have, not counting surrounding whitespace."""
    max_length: dict[str, int] = attrs.field(factory=dict)
    """Most characters a string field may have, not counting surrounding whitespace."""
    regex: dict[str, str] = attrs.field(factory=dict)
    """A regular expression each string field must match somewhere (anchor it to match all)."""
    forbidden: list[str] = attrs.field(factory=list)
    """Phrases no string may contain, matched ignoring case and runs of whitespace."""


def _compile_patterns(regex: dict[str, str]) -> dict[str, re.Pattern[str]]:
    compiled: dict[str, re.Pattern[str]] = {}
    for field, pattern in regex.items():
        try:
            compiled[field] = re.compile(pattern)
        except re.error as exc:
            raise PluginError(
                f"validator 'rules': regex for field {field!r} is not a valid regular expression: {exc}"
            ) from None
    return compiled


def _compile_forbidden(phrases: list[str]) -> re.Pattern[str] | None:
    parts = []
    for phrase in phrases:
        words = phrase.split()
        if not words:
            raise PluginError("validator 'rules': forbidden phrases must not be empty")
        parts.append(r"\s+".join(re.escape(word) for word in words))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _check_lengths(name: str, limits: dict[str, int]) -> None:
    for field, limit in limits.items():
        if limit < 0:
            raise PluginError(f"validator 'rules': {name} for field {field!r} must not be negative (got {limit})")


class RulesValidator:
    """Checks user-set limits on parsed content."""

    name = "rules"

    def __init__(self, config: RulesConfig | None, context: PluginContext) -> None:
        self.config = config = config or RulesConfig()
        _check_lengths("min_length", config.min_length)
        _check_lengths("max_length", config.max_length)
        self._patterns = _compile_patterns(config.regex)
        self._forbidden = _compile_forbidden(config.forbidden)

    async def check(self, candidate: Candidate, vctx: ValidationContext) -> Verdict:
        if not candidate.parsed:
            return Verdict()
        content = candidate.content
        issues: list[Issue] = []
        if isinstance(content, dict):
            issues.extend(self._field_issues(content))
        if self._forbidden is not None:
            for path, text in strings(content):
                found = self._forbidden.search(text)
                if found is not None:
                    issues.append(
                        Issue(
                            "forbidden_phrase",
                            f"contains the forbidden phrase {quote(found.group())}",
                            path,
                            hint="Remove it and write the content directly, without remarks about yourself.",
                        )
                    )
        return Verdict(issues=tuple(issues))

    def _field_issues(self, content: dict[str, object]) -> list[Issue]:
        issues: list[Issue] = []
        config = self.config
        for field, limit in config.min_length.items():
            value = content.get(field)
            if isinstance(value, str) and len(value.strip()) < limit:
                issues.append(
                    Issue(
                        "too_short",
                        f"is {len(value.strip())} characters long; it must have at least {limit}",
                        child("$", field),
                        hint=f"Expand it to at least {limit} characters with substance, not filler.",
                    )
                )
        for field, limit in config.max_length.items():
            value = content.get(field)
            if isinstance(value, str) and len(value.strip()) > limit:
                issues.append(
                    Issue(
                        "too_long",
                        f"is {len(value.strip())} characters long; it may have at most {limit}",
                        child("$", field),
                        hint=f"Cut it to at most {limit} characters, keeping what matters.",
                    )
                )
        for field, pattern in self._patterns.items():
            value = content.get(field)
            if isinstance(value, str) and pattern.search(value) is None:
                issues.append(
                    Issue(
                        "pattern",
                        f"does not match the required pattern {quote(pattern.pattern, 120)}",
                        child("$", field),
                        hint="Rewrite this field in the form the pattern describes.",
                    )
                )
        return issues
