"""Configuration: the global `destilation.toml` and job files, loaded with cattrs.

Unknown keys are errors, `${ENV}` references are filled in from the environment, and every
error names the file, the key path and what was expected, in one line.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
import cattrs.gen
from cattrs.errors import IterableValidationError, IterableValidationNote

from destilation.domain import JSON
from destilation.errors import ConfigError
from destilation.payloads import KeepAttempts
from destilation.redaction import redact_tree
from destilation.secrets import RedactedValueError, Secret

T = TypeVar("T")

CONFIG_ENV = "DESTILATION_CONFIG"
DEFAULT_CONFIG_FILE = "destilation.toml"
DEFAULT_DATA_DIR = "destilation-data"
ORIGIN_KEY = "$origin"
"""The reserved key of a stored spec that says where its masked values and lent providers come from."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_FIELD_MESSAGE = re.compile(r"^'(\w+)' (.*)$")
_BARE_FIELD = re.compile(r"^(\w+) (must .*)$")
"""A plugin's validator that names its field without quotes (``rate must be between 0 and 1``)."""
_EXTRA = re.compile(r"^extra fields found \((.*)\)$")
_INDEX = re.compile(r"\['([^']*)'\]")


def check_job_name(name: str) -> str:
    """A job name becomes a folder name, so only a safe subset is allowed."""
    if not _NAME.match(name) or ".." in name or name.split(".")[0].lower() in _RESERVED:
        raise ValueError(
            f"'name' {name!r} is not allowed as a job name: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


_positive_count = attrs.validators.optional(attrs.validators.ge(1))


@attrs.frozen
class ModelLimits:
    """Limits for one model of a provider (`[providers.NAME.model_limits."MODEL"]`), on top of the provider's."""

    concurrency: int | None = attrs.field(default=None, validator=_positive_count)
    requests_per_minute: int | None = attrs.field(default=None, validator=_positive_count)
    tokens_per_minute: int | None = attrs.field(default=None, validator=_positive_count)


@attrs.frozen
class ProviderSpec:
    """One configured provider; keys other than these go to the plugin's own config class.

    The pacing keys (`max_retries` … `model_limits`) configure the call policy in front of the
    provider (`destilation.policy`); the README's provider table says what each one does.
    """

    kind: str
    model: str = ""
    concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    weight: float = 1.0
    capabilities: list[str] = attrs.field(factory=list)
    max_retries: int = attrs.field(default=8, validator=attrs.validators.ge(0))
    """Transport retries of one request (429, 5xx, timeouts); they never use a task's attempts."""
    deadline_s: float = attrs.field(default=600.0, validator=attrs.validators.gt(0))
    """Time one request may take from its first send, retries and waits included."""
    requests_per_minute: int | None = attrs.field(default=None, validator=_positive_count)
    tokens_per_minute: int | None = attrs.field(default=None, validator=_positive_count)
    adaptive: bool = True
    """Adaptive concurrency: the limit moves between 1 and `concurrency` with what answers say."""
    breaker_failures: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    """Failures in a row that open the circuit (no request goes out until a probe answers)."""
    breaker_cooldown_s: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    model_limits: dict[str, ModelLimits] = attrs.field(factory=dict)
    route: bool = True
    """False keeps the provider out of the job's route: it serves only what names it (a judge, an expert)."""
    options: dict[str, JSON] = attrs.field(factory=dict)


def _rejection_rate(_instance: Any, _attribute: Any, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"'stop_rejection_rate' must be between 0 and 1: {value!r}")


@attrs.frozen
class BudgetSpec:
    """`[budget]`: caps over the job's whole life; reaching one pauses the job (see `destilation.control`)."""

    max_requests: int | None = attrs.field(default=None, validator=_positive_count)
    """Requests sent to providers, transport retries included."""
    max_tokens: int | None = attrs.field(default=None, validator=_positive_count)
    """Prompt and completion tokens, added up."""
    max_cost_usd: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0.0))
    )


