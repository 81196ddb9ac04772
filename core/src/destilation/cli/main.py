"""The `destiler` entry point: global options, core commands, plugin commands, error handling."""

from __future__ import annotations

from pathlib import Path

import click

from destilation.cli import check, delete, inspect, jobs, logs, plugins, run, show, steer, tasks, templates, worker
from destilation.cli.state import CliState
from destilation.errors import DestilationError
from destilation.plugins import DestilationPluginManager, LoadFailure, make_plugin_manager

CORE_COMMANDS = (
    run.run,
    run.resume,
    worker.worker,
    worker.workers,
    steer.pause,
    steer.cancel,
    delete.delete,
    jobs.jobs,
    show.show,
    logs.logs,
    tasks.tasks,
    inspect.inspect,
    check.check,
    templates.templates,
    plugins.plugins,
)


class DestilerGroup(click.Group):
    """A group that turns user errors into one line on stderr and their exit code, wherever invoked."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DestilationError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:  # a bad option or argument of a command: one line too
            command = exc.ctx.command_path if exc.ctx else ctx.command_path
            click.echo(f"error: {exc.format_message().rstrip('.')} (see `{command} --help`)", err=True)
            ctx.exit(exc.exit_code)


def make_cli(pm: DestilationPluginManager | None = None) -> click.Group:
    """Build the `destiler` group for a plugin manager (a fresh one by default)."""
    manager = pm if pm is not None else make_plugin_manager()

    @click.group(cls=DestilerGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
    @click.version_option(package_name="destilation-core", prog_name="destiler")
    @click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="DESTILATION_CONFIG",
        help="Global config file (default: ./destilation.toml when present).",
    )
    @click.option("--db", envvar="DESTILATION_DB", help="State store URL (default: SQLite file in the data dir).")
    @click.option("--data-dir", envvar="DESTILATION_DATA_DIR", help="Where datasets go (default: ./destilation-data).")
    @click.pass_context
    def cli(ctx: click.Context, config: Path | None, db: str | None, data_dir: str | None) -> None:
        """Generate validated fine-tuning datasets from many LLM providers."""
        ctx.obj = CliState(manager, config, db, data_dir)

    for command in CORE_COMMANDS:
        cli.add_command(command)
    for impl in manager.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:  # a broken plugin command must not break the others
            manager.load_failures.append(_command_failure(manager, impl.plugin_name, exc))
    return cli


def _command_failure(pm: DestilationPluginManager, plugin: str, exc: Exception) -> LoadFailure:
    dist = pm.origins.get(plugin, (plugin, ""))[0]
    return LoadFailure(plugin, dist, f"register_commands failed: {type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> None:
    """Run `destiler`; user errors become one line on stderr and a meaningful exit code."""
    make_cli().main(args=argv, prog_name="destiler")
