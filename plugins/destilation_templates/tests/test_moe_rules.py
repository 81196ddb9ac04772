"""`moe_rules`: labels from the declared experts, every expert answered, a final answer; one code per rule."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import Candidate, Generation, Task, TaskSeed, ValidationContext
from destilation.testing import MemoryStore
from destilation_templates.builtin import MOE
from destilation_templates.moe_rules import DUPLICATE, MISSING, NO_ANSWER, UNKNOWN, MoeRules

RULES = MoeRules(("physicist", "chemist"))
CONTEXT = ValidationContext("job", MOE, MemoryStore("memory://"), lambda content: "")


def good(**changes: Any) -> dict[str, Any]:
    content = {
        "question": "Why does iron rust?",
        "domain": "chemist",
        "experts": [{"name": "physicist", "answer": "Energy."}, {"name": "chemist", "answer": "Oxidation."}],
        "answer": "Iron reacts with oxygen and water.",
    }
    content.update(changes)
    return content


def check(content: Any, parsed: bool = True) -> list[tuple[str, str]]:
    candidate = Candidate(Task("job", TaskSeed(0)), Generation(json.dumps(content), "p", "m"))
    if parsed:
        candidate = Candidate(candidate.task, candidate.generation, content)
    verdict = anyio.run(RULES.check, candidate, CONTEXT)
    for issue in verdict.issues:
        assert issue.hint, issue
    return [(issue.code, issue.path) for issue in verdict.issues]


def test_a_good_sample_passes_parsed_or_not() -> None:
    assert check(good()) == []
    assert check(good(), parsed=False) == []


def test_text_that_is_not_json_is_left_to_the_schema_validator() -> None:
    candidate = Candidate(Task("job", TaskSeed(0)), Generation("Sure! Here it is.", "p", "m"))
    assert anyio.run(RULES.check, candidate, CONTEXT).ok
    assert check(["not", "an", "object"]) == []


@pytest.mark.parametrize("domain", ["biologist", "", 3, None])
def test_the_domain_label_is_a_declared_expert(domain: Any) -> None:
    assert check(good(domain=domain)) == [(UNKNOWN, "$.domain")]


def test_a_missing_domain_says_so() -> None:
    content = good()
    del content["domain"]
    candidate = Candidate(Task("job", TaskSeed(0)), Generation("", "p", "m"), content)
    (issue,) = anyio.run(RULES.check, candidate, CONTEXT).issues
    assert issue.message == "the domain label missing is not a declared expert"
    assert "physicist, chemist" in (issue.hint or "")


def test_an_expert_label_nobody_declared() -> None:
    experts = [*good()["experts"], {"name": "biologist", "answer": "Cells."}]
    assert check(good(experts=experts)) == [(UNKNOWN, "$.experts[2].name")]
    assert check(good(experts=[*good()["experts"], "chemist"])) == [(UNKNOWN, "$.experts[2].name")]


def test_an_expert_that_answers_twice() -> None:
    experts = [*good()["experts"], {"name": "chemist", "answer": "Again."}]
    assert check(good(experts=experts)) == [(DUPLICATE, "$.experts[2].name")]


def test_every_declared_expert_answers() -> None:
    assert check(good(experts=[{"name": "chemist", "answer": "Oxidation."}])) == [(MISSING, "$.experts")]
    assert check(good(experts=[])) == [(MISSING, "$.experts"), (MISSING, "$.experts")]
    assert check(good(experts="none")) == [(MISSING, "$.experts"), (MISSING, "$.experts")]


@pytest.mark.parametrize("answer", ["", "   ", None, 5])
def test_an_empty_expert_answer_counts_as_silence(answer: Any) -> None:
    experts = [{"name": "physicist", "answer": answer}, {"name": "chemist", "answer": "Oxidation."}]
    assert check(good(experts=experts)) == [(MISSING, "$.experts[0].answer")]


@pytest.mark.parametrize("answer", ["", " \n", None, ["a"]])
def test_the_final_answer_is_present(answer: Any) -> None:
    assert check(good(answer=answer)) == [(NO_ANSWER, "$.answer")]


def test_every_broken_rule_is_reported_at_once() -> None:
    content = good(domain="x", experts=[{"name": "chemist", "answer": ""}], answer="")
    assert check(content) == [
        (UNKNOWN, "$.domain"),
        (MISSING, "$.experts[0].answer"),
        (MISSING, "$.experts"),
        (NO_ANSWER, "$.answer"),
    ]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
NAMES = st.sampled_from(["physicist", "chemist", "biologist", ""])
ENTRY = st.fixed_dictionaries({"name": NAMES | JSON, "answer": st.text(max_size=5) | JSON})


@given(
    domain=NAMES | JSON,
    experts=st.lists(ENTRY | JSON, max_size=4) | JSON,
    answer=st.text(max_size=5) | JSON,
)
def test_any_content_gets_a_verdict_and_only_the_rules_codes(domain: Any, experts: Any, answer: Any) -> None:
    found = check({"domain": domain, "experts": experts, "answer": answer})
    assert {code for code, _ in found} <= {UNKNOWN, DUPLICATE, MISSING, NO_ANSWER}
    answered = isinstance(experts, list) and all(
        any(isinstance(e, dict) and e.get("name") == n and isinstance(e.get("answer"), str) and e["answer"].strip()
            for e in experts)
        for n in RULES.experts
    )  # fmt: skip
    if not answered:
        assert any(code == MISSING for code, _ in found)
    if domain not in RULES.experts:
        assert (UNKNOWN, "$.domain") in found