@attrs.frozen
class JobSpec:
    """What a campaign wants. Only `name` is needed when everything else keeps its default."""

    name: str = attrs.field(validator=lambda _i, _a, v: check_job_name(v))
    template: str = "simple"
    count: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    seed: int = 0
    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    max_tasks: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    """How many tasks may be planned in all (rejected ones are replaced); default 3 times count."""
    workers: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    """Slots: tasks worked on at once, over all the job's processes (the key keeps its first name,
    which stored jobs carry); default: the providers' concurrency added up, and half as many again
    waiting their turn, so requests go out while other answers are validated and committed.
    0 would work nothing, so it is refused like a negative count (leave the key out for the default)."""
    processes: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    """Processes that work the job (each takes a share of the tasks); default: sized to machine and job."""
    temperature: float | None = None
    max_tokens: int | None = None
    axes: dict[str, list[str]] = attrs.field(factory=dict)
    sampling: Literal["cartesian", "sampled"] = "cartesian"
    inputs: str | None = None
    repeat_rows: bool = False
    """An inputs file's rows may make more than one task each (a new seed each time): `count` may exceed the rows."""
    stop_window: int = attrs.field(default=50, validator=attrs.validators.ge(1))
    stop_rejection_rate: float = attrs.field(default=0.9, validator=_rejection_rate)
    """More than this share of the last `stop_window` finished tasks rejected stops the job early."""
    budget: BudgetSpec = attrs.field(factory=BudgetSpec)
    providers: dict[str, ProviderSpec] = attrs.field(factory=dict)
    routing: dict[str, JSON] = attrs.field(factory=lambda: {"strategy": "round_robin"})
    mode: dict[str, JSON] = attrs.field(factory=dict)
    """Options of the template's mode (`[mode]`: experts, tools, …), structured into the mode's config class."""
    validators: dict[str, JSON] = attrs.field(factory=dict)
    """Validator name → its options table, or `false` to drop one of the template's defaults."""
    sinks: dict[str, dict[str, JSON]] = attrs.field(factory=lambda: {"jsonl": {}})
    lease_seconds: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    member_timeout_s: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    """A process working the job that has not beaten for this long is taken for dead: its tasks and roles are freed."""
    description: str = ""
    keep_attempts: KeepAttempts = "failed"
    """Which attempts keep their prompt and raw answer (`destiler inspect`, the dpo export): all, failed, none."""

    @property
    def task_limit(self) -> int:
        return self.max_tasks if self.max_tasks is not None else self.count * 3


@attrs.frozen
class Settings:
    """The global `destilation.toml`: where state and data live, and shared providers."""

    store: str | None = None
    data_dir: str = DEFAULT_DATA_DIR
    providers: dict[str, ProviderSpec] = attrs.field(factory=dict)

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{Path(self.data_dir) / 'destilation.db'}"


def _structure_provider(value: Any, _type: type) -> ProviderSpec:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a table, got {type(value).__name__}")
    known = {f.name for f in attrs.fields(ProviderSpec)} - {"options"}
    core = {k: v for k, v in value.items() if k in known}
    core["options"] = {k: v for k, v in value.items() if k not in known}
    return _plain.structure(core, ProviderSpec)


def make_converter() -> cattrs.Converter:
    """A converter that forbids unknown keys and turns strings into `Secret`s where asked."""
    converter = _strict(cattrs.Converter(forbid_extra_keys=True))
    converter.register_structure_hook(Secret, lambda v, _t: v if isinstance(v, Secret) else Secret(_as_str(v)))
    converter.register_structure_hook(ProviderSpec, _structure_provider)
    return converter


def _strict(converter: cattrs.Converter) -> cattrs.Converter:
    """Lists only from lists (cattrs takes any iterable: `"optics"` would become six letters) and
    literals named in their error."""
    converter.register_structure_hook_factory(_is_list, functools.partial(_list_hook, converter))
    converter.register_structure_hook_func(_is_literal, _structure_literal)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(str, _structure_str)
    return converter


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _is_list(type_: Any) -> bool:
    return type_ is list or get_origin(type_) is list


_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}


