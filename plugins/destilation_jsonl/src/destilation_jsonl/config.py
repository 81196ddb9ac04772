"""The sink's settings, filled from the job's ``[sinks.jsonl]`` table."""

from __future__ import annotations

import attrs


@attrs.define
class JsonlConfig:
    """Where the lines go, whether each batch waits for the disk, and what the card declares.

    `fsync` off trades the exactly-once guarantee under power loss for speed; only tests and
    throwaway runs should turn it off. `license` and `language` (ISO codes, e.g. ``["en"]``) go
    into the dataset card's header only when set: the licence of model output is the user's call.
    """

    filename: str = "data.jsonl"
    fsync: bool = True
    license: str | None = None
    language: list[str] = attrs.field(factory=list)
