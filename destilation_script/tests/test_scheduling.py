"""Many requests on one child: whatever order the answers come in, each request gets its own."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from script_helpers import ask

from destilation import ProviderError, Secret

pytestmark = pytest.mark.anyio

HOLD_AND_PERMUTE = """
hello()
held = []
for message in requests():
    held.append(message)
    if len(held) == int(os.environ["BATCH"]):
        # each prompt is "RANK:TEXT": answer in the order of the ranks
        for waiting in sorted(held, key=lambda m: int(prompt(m).split(":")[0])):
            result(waiting, "answer " + prompt(waiting).split(":", 1)[1])
        held = []
"""


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(5)))
async def test_answers_in_any_order_reach_the_requests_that_asked(build, order: list[int]) -> None:
    provider = build(HOLD_AND_PERMUTE, env={"BATCH": Secret("5")})
    got: dict[int, str] = {}

    async def one(index: int) -> None:
        got[index] = (await provider.generate(ask(f"{order[index]}:{index}"))).text

    try:
        async with anyio.create_task_group() as group:
            for index in range(5):
                group.start_soon(one, index)
    finally:
        await provider.aclose()
    assert got == {index: f"answer {index}" for index in range(5)}


async def test_when_the_reading_request_times_out_a_waiting_one_takes_over(build) -> None:
    provider = build(
        """
        hello()
        for message in requests():
            if prompt(message) == "late":
                time.sleep(0.25)  # past the first request's deadline, within its own
                result(message)
        """,
        timeout_s=0.4,
    )
    outcome: dict[str, str] = {}

    async def first() -> None:
        try:
            await provider.generate(ask("never"))
        except ProviderError as exc:
            outcome["never"] = str(exc)

    async def second() -> None:
        await anyio.sleep(0.2)
        outcome["late"] = (await provider.generate(ask("late"))).text

    try:
        await provider.models()
        async with anyio.create_task_group() as group:
            group.start_soon(first)
            group.start_soon(second)
    finally:
        await provider.aclose()
    assert outcome == {"never": "t: no answer within 0.4 s (timeout_s)", "late": "late"}
