"""The plugin contract checks itself: unknown hooks are refused at load, broken factories are one line."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

from destilation import DestilationError, hookimpl
from destilation.app import App
from destilation.cli.main import make_cli
from destilation.config import JobSpec, Settings, structure
from destilation.hookspecs import hookimpl as marker
from destilation.plugins import DestilationPluginManager, load_entrypoints, make_plugin_manager, register_checked
from destilation.testing import TestingKit, job_table


class Misspelled:
    """`register_validator`: pluggy would never call it, so the validator would silently be missing."""

    @hookimpl
    def register_validator(self, register: Any) -> None:
        raise AssertionError("never called")

    @hookimpl
    def register_providers(self, register: Any) -> None:
        raise AssertionError("a refused plugin registers nothing")


class Optional:
    @marker(optionalhook=True)
    def register_something_later(self) -> None:
        """A hook of a newer core: an optional implementation is fine."""


class WrongArguments:
    @hookimpl
    def register_sinks(self, reg: Any) -> None: ...


class Good:
    @hookimpl
    def register_routers(self, register: Any) -> None:
        register("good", lambda config, context: None)


class FakeEntryPoint:
    group = "destilation"

    def __init__(self, name: str, target: object) -> None:
        self.name = name
        self._target = target
        self.dist = SimpleNamespace(name=f"destilation-{name}", version="1.0")

    def load(self) -> object:
        return self._target


def test_an_unknown_hook_is_refused_at_load_and_the_others_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        FakeEntryPoint("typo", Misspelled()),
        FakeEntryPoint("args", WrongArguments()),
        FakeEntryPoint("optional", Optional()),
        FakeEntryPoint("good", Good()),
    ]
    monkeypatch.setattr(md, "entry_points", lambda group: points)
    pm = make_plugin_manager(load=False)
    load_entrypoints(pm)
    failures = {f.name: (f.distribution, f.error) for f in pm.load_failures}
    assert failures["typo"] == (
        "destilation-typo",
        "implements unknown hook 'register_validator' (did you mean 'register_validators'?)",
    )
    dist, error = failures["args"]
    assert dist == "destilation-args" and "\n" not in error
    assert error.startswith("PluginValidationError: Plugin 'args' for hook 'register_sinks'")
    assert pm.get_plugin("typo") is None and pm.get_plugin("args") is None
    assert pm.get_plugin("optional") is not None and pm.get_plugin("good") is not None
    assert "typo" not in pm.origins and pm.origins["good"] == ("destilation-good", "1.0")


def test_a_plugin_added_in_process_is_held_to_the_hookspecs_too() -> None:
    class Nothing:
        @hookimpl
        def totally_unknown(self) -> None: ...

        @hookimpl
        def register_template(self, register: Any) -> None: ...

    typo, nothing = Misspelled(), Nothing()
    pm = make_plugin_manager(load=False, extra=[typo, nothing, Good()])
    assert [(f.distribution, f.error) for f in pm.load_failures] == [
        ("Misspelled", "implements unknown hook 'register_validator' (did you mean 'register_validators'?)"),
        (
            "Nothing",
            "implements unknown hooks 'register_template' (did you mean 'register_templates'?), 'totally_unknown'",
        ),
    ]
    assert not pm.is_registered(typo) and not pm.is_registered(nothing)


def test_a_plugin_registered_twice_or_blocked_is_left_out() -> None:
    good = Good()
    pm = make_plugin_manager(load=False, extra=[good])
    assert register_checked(pm, good, "twice", "destilation-good") is False
    assert pm.load_failures[-1].name == "twice"
    assert pm.load_failures[-1].error == "ValueError: Plugin already registered under a different name"
    pm.set_blocked("blocked")
    assert register_checked(pm, Good(), "blocked", "destilation-good") is False
    assert len(pm.load_failures) == 1, "a blocked plugin is not a failure"


def test_destiler_plugins_lists_the_others_and_exits_2_when_one_failed() -> None:
    pm = make_plugin_manager(load=False, extra=[Misspelled(), Good()])
    runner = CliRunner()
    text = runner.invoke(make_cli(pm), ["plugins"])
    assert text.exit_code == 2
    assert "destilation-core" in text.stdout
    assert text.stderr.strip().splitlines() == [
        f"failed to load {pm.load_failures[0].name} (Misspelled): implements unknown hook 'register_validator' "
        "(did you mean 'register_validators'?)"
    ]
    as_json = runner.invoke(make_cli(pm), ["plugins", "--json"])
    assert as_json.exit_code == 2
    report = json.loads(as_json.stdout)
    assert report["failed"][0]["distribution"] == "Misspelled"
    assert {p["name"] for p in report["plugins"]} >= {"destilation.defaults"}
    healthy = runner.invoke(make_cli(make_plugin_manager(load=False, extra=[Good()])), ["plugins"])
    assert healthy.exit_code == 0


def write_distribution(site: Path, module: str, body: str) -> None:
    """An installed third-party distribution, as pip leaves it: a module and its dist-info."""
    (site / f"{module}.py").write_text(body, encoding="utf-8")
    info = site / f"destilation_{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: destilation-{module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[destilation]\n{module} = {module}\n", encoding="utf-8")


def test_a_real_misspelled_plugin_makes_destiler_plugins_exit_2(tmp_path: Path) -> None:
    write_distribution(
        tmp_path,
        "typo",
        "from destilation import hookimpl\n\n@hookimpl\ndef register_validator(register):\n    pass\n",
    )
    write_distribution(tmp_path, "crashes", "raise ImportError('no module named nowhere')\n")
    env = {"PYTHONPATH": str(tmp_path), "DESTILATION_PLUGINS": "typo,crashes", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "destilation", "plugins"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 2
    assert sorted(line for line in result.stderr.splitlines() if not line.startswith("disabled: ")) == [
        "failed to load crashes (destilation-crashes): ImportError: no module named nowhere",
        "failed to load typo (destilation-typo): implements unknown hook 'register_validator' "
        "(did you mean 'register_validators'?)",
    ]
    assert "destilation.defaults" in result.stdout


# --- factories: each kind's failure is one line naming the plugin --------------------------


def broken(*args: Any) -> Any:
    raise TypeError(f"broken() takes no arguments ({len(args)} given)")


class Broken:
    """Registers one broken thing of `kind`, under the name the kit's job uses for that kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @hookimpl
    def register_validators(self, register: Any) -> None:
        if self.kind == "validator":
            register("strict", lambda config: None)  # a factory that forgot `context`

    @hookimpl
    def register_routers(self, register: Any) -> None:
        if self.kind == "router":
            register("broken", broken)
        if self.kind == "router-result":
            register("broken", lambda config, context: "not a router")

    @hookimpl
    def register_providers(self, register: Any) -> None:
        if self.kind == "provider":
            register("broken", broken)
        if self.kind == "provider-result":
            register("broken", lambda config, context, info: object())

    @hookimpl
    def register_stores(self, register: Any) -> None:
        if self.kind == "store":
            register("brokendb", broken)

    @hookimpl
    def register_sinks(self, register: Any) -> None:
        if self.kind == "sink":
            register("broken", broken)

    @hookimpl
    def register_subscribers(self, register: Any) -> None:
        if self.kind == "subscriber":
            register("broken", broken)

    @hookimpl
    def register_templates(self, register: Any) -> None:
        if self.kind == "template":
            register("broken", {"id": "a dict, not a Template"})

    @hookimpl
    def register_commands(self, cli: Any) -> None:
        """Nothing: only here so every hook of the class is a known one."""


