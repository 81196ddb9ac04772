"""A mode's optional `check_job` runs when the job is wired, so its job-level mistakes fail `check` too."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from destilation import ModeRegistrar, PluginContext, hookimpl
from destilation.config import JobSpec, ProviderSpec
from destilation.engine.wiring import build_mode
from destilation.errors import ConfigError
from destilation.modes import ModeContext, Production, SingleCall
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation.testing import QA

CONTEXT = PluginContext(data_dir=".", emit=lambda event: None, http_client=lambda **_: None)


@attrs.frozen
class Picky:
    """Wants a provider named `needed` in the job."""

    needed: str
    name: str = "picky"

    async def produce(self, context: ModeContext) -> Production:  # pragma: no cover - never run here
        return await SingleCall().produce(context)

    def validators(self) -> Sequence[object]:  # pragma: no cover - never run here
        return ()

    def check_job(self, spec: JobSpec, source: str) -> None:
        if self.needed not in spec.providers:
            raise ConfigError(source, f"no provider named {self.needed!r}", "$.mode.needed")


class Modes:
    @hookimpl
    def register_modes(self, register: ModeRegistrar) -> None:
        register("picky", lambda config, context: Picky("judge"))
        register("plain", lambda config, context: SingleCall("plain"))


REGISTRY = collect(make_plugin_manager(load=False, extra=[Modes()]))


def spec(*providers: str) -> JobSpec:
    return JobSpec(name="job", providers={name: ProviderSpec(kind="scripted") for name in providers})


def test_a_mode_that_checks_the_job_refuses_it_at_wiring() -> None:
    with pytest.raises(ConfigError) as caught:
        build_mode(spec("teacher"), attrs.evolve(QA, mode="picky"), REGISTRY, CONTEXT, "job.toml")
    assert str(caught.value) == "job.toml: $.mode.needed: no provider named 'judge'"


def test_a_job_the_mode_accepts_wires() -> None:
    mode = build_mode(spec("teacher", "judge"), attrs.evolve(QA, mode="picky"), REGISTRY, CONTEXT, "job.toml")
    assert mode == Picky("judge")


def test_a_mode_without_check_job_wires_as_before() -> None:
    mode = build_mode(spec("teacher"), attrs.evolve(QA, mode="plain"), REGISTRY, CONTEXT, "job.toml")
    assert mode == SingleCall("plain")
