"""The template format: rendering prompts with feedback, and custom templates from TOML files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from destilation.domain import Issue, TaskSeed
from destilation.errors import ConfigError
from destilation.templates import FewShot, Template, load_template_file, schema_error

TEMPLATE = Template(
    id="t",
    version="2",
    mode="custom",
    schema={"type": "object", "required": ["x"]},
    system_prompt="Be precise.",
    user_prompt="Explain {topic} to {persona} (#{index}).",
    few_shot=(FewShot({"topic": "rain", "persona": "a child"}, {"x": "water falls"}),),
)


def test_render_puts_schema_few_shot_and_seed_variables_in_order() -> None:
    messages = TEMPLATE.render(TaskSeed(4, {"topic": "tides"}))
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0].content.startswith("Be precise.")
    assert json.dumps(TEMPLATE.schema, separators=(",", ":")) in messages[0].content
    assert messages[1].content == "Explain rain to a child (#{index})."
    assert json.loads(messages[2].content) == {"x": "water falls"}
    assert messages[3].content == "Explain tides to {persona} (#4)."
    assert TEMPLATE.fields() == ["topic", "persona", "index"]


def test_render_with_feedback_lists_every_issue() -> None:
    issues = (Issue("schema", "x is required", "$.x", hint="add x"), Issue("too_short", "short"))
    last = TEMPLATE.render(TaskSeed(0, row={"topic": "bees"}), issues)[-1]
    assert last.role == "user"
    assert "- [schema] at $.x: x is required (hint: add x)" in last.content
    assert "- [too_short] at $: short" in last.content


def test_custom_template_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'id = "mine"\nuser_prompt = "About {topic}"\nmode = "custom"\n'
        '[schema]\ntype = "object"\nrequired = ["x"]\n'
        '[[few_shot]]\nvariables = { topic = "rain" }\noutput = { x = "wet" }\n',
        encoding="utf-8",
    )
    template = load_template_file(str(path))
    assert (template.id, template.version, template.mode) == ("mine", "1", "custom")
    assert template.schema == {"type": "object", "required": ["x"]}
    assert template.few_shot == (FewShot({"topic": "rain"}, {"x": "wet"}),)
    assert template.default_validators == ("truncation", "json_schema", "exact_dedup")


def test_custom_template_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('id = "b"\nuser_prompt = "x"\nmode = [\"poetry\"]\n[schema]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: \$\.mode: expected a string, got a list"):
        load_template_file(str(path))
    path.write_text('id = "b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"required key missing"):
        load_template_file(str(path))


@pytest.mark.parametrize(
    ("schema", "where", "message"),
    [
        ('type = "objekt"\n', r"\$\.schema\.type", "not a valid JSON schema: 'objekt' is not valid"),
        ('type = "object"\nrequired = "x"\n', r"\$\.schema\.required", "not a valid JSON schema: 'x' is not of type"),
        ('"$schema" = "https://example.org/no-such-draft"\n', r"\$\.schema\.\$schema", "unknown JSON schema dialect"),
    ],
)
def test_a_custom_template_whose_schema_breaks_its_metaschema_is_refused_at_the_key(
    tmp_path: Path, schema: str, where: str, message: str
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(f'id = "mine"\nuser_prompt = "x"\n[schema]\n{schema}', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"mine\.toml: {where}: {message}"):
        load_template_file(str(path))


def test_schema_error_is_none_for_a_valid_schema_and_names_the_path_below_it_otherwise() -> None:
    assert schema_error({"type": "object", "properties": {"x": {"type": "string"}}}) is None
    assert schema_error({"properties": {"x": {"type": 3}}}) == (
        ".properties.x.type",
        "not a valid JSON schema: 3 is not valid under any of the given schemas",
    )


def test_a_plugin_template_whose_schema_is_invalid_is_refused_at_the_job_template_key() -> None:
    from destilation import hookimpl
    from destilation.config import JobSpec
    from destilation.engine.wiring import resolve_template
    from destilation.plugins import make_plugin_manager
    from destilation.registry import collect

    broken = Template("broken", "1", "custom", {"type": "objekt"}, "s", "u")

    class Plugin:
        @hookimpl
        def register_templates(self, register) -> None:  # type: ignore[no-untyped-def]
            register("broken", broken)
            register("fine", TEMPLATE)

    registry = collect(make_plugin_manager(load=False, extra=[Plugin()]))
    assert resolve_template(JobSpec(name="j", template="fine"), registry, "job.toml") is TEMPLATE
    with pytest.raises(ConfigError) as info:
        resolve_template(JobSpec(name="j", template="broken"), registry, "job.toml")
    assert str(info.value).startswith(
        "job.toml: $.template: template 'broken': schema.type: not a valid JSON schema: 'objekt' is not valid"
    )
