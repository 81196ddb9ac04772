"""The json_schema validator: safe parse, schema check with actionable issues, one compile per template."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from destilation import PluginContext, PluginError, Template
from destilation_validators import json_schema
from destilation_validators.json_schema import JsonSchemaConfig, JsonSchemaValidator

GOOD = '{"question": "What is the boiling point of water?", "answer": "100 °C at sea level."}'


@pytest.fixture
def validator(context: PluginContext) -> JsonSchemaValidator:
    return JsonSchemaValidator(JsonSchemaConfig(), context)


@pytest.mark.anyio
async def test_valid_answer_hands_on_its_parsed_content(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate(GOOD), vctx)
    assert verdict.ok and not verdict.issues
    assert verdict.content == {"question": "What is the boiling point of water?", "answer": "100 °C at sea level."}


@pytest.mark.anyio
async def test_fenced_answer_is_accepted(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate(f"```json\n{GOOD}\n```"), vctx)
    assert verdict.ok and verdict.content["answer"] == "100 °C at sea level."


@pytest.mark.anyio
async def test_already_parsed_content_is_checked_without_reparsing(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    content = {"question": "A question long enough?", "answer": "Yes."}
    verdict = await validator.check(candidate("not json at all", content=content), vctx)
    assert verdict.ok
    assert verdict.content is content  # no copy


@pytest.mark.anyio
async def test_unsafe_text_reports_the_parser_issue(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate('{"question": NaN}'), vctx)
    assert not verdict.ok and not verdict.has_content
    assert [i.code for i in verdict.issues] == ["non_finite_number"]


@pytest.mark.anyio
async def test_limits_come_from_the_config(context, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    small = JsonSchemaValidator(JsonSchemaConfig(max_bytes=10, max_depth=1), context)
    assert (await small.check(candidate(GOOD), vctx)).issues[0].code == "too_large"
    shallow = JsonSchemaValidator(JsonSchemaConfig(max_depth=1), context)
    assert (await shallow.check(candidate('{"question": [[1]]}'), vctx)).issues[0].code == "too_deep"


@pytest.mark.anyio
async def test_schema_errors_become_issues_with_paths_and_hints(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate('{"question": "Short", "extra": 1}'), vctx)
    assert not verdict.ok
    assert verdict.content == {"question": "Short", "extra": 1}  # parsed, handed on for later checks
    found = {(i.code, i.path, i.message): i.hint for i in verdict.issues}
    assert found == {
        ("schema", "$.question", "'Short' is too short"): (
            "Make this text at least 10 characters long, with real content."
        ),
        ("schema", "$", "'answer' is a required property"): 'Add the missing field "answer".',
        ("schema", "$", "Additional properties are not allowed ('extra' was unexpected)"): (
            'Remove every field the schema does not define; the allowed fields are "question", "answer".'
        ),
    }


@pytest.mark.anyio
async def test_wrong_top_level_type(validator, candidate, vctx) -> None:  # type: ignore[no-untyped-def]
    verdict = await validator.check(candidate('["a list"]'), vctx)
    assert [(i.path, i.hint) for i in verdict.issues] == [("$", "Use an object here.")]


@pytest.mark.anyio
async def test_issues_are_capped(context, candidate, template, vctx) -> None:  # type: ignore[no-untyped-def]
    many = attrs.evolve(template, id="many", schema={"type": "array", "items": {"type": "string"}})
    validator = JsonSchemaValidator(JsonSchemaConfig(max_issues=3), context)
    verdict = await validator.check(candidate("[1, 2, 3, 4, 5, 6]"), attrs.evolve(vctx, template=many))
    assert [i.path for i in verdict.issues] == ["$[0]", "$[1]", "$[2]", "$"]
    assert verdict.issues[-1].message == "3 more schema errors are not listed"


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = json_schema.compile_schema

    def counting(template: Template) -> Any:
        calls.append(template.id)
        return real(template)

    monkeypatch.setattr(json_schema, "compile_schema", counting)
    return calls


@pytest.mark.anyio
async def test_schema_is_compiled_once_per_template_version(  # type: ignore[no-untyped-def]
    validator, candidate, vctx, template, monkeypatch
) -> None:
    calls = _counting(monkeypatch)
    for _ in range(5):
        await validator.check(candidate(GOOD), vctx)
    # an equal template object (as a reloaded job would build) reuses the compiled schema too
    same = attrs.evolve(template, schema=dict(template.schema))
    await validator.check(candidate(GOOD), attrs.evolve(vctx, template=same))
    assert calls == ["qa"]
    other = attrs.evolve(template, version="2")
    await validator.check(candidate(GOOD), attrs.evolve(vctx, template=other))
    assert calls == ["qa", "qa"]


@pytest.mark.anyio
async def test_an_edited_schema_under_the_same_version_is_recompiled(  # type: ignore[no-untyped-def]
    validator, candidate, vctx, template, monkeypatch
) -> None:
    calls = _counting(monkeypatch)
    await validator.check(candidate(GOOD), vctx)
    edited = attrs.evolve(template, schema={**template.schema, "maxProperties": 1})
    verdict = await validator.check(candidate(GOOD), attrs.evolve(vctx, template=edited))
    assert calls == ["qa", "qa"]
    assert [i.hint for i in verdict.issues] == ["Give at most 1 fields."]


@pytest.mark.anyio
async def test_invalid_template_schema_is_a_plugin_error_naming_the_template(  # type: ignore[no-untyped-def]
    validator, candidate, vctx, template
) -> None:
    broken = attrs.evolve(template, id="broken", schema={"type": "strnig"})
    with pytest.raises(PluginError, match=r"template 'broken' \(version 1\): its JSON schema is invalid at \$\.type"):
        await validator.check(candidate(GOOD), attrs.evolve(vctx, template=broken))


@pytest.mark.anyio
async def test_unknown_metaschema_is_a_plugin_error(validator, candidate, vctx, template) -> None:  # type: ignore[no-untyped-def]
    odd = attrs.evolve(template, schema={"$schema": "https://example.invalid/schema", "type": "object"})
    with pytest.raises(PluginError, match=r"names an unknown \$schema 'https://example.invalid/schema'"):
        await validator.check(candidate(GOOD), attrs.evolve(vctx, template=odd))


@pytest.mark.anyio
async def test_declared_draft_and_formats_are_honoured(validator, candidate, vctx, template) -> None:  # type: ignore[no-untyped-def]
    draft7 = attrs.evolve(
        template,
        id="d7",
        schema={
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"when": {"type": "string", "format": "date"}},
        },
    )
    ctx = attrs.evolve(vctx, template=draft7)
    assert (await validator.check(candidate('{"when": "2024-02-29"}'), ctx)).ok
    verdict = await validator.check(candidate('{"when": "yesterday"}'), ctx)
    assert [(i.path, i.hint) for i in verdict.issues] == [("$.when", "Write a valid date here.")]


def test_config_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        JsonSchemaConfig(max_depth=0)
