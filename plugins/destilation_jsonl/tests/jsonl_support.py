"""Builders shared by the jsonl sink tests: samples, job records, contexts, file readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from destilation import Event, JobRecord, JobState, PluginContext, Sample, Usage
from destilation_jsonl.config import JsonlConfig
from destilation_jsonl.sink import JsonlSink


def _no_http(**_: Any) -> Any:
    raise AssertionError("the jsonl sink must not make HTTP clients")


def make_context(data_dir: Path, events: list[Event] | None = None) -> PluginContext:
    sink = events if events is not None else []
    return PluginContext(data_dir=str(data_dir), emit=sink.append, http_client=_no_http)


def make_job(name: str = "demo", spec: dict[str, Any] | None = None, **fields: Any) -> JobRecord:
    values: dict[str, Any] = {
        "state": JobState.DONE,
        "target": 10,
        "spec": spec if spec is not None else {"name": name, "template": "simple"},
        "created_at": 1_700_000_000.0,
        "updated_at": 1_700_000_100.0,
        "finished_at": 1_700_000_100.5,
        "planned": 12,
    }
    values.update(fields)
    return JobRecord(name=name, **values)


def make_sample(seq: int, content: Any = None, **fields: Any) -> Sample:
    values: dict[str, Any] = {
        "job": "demo",
        "task_index": seq - 1,
        "content": {"question": f"Frage {seq}: was ist Ünïcödé? 漢字 🙂", "answer": f"réponse {seq}"}
        if content is None
        else content,
        "content_hash": f"h{seq:08d}",
        "template_id": "simple",
        "template_version": "1",
        "provider": "teacher",
        "model": "model-a",
        "attempts": 1,
        "usage": Usage(10, 20),
        "seq": seq,
    }
    values.update(fields)
    return Sample(**values)


def make_sink(context: PluginContext, job: JobRecord | None = None, **config: Any) -> JsonlSink:
    config.setdefault("fsync", False)
    return JsonlSink(JsonlConfig(**config), context, job or make_job())


def line_bytes(sample: Sample) -> bytes:
    """The exact bytes a sample must occupy in the file."""
    text = json.dumps(sample.record(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def read_records(path: Path) -> list[Any]:
    """Every line of the file parsed; the file must end in a newline (no torn last line)."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n")[:-1]]
