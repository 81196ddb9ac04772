"""Entry point of destilation-jsonl: registers the ``jsonl`` sink. Light: the sink loads on use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from destilation import JobRecord, PluginContext, SinkRegistrar, hookimpl
from destilation_jsonl.config import JsonlConfig

if TYPE_CHECKING:
    from destilation_jsonl.sink import JsonlSink


def make_sink(config: JsonlConfig | None, context: PluginContext, job: JobRecord) -> JsonlSink:
    """Build the sink for one job; the output folder is ``<data_dir>/<job name>``."""
    from destilation_jsonl.sink import JsonlSink

    return JsonlSink(config or JsonlConfig(), context, job)


@hookimpl
def register_sinks(register: SinkRegistrar) -> None:
    register("jsonl", make_sink, config=JsonlConfig)
