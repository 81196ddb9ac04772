"""Metadata hook of the `destilation` metapackage: pins every sibling to this release's version.

The version of every first-party distribution is the one line of `VERSION`; each pyproject reads
it through hatchling's `regex` version source. The metapackage's `==` pins must follow it too, so
they are written in `[tool.hatch.metadata.hooks.custom]` with `{version}` in place of the number,
and this hook fills it in. Built from an sdist, hatchling takes them from PKG-INFO instead.
"""

from __future__ import annotations

from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class PinSiblingsHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        version = metadata["version"]
        metadata["dependencies"] = [spec.format(version=version) for spec in self.config["dependencies"]]
        metadata["optional-dependencies"] = {
            extra: [spec.format(version=version) for spec in specs]
            for extra, specs in self.config["optional-dependencies"].items()
        }
