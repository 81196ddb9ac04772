"""Plugins are found through entry points only, reported by `destiler plugins`, and missing ones named."""

from __future__ import annotations

import json

EXPECTED = {
    "mock": "destilation-mock",
    "routing": "destilation-routing",
    "templates": "destilation-templates",
    "validators": "destilation-validators",
    "sql": "destilation-sql",
    "jsonl": "destilation-jsonl",
    "tui": "destilation-tui",
    "export": "destilation-export",
    "openrouter": "destilation-openrouter",
    "ollama": "destilation-ollama",
    "script": "destilation-script",
}


def test_plugins_json_lists_every_installed_plugin(destiler) -> None:
    report = destiler.json("plugins")
    by_name = {p["name"]: p for p in report["plugins"]}
    for name, dist in EXPECTED.items():
        assert by_name[name]["distribution"] == dist
        assert by_name[name]["version"] == "0.1.0"
        assert by_name[name]["hooks"], name
    assert by_name["sql"]["hooks"] == ["register_stores"]
    assert by_name["destilation.defaults"]["distribution"] == "destilation-core"
    assert report["failed"] == []


def test_core_alone_names_the_missing_plugin_and_package(destiler, write_job) -> None:
    job = write_job()
    env = {"DESTILATION_DISABLE_PLUGINS": "*"}
    result = destiler("run", str(job), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no template plugin is installed" in lines[0] and "install destilation-templates" in lines[0]


def test_allowlist_and_disable_list(destiler) -> None:
    only_mock = destiler("plugins", "--json", env={"DESTILATION_PLUGINS": "mock"})

    names = {p["name"] for p in json.loads(only_mock.stdout)["plugins"]}
    assert names == {"destilation.defaults", "mock"}
    without_sql = json.loads(destiler("plugins", "--json", env={"DESTILATION_DISABLE_PLUGINS": "sql"}).stdout)
    assert "sql" not in {p["name"] for p in without_sql["plugins"]}
    assert without_sql["skipped"] == ["sql"]


def test_plugins_text_and_hook_docs(destiler) -> None:
    text = destiler("plugins")
    assert text.returncode == 0 and "destilation-mock" in text.stdout
    hooks = destiler("plugins", "--hooks")
    assert "register_providers(register" in hooks.stdout and "Example::" in hooks.stdout
