"""The entry point registers the ``jsonl`` sink with its config class; the factory builds the sink."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import attrs
from jsonl_support import make_job

from destilation import PluginContext, Sink
from destilation_jsonl import plugin
from destilation_jsonl.config import JsonlConfig
from destilation_jsonl.sink import JsonlSink


def _registered() -> dict[str, tuple[Any, type | None]]:
    found: dict[str, tuple[Any, type | None]] = {}

    def register(name: str, obj: Any, *, config: type | None = None) -> None:
        found[name] = (obj, config)

    plugin.register_sinks(register=register)
    return found


def test_entry_point_points_at_the_light_plugin_module() -> None:
    (ep,) = [ep for ep in importlib.metadata.entry_points(group="destilation") if ep.name == "jsonl"]
    assert ep.value == "destilation_jsonl.plugin"
    assert ep.dist is not None
    assert ep.dist.name == "destilation-jsonl"
    assert ep.load() is plugin


def test_registers_jsonl_with_its_config_class() -> None:
    found = _registered()
    assert list(found) == ["jsonl"]
    factory, config = found["jsonl"]
    assert config is JsonlConfig
    assert factory is plugin.make_sink


def test_config_defaults() -> None:
    assert attrs.asdict(JsonlConfig()) == {"filename": "data.jsonl", "fsync": True, "license": None, "language": []}


def test_factory_builds_a_sink_under_data_dir_and_job_name(context: PluginContext, data_dir: Path) -> None:
    sink = plugin.make_sink(None, context, make_job("run-7"))
    assert isinstance(sink, JsonlSink)
    assert isinstance(sink, Sink)
    assert sink.config == JsonlConfig()
    assert sink.folder == data_dir / "run-7"
    assert sink.path == data_dir / "run-7" / "data.jsonl"
    assert not data_dir.exists()  # building the sink does no I/O; open() does

    custom = plugin.make_sink(JsonlConfig(filename="x.jsonl", fsync=False), context, make_job("run-7"))
    assert custom.path == data_dir / "run-7" / "x.jsonl"
    assert custom.config.fsync is False
