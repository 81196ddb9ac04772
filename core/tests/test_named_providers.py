"""Calls to a provider by name (an expert's, a judge's): what its call policy's refusals become."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import attrs
import pytest

from destilation import Generation, GenerationRequest, Message, ModeRegistrar, PluginContext, hookimpl
from destilation.config import JobSpec, ProviderSpec
from destilation.domain import ProviderHealth
from destilation.engine import attempts
from destilation.engine.attempts import JobAborted, NamedProviders, NoProviderLeft, pinned_generate
from destilation.engine.wiring import build_mode, provider_infos
from destilation.errors import ConfigError, JobError, RequestRefused
from destilation.interfaces import ProviderInfo
from destilation.modes import SingleCall
from destilation.plugins import make_plugin_manager
from destilation.policy import CallPolicy, ProviderAborted, ProviderUnavailable
from destilation.registry import collect
from destilation.templates import load_template_file
from destilation.testing import QA

REQUEST = GenerationRequest(messages=(Message("user", "hi"),))
ANSWER = Generation("{}", "judge", "m")


class Scripted(CallPolicy):
    """A policy that fails as told, then answers; `up` says whether its circuit is closed."""

    def __init__(self, failures: Sequence[BaseException], up: bool = True) -> None:
        self.name, self.info = "judge", ProviderInfo("judge", "scripted", "m")
        self.failures, self.up, self.calls = list(failures), up, 0

    def available(self) -> bool:
        return self.up

    async def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return ANSWER

    async def probe(self) -> bool:  # pragma: no cover - never probed here
        return True

    def health(self, job: str, owner: str) -> ProviderHealth:  # pragma: no cover - never asked here
        return ProviderHealth(job=job, provider=self.name, owner=owner)


def call(policy: CallPolicy) -> Generation:
    return anyio.run(pinned_generate, policy, REQUEST)


def test_a_provider_that_gives_a_request_up_is_asked_again_while_it_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attempts, "PINNED_WAIT_S", 0.0)
    policy = Scripted([ProviderUnavailable("judge: timed out"), ProviderUnavailable("judge: timed out")])
    assert call(policy) is ANSWER
    assert policy.calls == 3


def test_a_refusal_rejects_the_task_and_an_open_circuit_holds_the_job() -> None:
    with pytest.raises(RequestRefused, match="provider judge refused the request: no such model"):
        call(Scripted([ProviderUnavailable("provider judge: no such model", refused=True)]))
    with pytest.raises(NoProviderLeft, match="every provider is unavailable: judge: connection refused"):
        call(Scripted([ProviderUnavailable("judge: connection refused")], up=False))


def test_an_abort_stops_the_job_naming_the_provider() -> None:
    with pytest.raises(JobAborted, match="provider 'judge' stopped the job: HTTP 401"):
        call(Scripted([ProviderAborted("judge: HTTP 401")]))


def test_a_name_the_job_lacks_is_one_line_naming_the_ones_it_has() -> None:
    providers = NamedProviders({"judge": Scripted([])})
    assert providers.names() == ["judge"]
    assert anyio.run(providers.generate, "judge", REQUEST) is ANSWER
    with pytest.raises(JobError, match=r"no provider named 'grader' in this job \(it has judge\)"):
        anyio.run(providers.generate, "grader", REQUEST)


class Plain:
    @hookimpl
    def register_modes(self, register: ModeRegistrar) -> None:
        register("plain", lambda config, context: SingleCall("plain"))


def test_a_template_whose_mode_is_not_installed_names_the_installed_ones() -> None:
    registry = collect(make_plugin_manager(load=False, extra=[Plain()]))
    context = PluginContext(data_dir=".", emit=lambda event: None, http_client=lambda **_: None)
    spec = JobSpec(name="job", providers={"t": ProviderSpec(kind="scripted")})
    with pytest.raises(ConfigError) as caught:
        build_mode(spec, attrs.evolve(QA, mode="poetry"), registry, context, "job.toml")
    assert str(caught.value) == "job.toml: $.template: template 'testing.qa': unknown mode 'poetry'; installed: plain"


def test_a_job_whose_providers_all_stay_off_the_route_is_refused() -> None:
    spec = JobSpec(name="job", providers={"judge": ProviderSpec(kind="scripted", route=False)})
    with pytest.raises(ConfigError, match=r"\$\.providers: every provider has route = false"):
        provider_infos(spec, "job.toml")


def test_a_number_where_a_string_goes_reads_as_its_text(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('id = "t"\nversion = 2\nuser_prompt = "x"\n[schema]\ntype = "object"\n', encoding="utf-8")
    assert load_template_file(str(path)).version == "2"
