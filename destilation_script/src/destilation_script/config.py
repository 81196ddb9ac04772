"""The provider's config table, filled from the user's TOML by the core's converter."""

from __future__ import annotations

from typing import Any

import attrs

from destilation import Secret

EXAMPLE = 'command = ["python3", "provider.py"]'


def _check_command(_instance: object, _attribute: object, value: Any) -> None:
    # The argv goes to exec as it is: no shell ever parses a string the user wrote.
    if isinstance(value, str):
        raise ValueError(f"'command' must be a list (an argv, never a shell string): {EXAMPLE}")
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise ValueError(f"'command' must be a list of strings: {EXAMPLE}")
    if not value or not value[0]:
        raise ValueError(f"'command' must name a program: {EXAMPLE}")


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"'{attribute.name}' must be > 0: {value}")


@attrs.frozen
class ScriptConfig:
    """Options of a `script` provider; only `command` is required."""

    command: Any = attrs.field(validator=_check_command)
    """The program and its arguments, a list of strings: ``["python3", "my_provider.py"]``."""
    cwd: str | None = None
    """The child's working directory; default: the directory `destiler` runs in."""
    env: dict[str, Secret] = attrs.field(factory=dict)
    """Added to the child's minimal environment (PATH, HOME, LANG); values may be ``${VAR}`` secrets."""
    timeout_s: float = attrs.field(default=120.0, validator=_positive)
    """How long one request may take before it fails (retryable) and the child is told to cancel it."""
    startup_timeout_s: float = attrs.field(default=30.0, validator=_positive)
    """How long the child may take to answer the handshake."""
    max_line_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=_positive)
    """A longer line on stdout means the child is broken: it is restarted."""
    max_in_flight: int | None = attrs.field(default=None, validator=_positive)
    """Requests the child holds at once; default: as many as the provider's `concurrency` sends."""
    max_timeouts: int = attrs.field(default=3, validator=_positive)
    """Requests in a row that time out, with no answer between them, before the child is taken
    for hung: its process group is killed and it is restarted."""
    max_garbage_lines: int = attrs.field(default=100, validator=_positive)
    """Lines in a row on stdout that are not protocol messages before the child is restarted."""
    restart_backoff_s: float = attrs.field(default=0.5, validator=_positive)
    """The wait before the first restart after a crash; it doubles with each crash in a row."""
    max_restart_backoff_s: float = attrs.field(default=30.0, validator=_positive)
    max_start_failures: int = attrs.field(default=3, validator=_positive)
    """Start-ups in a row that fail (exit or garbage before the handshake) before the provider gives up."""
    shutdown_grace_s: float = attrs.field(default=2.0, validator=_positive)
    """After stdin is closed, and again after SIGTERM, how long the child has before the next step."""
    stderr_lines_per_minute: int = attrs.field(default=60, validator=_positive)
    """stderr lines that become events per minute; the rest are counted in the next event."""

    prompt_usd_per_million: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    completion_usd_per_million: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    """Prices of a million prompt and completion tokens, for results that report no `cost`."""

    @property
    def priced(self) -> bool:
        return bool(self.prompt_usd_per_million or self.completion_usd_per_million)

    @property
    def argv(self) -> tuple[str, ...]:
        return tuple(self.command)
