"""Core defaults for the decision hooks, registered like any plugin and marked ``trylast``."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from destilation.domain import Event, Usage
from destilation.hookspecs import hookimpl
from destilation.interfaces import PluginContext
from destilation.policy.actions import ErrorAction
from destilation.policy.classes import default_action

if TYPE_CHECKING:
    from destilation.progress import LiveProgress, PlainProgress
    from destilation.registry import SubscriberRegistrar

_SPACE = re.compile(r"\s+")


def normalise(value: Any) -> Any:
    """Fold case and whitespace in every string so trivially different copies hash alike."""
    if isinstance(value, str):
        return _SPACE.sub(" ", value).strip().casefold()
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


@hookimpl(trylast=True)
def fingerprint(sample_content: Any) -> str:
    text = json.dumps(normalise(sample_content), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@hookimpl(trylast=True)
def classify_error(error: BaseException, provider: str) -> ErrorAction:
    return default_action(error)


@hookimpl(trylast=True)
def estimate_cost(provider: str, model: str, usage: Usage) -> float:
    return 0.0


def _progress(context: PluginContext) -> LiveProgress | PlainProgress | None:
    """A live line on a terminal, plain lines elsewhere, nothing with `-q`."""
    from destilation.progress import make_progress  # loads nothing heavy; rich waits for the first event

    return make_progress(context.verbosity)


DATASET_NOTICES = frozenset({"sink_repair", "exporter_lost"})
"""Event kinds that say the dataset was rebuilt or is written elsewhere: people must hear of them."""


def _dataset_notices(context: PluginContext) -> Callable[[Event], None]:
    """One line on stderr per warning about the dataset, terminal or not."""

    def show(event: Event) -> None:
        if event.kind in DATASET_NOTICES and event.severity == "warning":
            print(f"warning: {event.job}: {event.message}", file=sys.stderr, flush=True)

    return show


@hookimpl(trylast=True)
def register_subscribers(register: SubscriberRegistrar) -> None:
    register("progress", _progress)
    register("dataset-notices", _dataset_notices)
