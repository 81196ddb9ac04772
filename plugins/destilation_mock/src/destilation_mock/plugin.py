"""Entry point of destilation-mock: registers the `mock` and `mock_judge` provider kinds."""

from __future__ import annotations

from destilation import ProviderRegistrar, hookimpl


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    # Imported here so loading the entry point (e.g. for `destiler --help`) stays cheap.
    from destilation_mock.config import MockConfig
    from destilation_mock.judge import MockJudge, MockJudgeConfig
    from destilation_mock.provider import MockProvider

    register("mock", MockProvider, config=MockConfig)
    register("mock_judge", MockJudge, config=MockJudgeConfig)
