"""`destiler export JOB --format F -o FILE`: the job's samples, page by page, in a trainer's format.

The file appears whole or not at all: rows go to a temporary file beside it that is renamed over
it at the end, so an interrupted export never leaves half a dataset under the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from destilation import Sample
from destilation.cli.state import CliState, pass_state, require_job
from destilation.domain import ToolSpec
from destilation.errors import ConfigError
from destilation.interfaces import StateStore
from destilation_export.chat_template import TemplateCheck, load
from destilation_export.conversation import (
    Conversation,
    ConversationMap,
    ExportError,
    job_tools,
    mapping_for,
    parse_fields,
    to_conversation,
)
from destilation_export.dpo import dpo_row, keeps_payloads
from destilation_export.formats import (
    FORMATS,
    REASONING_FIELDS,
    Builder,
    CannotCarry,
    Row,
    chat_messages,
    function_tools,
)

PAGE = 500
"""Samples read from the store at a time: memory stays flat however big the job is."""
PROGRESS_EVERY = 10_000
# Valid in JSON strings but line breaks to `str.splitlines`: escaped, as the dataset file has them.
_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


def json_line(row: Row) -> str:
    text = json.dumps(row, ensure_ascii=False)
    for char, escaped in _LINE_BREAKS:
        text = text.replace(char, escaped)
    return text + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def row_of(
    sample: Sample, builder: Builder, mapping: ConversationMap, tools: tuple[ToolSpec, ...], reasoning_field: str
) -> tuple[Row, Conversation]:
    """One sample's row; a sample the format cannot carry stops the export with one line naming it."""
    conversation = to_conversation(sample, mapping, tools)
    try:
        return builder(conversation, reasoning_field), conversation
    except CannotCarry as exc:
        raise ExportError(sample, str(exc)) from None


async def pair_of(store: StateStore, sample: Sample) -> Row | None:
    """The dpo pair of one sample, from the attempts its task kept."""
    detail = await store.get_task(sample.job, sample.task_index)
    return None if detail is None else dpo_row(sample, detail.attempts)


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise ConfigError("--format", f"unknown format {name!r}: use one of {', '.join(FORMATS)}")
    return name


SQLITE_HEADER = b"SQLite format 3\x00"


def check_replaceable(output: Path) -> None:
    """The export is renamed over OUTPUT: refuse what that would destroy (a device, the state store)."""
    if str(output) == "-":  # a file named `-` would surprise whoever meant standard output
        raise ConfigError("-o", "- (standard output) is not supported: the file appears whole or not at all")
    if output.exists() and not output.is_file():
        raise ConfigError("-o", f"{output} is not a regular file (a device or a pipe?): name a file to write")
    if output.is_file():
        with output.open("rb") as existing:
            if existing.read(len(SQLITE_HEADER)) == SQLITE_HEADER:
                raise ConfigError("-o", f"{output} is an SQLite database (a state store?): export will not replace it")


@click.command()
@click.argument("job")
@click.option("--format", "format_name", metavar="FORMAT", required=True, help=f"One of: {', '.join(FORMATS)}.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option(
    "--reasoning-field",
    type=click.Choice(REASONING_FIELDS),
    default="reasoning_content",
    show_default=True,
    help="Where assistant reasoning goes in trl-* formats; think-tags also puts it into openai-chat.",
)
@click.option(
    "--chat-template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A tokenizer_config.json or .jinja file: report rows the student's template cannot render whole.",
)
@click.option(
    "--fields",
    metavar="ROLE=FIELD,...",
    help="Content fields holding the turns (user, assistant, system, messages) of an unknown template.",
)
@pass_state
def export(
    state: CliState,
    job: str,
    format_name: str,
    output: Path,
    reasoning_field: str,
    chat_template: Path | None,
    fields: str | None,
) -> None:
    """Write JOB's accepted samples to OUTPUT in a training format, one JSON object per line."""
    builder = FORMATS[check_format(format_name)]
    override = parse_fields(fields) if fields else None
    check = TemplateCheck(load(chat_template)) if chat_template else None
    folder = output.parent if str(output.parent) else Path()
    if not folder.is_dir():
        raise ConfigError("-o", f"{output}: the folder {folder} does not exist")
    check_replaceable(output)

    async def work(store: StateStore) -> int:
        record = await require_job(store, job)
        if builder is None and not keeps_payloads(record.spec):
            raise ConfigError(
                "--format dpo",
                f'job {job!r} has nothing to pair: it kept no attempt\'s answer (keep_attempts = "none"), so'
                " there is no rejected answer beside each accepted one; export openai-chat or trl-messages instead",
            )
        tools = job_tools(record.spec)
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # a dataset file, not a private one like mkstemp's
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                rows, seq = 0, 0
                while page := await store.samples_after(job, seq, PAGE):
                    for sample in page:
                        if builder is None:
                            pair = await pair_of(store, sample)
                            if pair is None:
                                continue
                            rows += 1
                            out.write(json_line(pair))
                            if check is not None:
                                check.check(rows, [*pair["prompt"], *pair["chosen"]], [])
                            continue
                        mapping = mapping_for(sample.template_id, override)
                        row, conversation = row_of(sample, builder, mapping, tools, reasoning_field)
                        rows += 1
                        out.write(json_line(row))
                        if check is not None:
                            messages = chat_messages(row, conversation, reasoning_field)
                            check.check(rows, messages, function_tools(conversation.tools))
                        if rows % PROGRESS_EVERY == 0:
                            click.echo(f"exported {rows} of {record.target} samples…", err=True)
                    seq = page[-1].seq or seq + len(page)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, output)
        except BaseException:
            os.unlink(tmp)
            raise
        return rows

    rows = state.with_store(work, job=job)
    what = "pairs" if builder is None else "samples"
    click.echo(f"exported {rows} {what} of job {job} as {format_name} to {output}")
    for line in check.summary() if check else ():
        click.echo(line, err=True)
