"""Values that satisfy a JSON schema, cheap enough to sit on the mock provider's hot path.

A schema is compiled once into a tree of small closures (a *plan*) and cached; producing a
value then costs a few random draws per leaf. Strings are built from the words of a hint (the
prompt) plus random words, so different prompts give different, natural-looking content and a
dataset's exact-duplicate check does not reject every mock sample.

Supported keywords: type (also lists), properties, required, additionalProperties,
min/maxProperties, string min/maxLength, format (common ones; others give plain text), enum,
const, integer/number minimum, maximum, exclusiveMinimum/Maximum (numeric and draft-4 boolean
forms), multipleOf, array items (also the tuple form and prefixItems), min/maxItems,
uniqueItems, anyOf/oneOf (the first branch that compiles), allOf (merged), and local ``$ref``.
Keywords outside this list (pattern, not, if/then/else, …) are ignored.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

Gen = Callable[[random.Random, Sequence[str], int], Any]
"""A compiled schema: (rng, hint words, depth) -> value."""

SOFT_DEPTH = 4
"""From this nesting depth on, optional properties are left out and arrays get their minimum
length, so recursive schemas (trees through ``$ref``) stay small and finite."""
HARD_DEPTH = 64
"""A ``$ref`` chain deeper than this cannot end: it is reported instead of overflowing the stack."""
_CACHE_SIZE = 256

_VOCAB = (
    "analysis", "answer", "approach", "balance", "careful", "clear", "concept", "context", "detail", "example",
    "explain", "factor", "focus", "general", "guide", "idea", "impact", "insight", "key", "lesson", "method",
    "model", "notice", "option", "pattern", "practical", "principle", "process", "question", "reason", "result",
    "review", "simple", "solution", "source", "step", "structure", "summary", "system", "theory", "topic",
    "useful", "value", "view", "work", "account", "basic", "common", "compare", "develop", "effect", "evidence",
    "measure", "observe", "outline", "plan", "problem", "purpose", "range", "signal", "specific", "support",
    "task", "test", "tool", "trend", "typical", "variant", "brief", "direct", "modern", "natural", "steady",
)  # fmt: skip
_STOP = frozenset({
    "the", "and", "for", "with", "that", "this", "from", "into", "your", "you", "are", "was", "were", "will",
    "would", "should", "could", "about", "which", "what", "when", "where", "while", "there", "their", "them",
    "they", "then", "than", "have", "has", "had", "not", "but", "all", "any", "can", "each", "its", "our", "out",
    "one", "two", "use", "using", "json", "schema", "object", "answer", "only", "matching", "write", "create",
    "generate", "give", "make", "provide", "describe",
})  # fmt: skip
_FORMATS = frozenset(
    {"date-time", "date", "time", "email", "idn-email", "uri", "url", "iri", "uri-reference", "iri-reference",
     "hostname", "idn-hostname", "uuid", "ipv4", "ipv6"}
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_]{3,}")
_HINT_CHARS = 600
_HINT_WORDS = 24


class SchemaError(ValueError):
    """The schema cannot be satisfied or uses a keyword in a malformed way; the message names where."""


@functools.lru_cache(maxsize=1024)
def words_of(hint: str) -> tuple[str, ...]:
    """Distinct content words of the hint, lowercased, in order of appearance.

    Cached: tasks that share their axes share their prompt, and this was the mock's largest cost.
    """
    found = (w.lower() for w in _WORD.findall(hint[:_HINT_CHARS]))
    return tuple(dict.fromkeys(w for w in found if w not in _STOP))[:_HINT_WORDS]


def value_for_schema(schema: dict[str, Any], rng: random.Random, hint: str) -> Any:
    """A value valid for `schema`, drawn with `rng`, its strings built partly from the words of `hint`.

    Raises :class:`SchemaError` when the schema admits no value this generator can build.
    """
    return plan_for(schema)(rng, words_of(hint), 0)


_REPEATED = _VOCAB[:16]
"""The hint words of the one answer a repeating mock keeps coming back to."""


def near_copy(plan: Gen, seed: str, rng: random.Random) -> Any:
    """The one repeated answer of `plan`, with one of the words it uses swapped for another.

    The swap is made in the hint words and the plan filled again with the same draws, so the
    answer is the same but for that word wherever it appears: schema-valid by construction, and
    a near-duplicate of every other copy. An answer that uses no hint word comes back unchanged.
    """
    base = plan(random.Random(seed), _REPEATED, 0)
    present = set(_WORD.findall(json.dumps(base).lower()))
    used = [w for w in _REPEATED if w in present]
    if not used:
        return base
    old = used[int(rng.random() * len(used))]
    others = [w for w in _VOCAB if len(w) == len(old) and w not in _REPEATED]
    new = others[int(rng.random() * len(others))]
    return plan(random.Random(seed), tuple(new if w == old else w for w in _REPEATED), 0)


# --- plan cache -------------------------------------------------------------------------------

_BY_ID: dict[int, tuple[Any, Gen]] = {}
_BY_TEXT: dict[str, Gen] = {}


def plan_for(schema: Any) -> Gen:
    """The compiled plan of `schema`, from the cache when this schema (or an equal one) was seen.

    A schema is taken to be immutable once used (templates are frozen): the identity lookup
    would not notice a dict changed in place.
    """
    hit = _BY_ID.get(id(schema))
    # The entry holds the schema itself, so its id cannot be reused by another object meanwhile.
    if hit is not None and hit[0] is schema:
        return hit[1]
    try:
        text = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SchemaError(f"$: the schema is not JSON data ({exc})") from None
    plan = _BY_TEXT.get(text)
    if plan is None:
        try:
            plan = _Compiler(schema).compile(schema, "$")
        except (TypeError, AttributeError, IndexError) as exc:
            # Keywords of the wrong JSON type deep inside; say so rather than show a traceback.
            raise SchemaError(f"$: the schema uses a keyword with a value of the wrong type ({exc})") from None
        if len(_BY_TEXT) >= _CACHE_SIZE:
            _BY_TEXT.clear()
        _BY_TEXT[text] = plan
    if len(_BY_ID) >= _CACHE_SIZE:
        _BY_ID.clear()
    _BY_ID[id(schema)] = (schema, plan)
    return plan


# --- text -------------------------------------------------------------------------------------


def _sentence(rng: random.Random, words: Sequence[str], count: int) -> str:
    """`count` words, about half from the hint and half from the vocabulary, as a sentence."""
    vocab, n_vocab, n_words = _VOCAB, len(_VOCAB), len(words)
    draw = rng.random
    parts: list[str] = []
    for _ in range(count):
        # One draw per word picks both the source and the word.
        r = draw()
        word = words[int(r * 2 * n_words)] if n_words and r < 0.5 else vocab[int(r * 7919) % n_vocab]
        if parts and word == parts[-1]:  # "islands islands" reads like a stutter
            word = vocab[int(r * 104729) % n_vocab]
        parts.append(word)
    parts[0] = parts[0].capitalize()
    return " ".join(parts) + "."


def _fit(text: str, rng: random.Random, low: int, high: int | None) -> str:
    """Pad with words to `low` characters, then cut to `high`, at a word boundary where that still fits."""
    if len(text) < low:
        extra = [text]
        size = len(text)
        while size < low:
            word = _VOCAB[int(rng.random() * len(_VOCAB))]
            extra.append(word)
            size += len(word) + 1
        text = " ".join(extra)
    if high is not None and len(text) > high:
        cut = text[:high]
        space = cut.rfind(" ")
        if text[high] != " " and space >= max(low, 1):
            cut = cut[:space]  # drop the half word
        stripped = cut.rstrip()
        text = stripped if len(stripped) >= low else cut
    return text


def _ascii_word(rng: random.Random) -> str:
    return _VOCAB[int(rng.random() * len(_VOCAB))]


def _format_value(fmt: str, rng: random.Random) -> str:
    """A valid example of one of the common string formats in `_FORMATS`."""
    r = rng.randrange
    if fmt == "date-time":
        return f"2024-{r(1, 13):02d}-{r(1, 29):02d}T{r(24):02d}:{r(60):02d}:{r(60):02d}Z"
    if fmt == "date":
        return f"2024-{r(1, 13):02d}-{r(1, 29):02d}"
    if fmt == "time":
        return f"{r(24):02d}:{r(60):02d}:{r(60):02d}Z"
    if fmt in ("email", "idn-email"):
        return f"{_ascii_word(rng)}.{_ascii_word(rng)}@example.com"
    if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
        return f"https://example.com/{_ascii_word(rng)}/{_ascii_word(rng)}"
    if fmt in ("hostname", "idn-hostname"):
        return f"{_ascii_word(rng)}.example.com"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt == "ipv4":
        return f"10.{r(256)}.{r(256)}.{r(1, 255)}"
    return f"2001:db8::{r(65536):x}:{r(65536):x}"  # ipv6


# --- numbers ----------------------------------------------------------------------------------


def _is_multiple(value: float, step: float) -> bool:
    """The test jsonschema applies, float quirks included (0.3 is not a multiple of 0.1 there)."""
    if isinstance(step, float):
        quotient = value / step
        return math.isfinite(quotient) and int(quotient) == quotient
    return value % step == 0


def _number(value: Any, path: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SchemaError(f"{path}: {key!r} must be a finite number, got {value!r}")
    return value


class _Bounds:
    """Lower and upper limits of a number, each possibly exclusive, from either keyword style."""

    def __init__(self, schema: dict[str, Any], path: str) -> None:
        self.low: float | None = None
        self.low_open = False
        self.high: float | None = None
        self.high_open = False
        for key, upper in (("minimum", False), ("maximum", True)):
            if key in schema:
                self._tighten(_number(schema[key], path, key), False, upper)
        for key, base, upper in (("exclusiveMinimum", "minimum", False), ("exclusiveMaximum", "maximum", True)):
            value = schema.get(key)
            if value is True and base in schema:  # draft 4: a flag on minimum/maximum
                self._tighten(schema[base], True, upper)
            elif value is not None and not isinstance(value, bool):
                self._tighten(_number(value, path, key), True, upper)

    def _tighten(self, value: float, open_: bool, upper: bool) -> None:
        if upper:
            if self.high is None or value < self.high or (value == self.high and open_):
                self.high, self.high_open = value, open_
        elif self.low is None or value > self.low or (value == self.low and open_):
            self.low, self.low_open = value, open_

    def admits(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def window(self, width: float) -> tuple[float, float]:
        return _window(self.low, self.high, width)

    def fallback(self, start: float, end: float) -> float:
        """A value inside the bounds for draws that miss them, or SchemaError when there is none."""
        tries = [start / 2 + end / 2, math.nextafter(start, math.inf), math.nextafter(end, -math.inf)]
        if self.low is not None and self.high is not None:
            tries.append(self.low / 2 + self.high / 2)
        for value in tries:
            if self.admits(value):
                return value
        raise SchemaError("no number lies between the minimum and the maximum")


def _window(low: Any, high: Any, width: Any) -> tuple[Any, Any]:
    """A finite sampling range of at most `width` inside [low, high], near zero when they allow it.

    Integers in, integers out, so huge integer bounds keep their precision.
    """
    if low is None:
        return (0, width) if high is None else (high - width, high)
    if high is None:
        return low, low + width
    start = max(low, min(max(0, low), high - width))
    return start, min(high, start + width)


def _multiples(bounds: _Bounds, step: float, integer: bool, path: str) -> list[float]:
    """Up to 32 values in the bounds that pass jsonschema's multipleOf test, spread over the range."""
    start, end = bounds.window(100 * step)
    try:
        first, last = math.ceil(start / step), math.floor(end / step)
    except OverflowError:
        raise SchemaError(f"{path}: 'multipleOf' {step} is too small for the bounds") from None
    found: list[float] = []
    spread = max(1, (last - first) // 200)
    for k in range(first, last + 1, spread):
        for value in (k * step, round(k * step, 10)):
            if integer:
                if not float(value).is_integer():
                    continue
                value = int(value)
            if bounds.admits(value) and _is_multiple(value, step):
                found.append(value)
                break
        if len(found) >= 32:
            break
    if not found:
        raise SchemaError(f"{path}: no {'integer' if integer else 'number'} multiple of {step} fits the bounds")
    return found


def _integer_gen(schema: dict[str, Any], path: str) -> Gen:
    bounds = _Bounds(schema, path)
    if "multipleOf" in schema:
        return _choice_gen(_multiples(bounds, _step(schema, path), True, path))
    low = None if bounds.low is None else math.floor(bounds.low) + 1 if bounds.low_open else math.ceil(bounds.low)
    high = None if bounds.high is None else math.ceil(bounds.high) - 1 if bounds.high_open else math.floor(bounds.high)
    if low is not None and high is not None and low > high:
        raise SchemaError(f"{path}: no integer lies between the minimum and the maximum")
    lo, end = _window(low, high, 100)
    span = end - lo + 1

    def gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
        return lo + rng.randrange(span)

    return gen


def _number_gen(schema: dict[str, Any], path: str) -> Gen:
    bounds = _Bounds(schema, path)
    if "multipleOf" in schema:
        return _choice_gen(_multiples(bounds, _step(schema, path), False, path))
    start, end = bounds.window(100.0)
    try:
        fallback = bounds.fallback(start, end)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None
    width = end - start
    admits = bounds.admits

    def gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
        value = round(start + rng.random() * width, 2)
        return value if admits(value) else fallback

    return gen


def _step(schema: dict[str, Any], path: str) -> float:
    step = _number(schema["multipleOf"], path, "multipleOf")
    if step <= 0:
        raise SchemaError(f"{path}: 'multipleOf' must be greater than 0, got {step!r}")
    return step


# --- small generators -------------------------------------------------------------------------


def _const_gen(value: Any) -> Gen:
    if isinstance(value, dict | list):

        def fresh(rng: random.Random, words: Sequence[str], depth: int) -> Any:
            return copy.deepcopy(value)  # callers may mutate what they get

        return fresh
    return lambda rng, words, depth: value


def _choice_gen(values: Sequence[Any]) -> Gen:
    options = tuple(values)
    if len(options) == 1:
        return _const_gen(options[0])
    if any(isinstance(v, dict | list) for v in options):
        return lambda rng, words, depth: copy.deepcopy(options[rng.randrange(len(options))])
    return lambda rng, words, depth: options[rng.randrange(len(options))]


def _string_gen(schema: dict[str, Any], path: str) -> Gen:
    low = _count(schema, "minLength", path) or 0
    high = _count(schema, "maxLength", path)
    if high is not None and low > high:
        raise SchemaError(f"{path}: 'minLength' {low} is greater than 'maxLength' {high}")
    fmt = schema.get("format")
    if fmt in _FORMATS:

        def formatted(rng: random.Random, words: Sequence[str], depth: int) -> Any:
            text = _format_value(fmt, rng)
            # Lengths win over the format when both cannot hold.
            return text if low <= len(text) and (high is None or len(text) <= high) else _fit(text, rng, low, high)

        return formatted
    # Short limits get a word or two, roomy ones a sentence.
    shortest, longest = (1, 2) if high is not None and high < 24 else (4, 10)

    def gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
        text = _sentence(rng, words, shortest + int(rng.random() * (longest - shortest + 1)))
        if len(text) < low or (high is not None and len(text) > high):
            text = _fit(text, rng, low, high)
        return text

    return gen


def _count(schema: dict[str, Any], key: str, path: str) -> int | None:
    """A length or size keyword, checked to be a non-negative integer."""
    value = schema.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise SchemaError(f"{path}: {key!r} must be a non-negative integer, got {value!r}")
    return value


def _boolean_gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
    return rng.random() < 0.5


def _null_gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
    return None


# --- merging (allOf, anyOf/oneOf branches, $ref siblings) -------------------------------------

_LARGER = frozenset({"minimum", "minLength", "minItems", "minProperties"})
_SMALLER = frozenset({"maximum", "maxLength", "maxItems", "maxProperties"})


def _types(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One schema that asks for what both ask for, as far as the supported keywords go."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mine, value))
        if key == "properties" and isinstance(mine, dict) and isinstance(value, dict):
            props = dict(mine)
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(mine, list) and isinstance(value, list):
            out[key] = list(dict.fromkeys([*mine, *value]))
        elif key == "type":
            out[key] = _common_types(mine, value)
        elif key == "enum" and isinstance(mine, list) and isinstance(value, list):
            out[key] = [v for v in mine if v in value]
        elif key == "allOf" and isinstance(mine, list) and isinstance(value, list):
            out[key] = [*mine, *value]
        elif key in ("anyOf", "oneOf") and isinstance(mine, list) and isinstance(value, list):
            # (a1 or a2) and (b1 or b2) is (a1 and b1) or (a1 and b2) or ...
            out[key] = [{"allOf": [x, y]} for x in mine for y in value]
        elif key in ("items", "additionalProperties"):
            out[key] = {"allOf": [mine, value]}
        elif numbers and key in _LARGER | {"exclusiveMinimum"}:
            out[key] = max(mine, value)
        elif numbers and key in _SMALLER | {"exclusiveMaximum"}:
            out[key] = min(mine, value)
        else:
            out[key] = value
    return out


def _common_types(a: Any, b: Any) -> list[Any]:
    """Types both allow; an integer is also a number."""
    theirs = _types(b)
    out = []
    for name in _types(a):
        if name in theirs:
            out.append(name)
        elif (name == "number" and "integer" in theirs) or (name == "integer" and "number" in theirs):
            out.append("integer")
    return list(dict.fromkeys(out))


# --- the compiler -----------------------------------------------------------------------------

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "examples", "default"}
)
_OBJECT_KEYS = ("properties", "required", "additionalProperties", "minProperties", "maxProperties")
_ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems")
_STRING_KEYS = ("minLength", "maxLength", "format", "pattern")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