def table_for(kind: str) -> dict[str, Any]:
    table = job_table(count=1)
    if kind == "validator":
        table["validators"] = {"strict": {}}
    if kind.startswith("router"):
        table["routing"] = {"strategy": "broken"}
    if kind.startswith("provider"):
        table["providers"] = {"teacher": {"kind": "broken"}}
    if kind == "sink":
        table["sinks"] = {"broken": {}}
    if kind == "template":
        table["template"] = "broken"
    return table


def with_broken(kind: str) -> DestilationPluginManager:
    """The kit, and a plugin that breaks `kind`, loaded as if from distribution destilation-broken."""
    pm = make_plugin_manager(load=False, extra=[TestingKit()])
    assert register_checked(pm, Broken(kind), "broken", "destilation-broken")
    pm.origins["broken"] = ("destilation-broken", "1.0")
    return pm


def app_for(kind: str, tmp_path: Path) -> App:
    pm = with_broken(kind)
    url = "brokendb://x" if kind == "store" else "memory://"
    return App(pm, Settings(data_dir=str(tmp_path)), url, str(tmp_path))


PREFIX = "plugin 'broken' (distribution destilation-broken): "


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("validator", "validator factory 'strict' failed: TypeError: "),
        ("router", "router factory 'broken' failed: TypeError: broken() takes no arguments (2 given)"),
        ("router-result", "router factory 'broken' returned str, not a Router"),
        ("provider", "provider factory 'broken' failed: TypeError: broken() takes no arguments (3 given)"),
        ("provider-result", "provider factory 'broken' returned object, not a Provider"),
        ("store", "store factory 'brokendb' failed: TypeError: broken() takes no arguments (2 given)"),
        ("sink", "sink factory 'broken' failed: TypeError: broken() takes no arguments (3 given)"),
        ("subscriber", "subscriber factory 'broken' failed: TypeError: broken() takes no arguments (1 given)"),
        ("template", "template 'broken' is a dict, not a destilation.Template"),
    ],
)
def test_every_factory_call_is_guarded(kind: str, problem: str, tmp_path: Path) -> None:
    app = app_for(kind, tmp_path)
    table = table_for(kind)
    spec = structure(table, JobSpec, source="job.toml")

    async def run() -> object:
        return await app.run(spec, table, "job.toml", resume=False, handle_signals=False)

    with pytest.raises(DestilationError) as info:
        anyio.run(run)
    message = str(info.value)
    # A provider is named by its key in the job file too, as every provider error is.
    where = "job.toml: $.providers.teacher: " if kind.startswith("provider") else ""
    assert message.startswith(where + PREFIX + problem)
    assert "\n" not in message


def test_destiler_check_reports_a_broken_validator_factory_in_one_line(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(
        'name = "job"\ntemplate = "testing.qa"\n[providers.teacher]\nkind = "scripted"\n'
        '[routing]\nstrategy = "first"\n[sinks.memory]\n[validators.strict]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(make_cli(with_broken("validator")), ["--db", "memory://", "check", str(job)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {PREFIX}validator factory 'strict' failed: TypeError: ")


def test_destiler_plugins_documents_the_hooks_and_names_disabled_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    hooks = runner.invoke(make_cli(make_plugin_manager(load=False)), ["plugins", "--hooks"])
    assert hooks.exit_code == 0
    assert "register_validators(register: 'ValidatorRegistrar') -> 'None'" in hooks.stdout
    docs = json.loads(runner.invoke(make_cli(make_plugin_manager(load=False)), ["plugins", "--hooks", "--json"]).stdout)
    assert docs[0]["name"] == "register_providers" and "Example::" in docs[0]["doc"]
    monkeypatch.setattr(md, "entry_points", lambda group: [FakeEntryPoint("good", Good())])
    disabled = runner.invoke(make_cli(make_plugin_manager(disable=["good"])), ["plugins"])
    assert (disabled.exit_code, disabled.stderr) == (0, "disabled: good\n")
