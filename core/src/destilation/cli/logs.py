"""`destiler logs JOB`: a job's stored events, filtered by level and provider, and followed live."""

from __future__ import annotations

import datetime as dt
import json

import click
from anyio import sleep

from destilation.cli.state import CliState, pass_state, require_job
from destilation.cli.tasks import STORE_INT_MAX
from destilation.domain import EVENT_SEVERITIES, JSON, Event, LoggedEvent
from destilation.errors import DestilationError
from destilation.interfaces import StateStore
from destilation.redaction import redact_url

POLL_S = 1.0
"""How often ``--follow`` asks the store for new events."""

FOLLOW_PAGE = 1000
"""At most this many events per poll; a busier second is read over the next polls."""

LOOKBACK = 200
"""How many ids below the newest printed one a poll looks again (printing only what it has not).

On PostgreSQL an event's id is drawn when it is inserted, not when its transaction commits, so
a writer that drew id 9 may commit after another writer's id 10 was printed; looking back a
little longer than any transaction takes shows it all the same.
"""


class CannotFollow(DestilationError):
    """The store keeps no event ids, so there is no telling which events are new."""


def event_json(logged: LoggedEvent | None, event: Event) -> dict[str, JSON]:
    return {
        "id": logged.id if logged else None,
        "time": _iso(event.at),
        "at": event.at,
        "job": event.job,
        "severity": event.severity,
        "kind": event.kind,
        "provider": event.provider,
        "task_index": event.task_index,
        "message": event.message,
        "data": event.data,
    }


def event_line(event: Event) -> str:
    """``TIME SEVERITY KIND [provider] [task N]: message``, one line whatever the message holds."""
    where = "".join(
        (
            f" {event.provider}" if event.provider else "",
            f" task {event.task_index}" if event.task_index is not None else "",
        )
    )
    message = " ".join(event.message.split())
    return f"{_iso(event.at)} {event.severity:<7} {event.kind}{where}" + (f": {message}" if message else "")


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@click.command()
@click.argument("job")
@click.option(
    "--level",
    type=click.Choice(EVENT_SEVERITIES, case_sensitive=False),
    help="Only events of this severity or worse (debug < info < warning < error).",
)
@click.option("--provider", help="Only events about this provider.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events, once a second, until Ctrl-C.")
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(1, STORE_INT_MAX),
    help="At most this many of the newest events first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per event and line (JSON Lines).")
@pass_state
def logs(
    state: CliState, job: str, level: str | None, provider: str | None, follow: bool, limit: int, as_json: bool
) -> None:
    """Print JOB's events, oldest first: the newest --limit of them, and with --follow new ones as they come."""
    severities = EVENT_SEVERITIES[EVENT_SEVERITIES.index(level.lower()) :] if level else None

    def echo(logged: LoggedEvent | None, event: Event) -> None:
        click.echo(json.dumps(event_json(logged, event), ensure_ascii=False) if as_json else event_line(event))

    async def work(store: StateStore) -> None:
        await require_job(store, job)
        page = await store.query_events(job, severities=severities, provider=provider, limit=limit)
        if page is None:
            if follow:
                raise CannotFollow(f"{redact_url(store.url)} keeps no event ids: --follow cannot tell new events")
            # A store without `query_events`: filter its newest `limit` events here.
            wanted = [e for e in await store.list_events(job, limit) if _matches(e, severities, provider)]
            page = [LoggedEvent(0, e) for e in wanted]
        for logged in page:
            echo(logged if logged.id else None, logged.event)
        if not page and not follow:
            click.echo(f"no events in {job}" + (" that match" if severities or provider else ""), err=True)
        start = last = page[-1].id if page else 0  # below `start`, --limit chose what to show
        printed = {logged.id for logged in page}
        while follow:
            await sleep(POLL_S)
            after = max(start, last - LOOKBACK)
            news = await store.query_events(
                job, after=after, severities=severities, provider=provider, limit=FOLLOW_PAGE
            )
            for logged in news or ():
                if logged.id not in printed:
                    echo(logged, logged.event)
                    printed.add(logged.id)
                    last = max(last, logged.id)
            printed = {i for i in printed if i > after}

    try:
        state.with_store(work, job=job)
    except KeyboardInterrupt:
        if not follow:
            raise  # click's "Aborted!": an interrupted listing is not a finished one
        # Ctrl-C is how --follow ends: exit 0, no traceback


def _matches(event: Event, severities: tuple[str, ...] | None, provider: str | None) -> bool:
    return (severities is None or event.severity in severities) and (provider is None or event.provider == provider)
