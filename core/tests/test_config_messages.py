"""Config errors say what was expected: a literal's choices, and a list where a string was given."""

from __future__ import annotations

from typing import Any, Literal

import attrs
import pytest

from destilation.config import JobSpec, ProviderSpec, structure
from destilation.errors import ConfigError


@attrs.frozen
class Shape:
    mode: Literal["a", "b", 3] = "a"
    numbers: list[int] = attrs.field(factory=list)
    anything: list[Any] = attrs.field(factory=list)
    bare: list = attrs.field(factory=list)  # type: ignore[type-arg]
    shapes: list[ProviderSpec] = attrs.field(factory=list)


def message(value: Any, cls: type = Shape) -> str:
    with pytest.raises(ConfigError) as info:
        structure(value, cls, source="job.toml")
    return str(info.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("random", '"random"'), (True, "true"), (False, "false"), (1.5, "1.5"), ({"x": 1}, "a table"), (["a"], "a list")],
)
def test_a_literal_names_its_choices_and_what_it_got(value: Any, shown: str) -> None:
    assert message({"mode": value}) == f'job.toml: $.mode: expected one of "a", "b", 3, got {shown}'


def test_a_literal_matches_by_type_too() -> None:
    assert structure({"mode": 3}, Shape, source="j").mode == 3
    assert "got 3.0" in message({"mode": 3.0})
    assert message({"name": "j", "sampling": "random"}, JobSpec) == (
        'job.toml: $.sampling: expected one of "cartesian", "sampled", got "random"'
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [("optics", "a string"), (3, "an integer"), (2.5, "a number"), (True, "a boolean"), ({"a": 1}, "a table")],
)
def test_a_list_is_never_made_from_something_else(value: Any, kind: str) -> None:
    assert message({"numbers": value}) == f"job.toml: $.numbers: expected a list of integers, got {kind}"
    assert message({"shapes": value}) == f"job.toml: $.shapes: expected a list, got {kind}"


def test_list_items_are_structured_and_a_bad_one_is_named_by_index() -> None:
    shape = structure({"numbers": (1, 2), "anything": ["x", 1], "bare": [None]}, Shape, source="j")
    assert (shape.numbers, shape.anything, shape.bare) == ([1, 2], ["x", 1], [None])
    assert message({"numbers": [1, "two", "three"]}).startswith("job.toml: $.numbers[1]: ")
    assert "(and 1 more)" in message({"numbers": [1, "two", "three"]})
    assert message({"shapes": [{"kind": "mock"}, {"kind": "mock", "concurrency": 0}]}).startswith(
        "job.toml: $.shapes[1].concurrency: "
    )
    assert message({"bare": "xs"}) == "job.toml: $.bare: expected a list, got a string"
    assert message({"anything": object()}).startswith("job.toml: $.anything: expected a list, got a object")


def test_axes_and_provider_capabilities_refuse_a_string() -> None:
    assert message({"name": "j", "axes": {"topic": "optics"}}, JobSpec) == (
        "job.toml: $.axes.topic: expected a list of strings, got a string"
    )
    spec = {"name": "j", "providers": {"t": {"kind": "mock", "capabilities": "json_schema"}}}
    assert message(spec, JobSpec) == "job.toml: $.providers.t.capabilities: expected a list of strings, got a string"


@attrs.frozen
class Inner:
    depth: int = 0


@attrs.frozen
class Outer:
    inner: Inner | None = None
    required: Inner = attrs.field(factory=Inner)


@pytest.mark.parametrize("value", ["low", 5, ["depth"], True])
def test_a_table_given_something_else_says_a_table_was_expected(value: Any) -> None:
    assert message({"inner": value}, Outer) == "job.toml: $.inner: expected a table"
    assert message({"required": value}, Outer) == "job.toml: $.required: expected a table"
    assert structure({"inner": {"depth": 2}}, Outer, source="j").inner == Inner(2)


@attrs.frozen
class Counts:
    count: int = 1
    limit: int | None = None
    on: bool = False


@pytest.mark.parametrize(("value", "shown"), [(2.5, "2.5"), (True, "true"), (float("nan"), "NaN")])
def test_an_integer_is_never_made_from_a_fraction_or_a_boolean(value: Any, shown: str) -> None:
    assert message({"count": value}, Counts) == f"job.toml: $.count: expected an integer, got {shown}"
    assert message({"limit": value}, Counts) == f"job.toml: $.limit: expected an integer, got {shown}"
    assert structure({"count": 4.0, "limit": "7"}, Counts, source="j") == Counts(4, 7)


@pytest.mark.parametrize(("value", "kind"), [("no", "a string"), (0, "an integer")])
def test_a_boolean_is_never_made_from_a_string_or_a_number(value: Any, kind: str) -> None:
    assert message({"on": value}, Counts) == f"job.toml: $.on: expected true or false, got {kind}"


@attrs.frozen
class Measures:
    count: int | None = None
    rate: float | None = None


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("count", "ten", 'expected an integer, got "ten"'),
        ("count", [1], "expected an integer, got a list"),
        ("rate", "hot", 'expected a number, got "hot"'),
        ("rate", True, "expected a number, got true"),
        ("rate", False, "expected a number, got false"),
        ("rate", {"a": 1}, "expected a number, got a table"),
    ],
)
def test_numbers_say_what_they_got(key: str, value: Any, shown: str) -> None:
    assert message({key: value}, Measures) == f"job.toml: $.{key}: {shown}"


def test_numbers_from_the_environment_are_still_numbers() -> None:
    assert structure({"count": "7", "rate": "0.5"}, Measures, source="j") == Measures(7, 0.5)
    assert structure({"rate": 2}, Measures, source="j").rate == 2.0


def _share(instance: Any, attribute: Any, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


@attrs.frozen
class PluginOptions:
    share: float = attrs.field(default=0.0, validator=_share)


def test_a_plugin_validator_naming_its_field_bare_puts_it_in_the_path() -> None:
    assert message({"share": 1.5}, PluginOptions) == "job.toml: $.share: must be between 0 and 1, got 1.5"
