"""Warnings about the dataset reach stderr as one line each, with or without a terminal."""

from __future__ import annotations

import pytest

from destilation.defaults import _dataset_notices
from destilation.domain import Event
from destilation.interfaces import PluginContext


def test_only_warnings_about_the_dataset_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    show = _dataset_notices(PluginContext(data_dir=".", emit=lambda event: None, http_client=lambda **_: None))
    show(Event("sink_repair", "job", "data.jsonl did not match the store; rebuilding it", severity="warning"))
    show(Event("sink_repair", "job", "cut 25 bytes past sample seq 2 from data.jsonl"))  # routine: info
    show(Event("provider_error", "job", "HTTP 503", severity="warning"))  # not about the dataset
    show(Event("exporter_lost", "job", "another process took over writing the dataset", severity="warning"))
    assert capsys.readouterr().err.splitlines() == [
        "warning: job: data.jsonl did not match the store; rebuilding it",
        "warning: job: another process took over writing the dataset",
    ]
