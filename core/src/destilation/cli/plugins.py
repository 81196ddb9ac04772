"""`destiler plugins`: what is installed, what each plugin implements, and what failed to load.

It exits 2 when a plugin failed to load, so a script or CI step notices a broken install.
"""

from __future__ import annotations

import inspect as pyinspect

import click

from destilation import hookspecs
from destilation.cli.state import CliState, emit_json, json_option, pass_state, table
from destilation.errors import EXIT_BAD_INPUT
from destilation.plugins import DestilationPluginManager


def plugin_report(pm: DestilationPluginManager) -> dict[str, object]:
    loaded = []
    for name, plugin in pm.list_name_plugin():
        dist, version = pm.origins.get(name, (name, ""))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        loaded.append({"name": name, "distribution": dist, "version": version, "hooks": hooks})
    failed = [{"name": f.name, "distribution": f.distribution, "error": f.error} for f in pm.load_failures]
    return {"plugins": sorted(loaded, key=lambda p: str(p["name"])), "failed": failed, "skipped": sorted(pm.skipped)}


def hook_docs() -> list[dict[str, str]]:
    docs = []
    for name in hookspecs.HOOK_NAMES:
        fn = getattr(hookspecs, name)
        docs.append({"name": name, "signature": f"{name}{pyinspect.signature(fn)}", "doc": pyinspect.getdoc(fn) or ""})
    return docs


@click.command()
@json_option
@click.option("--hooks", "show_hooks", is_flag=True, help="Document every hook instead.")
@pass_state
@click.pass_context
def plugins(ctx: click.Context, state: CliState, as_json: bool, show_hooks: bool) -> None:
    """List installed plugins with their distribution, version and hooks; show load failures (exit 2)."""
    if show_hooks:
        docs = hook_docs()
        if as_json:
            emit_json(docs)
            return
        for doc in docs:
            click.echo(f"{doc['signature']}\n")
            click.echo("    " + doc["doc"].replace("\n", "\n    ") + "\n")
        return
    report = plugin_report(state.pm)
    if as_json:
        emit_json(report)
    else:
        print_report(report)
    if report["failed"]:
        ctx.exit(EXIT_BAD_INPUT)


def print_report(report: dict[str, object]) -> None:
    rows = [(p["name"], p["distribution"], p["version"], ", ".join(p["hooks"])) for p in report["plugins"]]  # type: ignore[attr-defined]
    table(rows, ("PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS"))
    for failure in report["failed"]:  # type: ignore[attr-defined]
        click.echo(f"failed to load {failure['name']} ({failure['distribution']}): {failure['error']}", err=True)
    for name in report["skipped"]:  # type: ignore[attr-defined]
        click.echo(f"disabled: {name}", err=True)
