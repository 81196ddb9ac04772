"""The export tests' shared builder, under a name no other distribution's tests use."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from destilation.cli.main import make_cli


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {"DESTILATION_DATA_DIR": str(root / "data")}

    def destiler(self, *args: str) -> Result:
        return CliRunner().invoke(make_cli(), list(args), env=self.env, catch_exceptions=False)
