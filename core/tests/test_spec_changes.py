"""A stored job's spec against its job file's: changed keys by path, secrets never counted."""

from __future__ import annotations

from destilation.spec_changes import changed_keys

STORED = {
    "name": "x",
    "count": 10,
    "axes": {"topic": ["a", "b"]},
    "providers": {"t": {"kind": "openai", "api_key": "***", "model": "m"}},
}


def test_the_same_spec_has_no_changes() -> None:
    assert changed_keys(STORED, dict(STORED)) == []


def test_changed_added_and_removed_keys_are_named_by_path_in_order() -> None:
    new = {
        "name": "x",
        "count": 20,
        "axes": {"topic": ["a", "c"]},
        "temperature": 0.5,
        "providers": {"t": {"kind": "openai", "api_key": "***"}},
    }
    assert changed_keys(STORED, new) == ["$.axes.topic", "$.count", "$.providers.t.model", "$.temperature"]


def test_a_table_replaced_by_a_value_is_one_change() -> None:
    assert changed_keys({"routing": {"strategy": "weighted"}}, {"routing": "weighted"}) == ["$.routing"]


def test_a_secret_is_never_a_change_whichever_form_it_is_stored_in() -> None:
    literal = {"providers": {"t": {"kind": "openai", "api_key": "sk-new-key"}}}
    assert changed_keys({"providers": {"t": {"kind": "openai", "api_key": "***"}}}, literal) == []
    assert changed_keys({"providers": {"t": {"kind": "openai"}}}, literal) == []  # a store that drops secrets
    reference = {"providers": {"t": {"kind": "openai", "token": "${TOKEN}"}}}
    assert changed_keys({"providers": {"t": {"kind": "openai", "token": "${OTHER}"}}}, reference) == []