def _list_hook(converter: cattrs.Converter, type_: Any) -> Callable[[Any, Any], list[Any]]:
    """Structure each item with the converter, reporting every failure with its index like cattrs does."""
    args = get_args(type_)
    item_type: Any = args[0] if args else Any
    expected = f"a list of {_PLURALS[item_type]}" if item_type in _PLURALS else "a list"

    def structure_list(value: Any, _type: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected {expected}, got {_a(value)}")
        if item_type is Any:
            return list(value)
        items, errors = [], []
        for index, item in enumerate(value):
            try:
                items.append(converter.structure(item, item_type))
            except Exception as exc:
                note = IterableValidationNote(f"Structuring {type_} @ index {index}", index, item_type)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {type_!r}", errors, type_)
        return items

    return structure_list


def _structure_literal(value: Any, type_: Any) -> Any:
    allowed = get_args(type_)
    # `True == 1`: compare types too, so `sampling = 1` never matches a literal 1 or True by accident.
    if not any(type(value) is type(a) and value == a for a in allowed):
        choices = ", ".join(_show(a) for a in allowed)
        raise ValueError(f"expected one of {choices}, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    """A TOML-ish rendering for messages: strings in double quotes, tables and lists by kind."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _a(value)


def _a(value: Any) -> str:
    """What kind of TOML value `value` is, with its article: 'a string', 'a table', …"""
    kinds = {bool: "a boolean", str: "a string", int: "an integer", float: "a number", dict: "a table", list: "a list"}
    for kind, name in kinds.items():
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _structure_str(value: Any, _type: type) -> str:
    # cattrs would write a list or a table as its Python repr; a number (`version = 2`) reads as its text.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {_a(value)}")


def _structure_bool(value: Any, _type: type) -> bool:
    if not isinstance(value, bool):  # cattrs would take `"no"` as true
        raise TypeError(f"expected true or false, got {_a(value)}")
    return value


def _structure_int(value: Any, _type: type) -> int:
    # cattrs would take `true` as 1 and `2.5` as 2; a string of digits (from `${ENV}`) stays allowed.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise TypeError(f"expected an integer, got {json.dumps(value)}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TypeError(f"expected an integer, got {_shown(value)}") from None


def _structure_float(value: Any, _type: type) -> float:
    # cattrs would take `true` as 1.0; a string of digits (from `${ENV}`) stays allowed.
    if isinstance(value, bool):
        raise TypeError("expected a number, got true" if value else "expected a number, got false")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"expected a number, got {_shown(value)}") from None


def _shown(value: Any) -> str:
    """A string as TOML writes it, anything else by its kind."""
    return json.dumps(value) if isinstance(value, str) else _a(value)


def _structure_model_limits(value: Any, _type: type) -> ModelLimits:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a table of limits, got {_a(value)}")
    return _model_limits(value, ModelLimits)


_plain = _strict(cattrs.Converter(forbid_extra_keys=True))
"""Structures a provider's own keys; the main converter's ProviderSpec hook delegates here."""
_model_limits = cattrs.gen.make_dict_structure_fn(ModelLimits, _plain, _cattrs_forbid_extra_keys=True)
_plain.register_structure_hook(ModelLimits, _structure_model_limits)


CONVERTER = make_converter()


def structure(value: Any, cls: type[T], *, source: str, path: str = "$") -> T:
    """Structure `value` into `cls`, turning every failure into one `ConfigError` line."""
    try:
        return CONVERTER.structure(value, cls)
    except cattrs.BaseValidationError as exc:
        messages = cattrs.transform_error(exc, path=path, format_exception=_describe)
        first = messages[0]
        message, _, where = first.rpartition(" @ ")
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        where = _INDEX.sub(lambda m: f".{m.group(1)}", where or path)
        field = _FIELD_MESSAGE.match(message)
        if field:  # attrs validators name the field first: move it into the path
            where, message = f"{where}.{field.group(1)}", field.group(2)
        unknown = _EXTRA.match(message)
        if unknown:
            keys = unknown.group(1).split(", ")
            where = f"{where}.{keys[0]}" if where != "$" or len(keys) == 1 else where
            message = "unknown key" if len(keys) == 1 else f"unknown keys {', '.join(keys)}"
        raise ConfigError(source, f"{_friendly(message)}{more}", where) from None


def _describe(exc: BaseException, expected: type | None) -> str:
    # attrs validators raise ValueError(message, attribute, …): the message comes first.
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    if isinstance(exc, ValueError) and _FIELD_MESSAGE.match(text):
        return text
    bare = _BARE_FIELD.match(text) if isinstance(exc, ValueError) else None
    if bare:
        return f"'{bare.group(1)}' {bare.group(2)}"
    if (isinstance(exc, TypeError | ValueError) and str(exc).startswith("expected ")) or isinstance(
        exc, RedactedValueError
    ):
        return str(exc)
    if isinstance(exc, AttributeError | TypeError) and _is_table_type(expected):
        return "expected a table"  # cattrs would say `'str' object has no attribute 'keys'`
    return cattrs.v.format_exception(exc, expected)


def _is_table_type(expected: type | None) -> bool:
    """Whether `expected` (or a member of its union) is an attrs class, which TOML writes as a table."""
    members = get_args(expected) or (expected,)
    return any(isinstance(member, type) and attrs.has(member) for member in members)


def _friendly(message: str) -> str:
    return message.replace("extra fields found", "unknown key").replace(
        "required field missing", "required key missing"
    )


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, or fail with one line naming the file and the line."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "invalid TOML: not UTF-8 text") from None


def interpolate(value: Any, *, source: str, path: str = "$", environ: Mapping[str, str] | None = None) -> Any:
    """Replace `${NAME}` and `${NAME:-default}` in every string with the environment's value."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(source, f"environment variable {name} is not set", path)

        return _ENV_REF.sub(fill, value)
    if isinstance(value, dict):
        return {k: interpolate(v, source=source, path=f"{path}.{k}", environ=env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, source=source, path=f"{path}[{i}]", environ=env) for i, v in enumerate(value)]
    return value


def redact(value: Any) -> Any:
    """A copy safe to store (see `destilation.redaction.redact_tree`): secrets masked, `${REF}`s kept."""
    return redact_tree(value)[0]


def stored_spec(raw: dict[str, Any], job_file: Path, config_file: Path | None, lent: list[str]) -> dict[str, JSON]:
    """The job table as the store keeps it: redacted, with an `$origin` table that says where to
    find again what was masked (the job file) and which providers the global config lent the job."""
    shown, masked = redact_tree(raw)
    origin: dict[str, JSON] = {"job_file": str(job_file.resolve())}
    if masked:
        origin["redacted"] = [list(p) for p in masked]
    if lent and config_file is not None:
        origin["config_file"] = str(config_file.resolve())
        origin["providers"] = list(lent)
    shown[ORIGIN_KEY] = origin
    return dict(shown)


def spec_body(stored: Mapping[str, JSON]) -> dict[str, JSON]:
    """A stored spec without its `$origin`: what two runs of one job must agree on."""
    return {k: v for k, v in stored.items() if k != ORIGIN_KEY}


def merge_providers(spec: JobSpec, providers: Mapping[str, ProviderSpec]) -> JobSpec:
    """Global providers fill in what the job leaves out; a job's own provider of the same name wins."""
    if not providers:
        return spec
    merged = dict(providers)
    merged.update(spec.providers)
    return attrs.evolve(spec, providers=merged)


@attrs.frozen
class LoadedJob:
    """A job file read and checked: the spec, the raw table (safe to store) and where it came from."""

    spec: JobSpec
    raw: dict[str, JSON]
    path: Path


def load_settings(path: Path | None) -> tuple[Settings, Path | None]:
    """Load the global config: `path`, else `$DESTILATION_CONFIG`, else `./destilation.toml` if present."""
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        if env:
            path = Path(env)
        elif Path(DEFAULT_CONFIG_FILE).is_file():
            path = Path(DEFAULT_CONFIG_FILE)
    if path is None:
        return Settings(), None
    source = str(path)
    raw = interpolate(read_toml(path), source=source)
    settings = structure(raw, Settings, source=source)
    if not Path(settings.data_dir).is_absolute():
        settings = attrs.evolve(settings, data_dir=str(path.parent / settings.data_dir))
    return settings, path


def job_table(path: Path) -> dict[str, Any]:
    """A job file's table before `${ENV}` is filled: its name defaulted, its file references absolute."""
    raw = read_toml(path)
    raw.setdefault("name", path.stem)
    # Stored specs must resume from any folder, so file references become absolute.
    for key in ("inputs", "template"):
        ref = raw.get(key)
        if isinstance(ref, str) and (key == "inputs" or ref.endswith(".toml")) and not Path(ref).is_absolute():
            raw[key] = str((path.parent / ref).resolve())
    return raw


def load_job(path: Path, settings: Settings | None = None, config_file: Path | None = None) -> LoadedJob:
    """Load a job file; a job file alone works, global providers (from `config_file`) fill in what it leaves out."""
    source = str(path)
    raw = job_table(path)
    spec = structure(interpolate(raw, source=source), JobSpec, source=source)
    providers = settings.providers if settings is not None else {}
    lent = sorted(set(providers) - set(spec.providers))
    return LoadedJob(merge_providers(spec, providers), stored_spec(raw, path, config_file, lent), path)
