import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# The testing kit's fixtures, as a plugin author gets them with
# `pytest_plugins = ["destilation.testing.pytest_plugin"]` in a top-level conftest.
from destilation.testing.pytest_plugin import kit_app, memory_store, testing_kit  # noqa: E402

__all__ = ["kit_app", "memory_store", "testing_kit"]
