"""Whole jobs in-process on the testing kit, with this plugin's provider kinds registered."""

from __future__ import annotations

from pathlib import Path

import destilation_openrouter.plugin
from destilation.app import App
from destilation.config import Settings
from destilation.plugins import make_plugin_manager
from destilation.testing import TestingKit


def kit_app(tmp_path: Path, kit: TestingKit) -> App:
    """An app that knows only the testing kit and this plugin; its store is the kit's `memory://`."""
    pm = make_plugin_manager(load=False, extra=[kit, destilation_openrouter.plugin])
    return App(pm, Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path))