class _Cell:
    """Where a `$ref` target's plan will be, so a recursive reference can point at it before it exists."""

    __slots__ = ("gen",)

    def __init__(self) -> None:
        self.gen: Gen | None = None


class _Compiler:
    """Turns one root schema into a plan; it resolves local `$ref`s against that root."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.cells: dict[int, _Cell] = {}
        self.nesting = 0

    def compile(self, schema: Any, path: str) -> Gen:
        self.nesting += 1
        try:
            if self.nesting > HARD_DEPTH:
                raise SchemaError(f"{path}: the schema nests more than {HARD_DEPTH} levels deep")
            return self._compile(schema, path)
        finally:
            self.nesting -= 1

    def _compile(self, schema: Any, path: str) -> Gen:
        if schema is True:
            schema = {}
        if schema is False:
            raise SchemaError(f"{path}: the schema `false` admits no value")
        if not isinstance(schema, dict):
            raise SchemaError(f"{path}: a schema must be an object or a boolean, got {type(schema).__name__}")
        if "$ref" in schema:
            return self._ref(schema, path)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for number, branch in enumerate(_list(schema, "allOf", path)):
                merged = self._combine(merged, branch, f"{path}.allOf[{number}]")
            return self.compile(merged, path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._first_branch(schema, key, path)
        if "const" in schema:
            return _const_gen(schema["const"])
        kind = _kind(schema, path)
        if "enum" in schema:
            return self._enum(schema, path)
        if kind == "object":
            return self._object(schema, path)
        if kind == "array":
            return self._array(schema, path)
        if kind == "integer":
            return _integer_gen(schema, path)
        if kind == "number":
            return _number_gen(schema, path)
        if kind == "boolean":
            return _boolean_gen
        if kind == "null":
            return _null_gen
        return _string_gen(schema, path)

    # references

    def _target(self, ref: Any, path: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"{path}: only local references (#/$defs/...) are supported, got $ref {ref!r}")
        node = self.root
        for raw in ref[1:].split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"{path}: $ref {ref!r} points at nothing in this schema")
        return node

    def _resolved(self, schema: Any, path: str) -> Any:
        """The schema with a top-level `$ref` replaced by its target (merged with any siblings)."""
        for _ in range(HARD_DEPTH):
            if not (isinstance(schema, dict) and "$ref" in schema):
                return schema
            target = self._target(schema["$ref"], path)
            rest = {k: v for k, v in schema.items() if k != "$ref" and k not in _ANNOTATIONS}
            schema = merge(target, rest) if rest and isinstance(target, dict) else target
        raise SchemaError(f"{path}: $ref {schema['$ref']!r} refers to itself without end")

    def _combine(self, base: dict[str, Any], branch: Any, path: str) -> dict[str, Any]:
        """`base` merged with one (resolved) branch of allOf/anyOf/oneOf."""
        branch = self._resolved(branch, path)
        if branch is True:
            return base
        if not isinstance(branch, dict):
            raise SchemaError(f"{path}: this branch admits no value (it is {json.dumps(branch)})")
        return merge(base, branch)

    def _ref(self, schema: dict[str, Any], path: str) -> Gen:
        ref = schema["$ref"]
        target = self._target(ref, path)
        if any(k not in _ANNOTATIONS for k in schema if k != "$ref"):
            return self.compile(self._resolved(schema, path), path)
        cell = self.cells.get(id(target))
        if cell is None:
            cell = self.cells[id(target)] = _Cell()
            cell.gen = self.compile(target, ref)
            return cell.gen
        found = cell

        def forward(rng: random.Random, words: Sequence[str], depth: int) -> Any:
            if depth > HARD_DEPTH:
                raise SchemaError(f"{path}: $ref {ref!r} recurses without end")
            gen = found.gen
            assert gen is not None  # set once the target compiled, before any value is made
            return gen(rng, words, depth + 1)

        return forward

    # combinators and enums

    def _first_branch(self, schema: dict[str, Any], key: str, path: str) -> Gen:
        base = {k: v for k, v in schema.items() if k != key}
        problems = []
        for number, branch in enumerate(_list(schema, key, path)):
            where = f"{path}.{key}[{number}]"
            try:
                return self.compile(self._combine(base, branch, where), where)
            except SchemaError as exc:
                problems.append(str(exc))
        raise SchemaError(f"{path}: no {key} branch can be satisfied ({'; '.join(problems) or 'empty list'})")

    def _enum(self, schema: dict[str, Any], path: str) -> Gen:
        values = _list(schema, "enum", path)
        if "type" in schema:
            values = [v for v in values if _fits_type(v, _types(schema["type"]))]
        if not values:
            raise SchemaError(f"{path}: 'enum' has no value of the allowed type")
        return _choice_gen(values)

    # containers

    def _object(self, schema: dict[str, Any], path: str) -> Gen:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict):
            raise SchemaError(f"{path}: 'properties' must be an object")
        if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
            raise SchemaError(f"{path}: 'required' must be a list of property names")
        additional = schema.get("additionalProperties", True)
        items: list[tuple[str, Gen, bool]] = []
        for name, sub in properties.items():
            items.append((name, self.compile(sub, f"{path}.properties.{name}"), name in required))
        undeclared = [name for name in dict.fromkeys(required) if name not in properties]
        least = _count(schema, "minProperties", path) or 0
        most = _count(schema, "maxProperties", path)
        extra_gen: Gen | None = None
        if undeclared or least > len(items):
            # Only compiled when needed: an unused additionalProperties schema must not fail the plan.
            if additional is False:
                raise SchemaError(f"{path}: needs properties beyond 'properties' but additionalProperties is false")
            extra_gen = self.compile(additional, f"{path}.additionalProperties")
            items.extend((name, extra_gen, True) for name in undeclared)
        needed = sum(1 for item in items if item[2])
        spare = math.inf if most is None else most - needed
        if spare < 0:
            raise SchemaError(f"{path}: more properties are required than 'maxProperties' {most} allows")
        taken = {name for name, _, _ in items}
        # Names for padding up to minProperties that cannot clash with declared ones.
        padding = [n for n in (f"extra_{i}" for i in range(1, least + len(taken) + 1)) if n not in taken]
        fields = tuple(items)

        def gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
            out = {}
            budget = spare
            shallow = depth < SOFT_DEPTH
            inner = depth + 1
            for name, sub, is_required in fields:
                if is_required:
                    out[name] = sub(rng, words, inner)
                elif shallow and budget > 0:
                    out[name] = sub(rng, words, inner)
                    budget -= 1
            if len(out) < least:
                _pad(out, least, fields, padding, extra_gen, rng, words, inner)
            return out

        return gen

    def _array(self, schema: dict[str, Any], path: str) -> Gen:
        items = schema.get("items", True)
        prefix_schemas = schema.get("prefixItems", [])
        rest: Any = items
        if isinstance(items, list):  # the tuple form of drafts 4-7
            prefix_schemas, rest = items, schema.get("additionalItems", True)
        prefix = tuple(self.compile(s, f"{path}.prefixItems[{i}]") for i, s in enumerate(prefix_schemas))
        item_gen = None if rest is False else self.compile(rest, f"{path}.items")
        least = _count(schema, "minItems", path) or 0
        most = _count(schema, "maxItems", path)
        if item_gen is None:
            most = len(prefix) if most is None else min(most, len(prefix))
        if most is not None and least > most:
            raise SchemaError(f"{path}: 'minItems' {least} is more than the array can hold")
        # Natural arrays have a few items; the range stays inside min/maxItems.
        low = least if most is not None and most < 1 else max(least, 1)
        high = low + 2 if most is None else min(most, low + 2)
        unique = schema.get("uniqueItems") is True

        def gen(rng: random.Random, words: Sequence[str], depth: int) -> Any:
            count = least if depth >= SOFT_DEPTH else low + rng.randrange(high - low + 1)
            inner = depth + 1
            out = []
            seen = set()
            for index in range(count):
                sub = prefix[index] if index < len(prefix) else item_gen
                assert sub is not None  # count never exceeds what the schema admits
                value = sub(rng, words, inner)
                if unique:
                    # A few redraws for a fresh value; a narrow item schema may run out of them.
                    key = _identity(value)
                    tries = 0
                    while key in seen and tries < 8:
                        value = sub(rng, words, inner)
                        key = _identity(value)
                        tries += 1
                    if key in seen:
                        break
                    seen.add(key)
                out.append(value)
            return out

        return gen


def _identity(value: Any) -> str:
    """Equal JSON values give equal keys (a string and a number may clash, which only costs a redraw)."""
    return value if type(value) is str else json.dumps(value, sort_keys=True)


def _pad(
    out: dict[str, Any],
    least: int,
    fields: Sequence[tuple[str, Gen, bool]],
    padding: Sequence[str],
    extra_gen: Gen | None,
    rng: random.Random,
    words: Sequence[str],
    depth: int,
) -> None:
    """Reach minProperties: first with optional properties left out, then with extra names."""
    for name, sub, _ in fields:
        if len(out) >= least:
            return
        if name not in out:
            out[name] = sub(rng, words, depth)
    if extra_gen is not None:  # compiled whenever the declared properties cannot reach minProperties
        for name in padding[: least - len(out)]:
            out[name] = extra_gen(rng, words, depth)


def _list(schema: dict[str, Any], key: str, path: str) -> list[Any]:
    value = schema[key]
    if not isinstance(value, list):
        raise SchemaError(f"{path}: {key!r} must be a list")
    return value


_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")


def _kind(schema: dict[str, Any], path: str) -> str | None:
    """The one type to build: the first non-null listed type, or one inferred from the keywords."""
    declared = schema.get("type")
    if declared is not None:
        listed = _types(declared)
        for name in listed:
            if name not in _TYPES:
                raise SchemaError(f"{path}: unknown type {name!r}")
        if not listed:
            raise SchemaError(f"{path}: 'type' allows no type")
        useful = [t for t in listed if t != "null"]
        return useful[0] if useful else "null"
    if "enum" in schema:
        return None
    for kind, keys in (("object", _OBJECT_KEYS), ("array", _ARRAY_KEYS), ("number", _NUMBER_KEYS)):
        if any(k in schema for k in keys):
            return kind
    return "string"


_PY_TYPES: dict[str, type] = {"string": str, "boolean": bool, "object": dict, "array": list}


def _fits_type(value: Any, types: list[Any]) -> bool:
    for name in types:
        if name == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if name == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if name in _PY_TYPES and isinstance(value, _PY_TYPES[name]):
            return True
        if name == "null" and value is None:
            return True
    return False
