"""The `moe` mode's own checks: labels come from the declared experts, every expert answered, a final answer.

Each broken rule is one issue whose code names it, with a hint the next attempt's prompt carries.
Content that is not a JSON object is left to the template's `json_schema` validator to report.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from destilation import Candidate, Issue, ValidationContext, Verdict

UNKNOWN = "moe_unknown_expert"
DUPLICATE = "moe_duplicate_expert"
MISSING = "moe_missing_expert"
NO_ANSWER = "moe_no_answer"


def _content(candidate: Candidate) -> Any:
    if candidate.parsed:
        return candidate.content
    try:
        return json.loads(candidate.generation.text)
    except ValueError:
        return None


def _said(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


@attrs.define  # not frozen: the Validator protocol's `name` is a plain attribute
class MoeRules:
    """Checks a moe sample against the job's declared experts (their names, in declaration order)."""

    experts: tuple[str, ...]
    name: str = "moe_rules"

    def _hint(self) -> str:
        return f"use only these expert names: {', '.join(self.experts)}"

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        content = _content(candidate)
        if not isinstance(content, dict):
            return Verdict()
        issues = [*self._domain(content), *self._answers(content)]
        if not _said(content.get("answer")):
            issues.append(
                Issue(NO_ANSWER, "the final answer is missing or empty", "$.answer", "merge the experts' answers")
            )
        return Verdict(issues=tuple(issues))

    def _domain(self, content: dict[str, Any]) -> list[Issue]:
        domain = content.get("domain")
        if isinstance(domain, str) and domain in self.experts:
            return []
        shown = json.dumps(domain, ensure_ascii=False) if "domain" in content else "missing"
        return [Issue(UNKNOWN, f"the domain label {shown} is not a declared expert", "$.domain", self._hint())]

    def _answers(self, content: dict[str, Any]) -> list[Issue]:
        entries = content.get("experts")
        if not isinstance(entries, list):
            entries = []
        issues: list[Issue] = []
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            where = f"$.experts[{index}]"
            label = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(label, str) or label not in self.experts:
                shown = json.dumps(label, ensure_ascii=False)
                issues.append(
                    Issue(UNKNOWN, f"expert label {shown} is not a declared expert", f"{where}.name", self._hint())
                )
                continue
            if label in seen:
                issues.append(
                    Issue(DUPLICATE, f"expert {label} answers twice", f"{where}.name", "one answer per expert")
                )
                continue
            seen.add(label)
            if not _said(entry.get("answer")):
                hint = f"the {label} expert must answer the request"
                issues.append(Issue(MISSING, f"expert {label} gave no answer", f"{where}.answer", hint))
        for label in self.experts:
            if label not in seen:
                hint = f"the {label} expert must answer the request"
                issues.append(Issue(MISSING, f"expert {label} did not answer", "$.experts", hint))
        return issues
