"""With only destilation-core installed, `destiler run` names the missing plugin kind and package.

Runs in tox's `isolated-core` environment, which installs nothing but the core; where the
plugins are installed it is skipped and says so.
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest


def installed(dist: str) -> bool:
    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(installed("destilation-templates"), reason="plugins are installed; tox -e isolated-core runs this")
def test_run_without_plugins_says_what_to_install(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('[providers.t]\nkind = "mock"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "destilation", "--data-dir", str(tmp_path), "run", str(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {job}: $.template: no template plugin is installed (wanted 'simple'): install destilation-templates"
    ]
