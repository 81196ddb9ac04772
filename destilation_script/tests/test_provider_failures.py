"""Children that crash, hang, print garbage, flood stdout or refuse to start; typed errors they send."""

from __future__ import annotations

import os

import anyio
import pytest
from script_helpers import alive, ask

from destilation import PluginContext, ProviderError, ProviderInfo, Secret
from destilation_script.config import ScriptConfig
from destilation_script.factory import make_provider

pytestmark = pytest.mark.anyio


async def test_a_crash_mid_request_fails_it_retryably_and_the_retry_gets_an_answer(build, events, tmp_path) -> None:
    marker = tmp_path / "crashed"
    provider = build(
        f"""
        hello()
        for message in requests():
            if first_life({str(marker)!r}):
                os._exit(3)  # dies holding the request
            result(message, "second life")
        """
    )
    try:
        with pytest.raises(ProviderError, match="exited") as caught:
            await provider.generate(ask("q"))
        assert caught.value.retryable is True and "exit code 3" in str(caught.value)
        assert provider.health_details()["restarts"] == 1
        assert (await provider.generate(ask("q"))).text == "second life"  # what the policy's retry gets
        assert provider.health_details()["restarts"] == 1
    finally:
        await provider.aclose()
    assert [e.kind for e in events].count("script_started") == 2
    crashed = [e for e in events if e.kind == "script_crashed"]
    assert len(crashed) == 1 and "restarted" in crashed[0].message


async def test_every_request_a_crashed_child_held_fails_retryably(build) -> None:
    provider = build(
        """
        hello()
        held = 0
        for message in requests():
            held += 1
            if held == 3:
                os._exit(1)
        """
    )
    failures: list[ProviderError] = []

    async def one() -> None:
        try:
            await provider.generate(ask("q"))
        except ProviderError as exc:
            failures.append(exc)

    try:
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(one)
    finally:
        await provider.aclose()
    assert len(failures) == 3 and all(f.retryable for f in failures)


async def test_a_hanging_request_times_out_and_the_child_is_told_to_cancel_it(build, events) -> None:
    provider = build(
        """
        hello()
        for line in sys.stdin:
            message = json.loads(line)
            if message["type"] == "cancel":
                print("cancelled", message["id"], file=sys.stderr, flush=True)
            elif message["type"] == "generate" and prompt(message) != "hang":
                result(message)
        """,
        timeout_s=0.3,
    )
    try:
        with pytest.raises(ProviderError, match=r"no answer within 0.3 s") as caught:
            await provider.generate(ask("hang"))
        assert caught.value.retryable is True
        for _ in range(50):  # stderr is read while requests are out: ask until its line came in
            assert (await provider.generate(ask("fine"))).text == "fine"  # the child is still good
            if any(e.kind == "script_stderr" for e in events):
                break
    finally:
        await provider.aclose()
    assert [e.message for e in events if e.kind == "script_stderr"] == ["t: cancelled 1"]


async def test_a_child_that_answers_nothing_in_time_is_taken_for_hung_and_restarted(build, events) -> None:
    provider = build("hello()\nfor m in requests(): pass\n", timeout_s=0.1, max_timeouts=2)
    try:
        await provider.models()
        first = provider.health_details()["pid"]
        for _ in range(2):
            with pytest.raises(ProviderError, match="no answer within"):
                await provider.generate(ask("q"))
        assert provider.health_details() == {"pid": None, "restarts": 1, "script": "test-child"}
        await provider.models()  # a new child
        assert provider.health_details()["pid"] not in (None, first)
    finally:
        await provider.aclose()
    crashed = [e.message for e in events if e.kind == "script_crashed"]
    assert len(crashed) == 1 and "answered none of 2 requests in a row in time (hung)" in crashed[0]


async def test_a_reply_after_the_timeout_or_to_an_unknown_id_is_ignored(build) -> None:
    provider = build(
        """
        hello()
        for message in requests():
            if prompt(message) == "slow":
                time.sleep(0.5)
            send({"type": "result", "id": 999, "content": "nobody asked"})
            result(message)
        """,
        timeout_s=0.3,
    )
    try:
        with pytest.raises(ProviderError, match="no answer"):
            await provider.generate(ask("slow"))
        assert (await provider.generate(ask("next"))).text == "next"
    finally:
        await provider.aclose()


async def test_garbage_on_stdout_becomes_events_and_is_ignored(build, events) -> None:
    provider = build(
        """
        hello()
        for message in requests():
            print("loading weights...", flush=True)
            print("[1, 2]", flush=True)
            print("", flush=True)
            send({"type": "progress", "id": message["id"]})  # a message of a newer protocol: ignored
            result(message)
        """
    )
    try:
        assert (await provider.generate(ask("q"))).text == "q"
    finally:
        await provider.aclose()
    garbage = [e for e in events if e.kind == "script_garbage"]
    assert [e.message for e in garbage] == [
        "t: ignored a line on stdout (not a JSON line): loading weights...",
        "t: ignored a line on stdout (not a JSON object): [1, 2]",
    ]
    assert all(e.severity == "warning" and e.provider == "t" for e in garbage)


async def test_too_much_garbage_in_a_row_restarts_the_child(build, tmp_path) -> None:
    marker = tmp_path / "babbled"
    provider = build(
        f"""
        hello()
        for message in requests():
            if first_life({str(marker)!r}):  # one write: the babble and the answer arrive together
                reply = {{"type": "result", "id": message["id"], "content": "too late"}}
                sys.stdout.write("babble\\n" * 5 + json.dumps(reply) + "\\n")
                sys.stdout.flush()
                time.sleep(30)
            result(message)
        """,
        max_garbage_lines=3,
    )
    try:
        with pytest.raises(ProviderError, match="3 lines in a row that are not protocol messages") as caught:
            await provider.generate(ask("q"))
        assert caught.value.retryable is True
        assert (await provider.generate(ask("q"))).text == "q"
    finally:
        await provider.aclose()


async def test_a_line_over_the_cap_restarts_the_child_and_fails_the_request_retryably(build, tmp_path) -> None:
    marker = tmp_path / "flooded"
    provider = build(
        f"""
        hello()
        for message in requests():
            if first_life({str(marker)!r}):
                sys.stdout.write("x" * 300_000)  # no newline in sight
                sys.stdout.flush()
                time.sleep(30)
            result(message, "y" * 1000)
        """,
        max_line_bytes=64 * 1024,
    )
    try:
        with pytest.raises(ProviderError, match=r"longer than 65536 bytes \(max_line_bytes\)") as caught:
            await provider.generate(ask("q"))
        assert caught.value.retryable is True
        assert (await provider.generate(ask("q"))).text == "y" * 1000
    finally:
        await provider.aclose()


async def test_stderr_lines_become_redacted_events_cut_to_size(build, events) -> None:
    provider = build(
        """
        print("warming up with key " + os.environ["KEY"], file=sys.stderr, flush=True)
        print("z" * 800, file=sys.stderr, flush=True)
        hello()
        for message in requests():
            result(message)
        """,
        env={"KEY": Secret("sk-test-very-secret-0001")},
    )
    try:
        for _ in range(50):  # stderr is read while requests are out: ask until both lines came in
            assert (await provider.generate(ask("q"))).text == "q"
            if sum(e.kind == "script_stderr" for e in events) == 2:
                break
    finally:
        await provider.aclose()
    lines = [e for e in events if e.kind == "script_stderr"]
    assert lines[0].message == "t: warming up with key ***"
    assert lines[1].data == {"truncated": True} and len(lines[1].message) == 500
    assert all("very-secret" not in repr(e) for e in events)


async def test_a_child_that_keeps_failing_at_start_up_gives_a_clear_error(build, events) -> None:
    provider = build('print("fatal: no model file", file=sys.stderr)\nsys.exit(1)\n', max_start_failures=2)
    with pytest.raises(ProviderError) as caught:
        await provider.generate(ask("q"))
    message = str(caught.value)
    assert caught.value.retryable is False and caught.value.fatal  # the job stops: no task can be served
    assert message.startswith("t: the program failed to start 2 times in a row: the program exited (exit code 1)")
    assert message.endswith("before the handshake; stderr: fatal: no model file")
    assert [e.kind for e in events].count("script_start_failed") == 1
    with pytest.raises(ProviderError, match="failed to start 2 times"):  # it stays refused
        await provider.models()
    await provider.aclose()


async def test_a_child_that_says_no_hello_in_time_is_a_failed_start(build) -> None:
    provider = build("time.sleep(30)\n", startup_timeout_s=0.2, max_start_failures=1)
    with pytest.raises(ProviderError, match=r"sent no hello within 0.2 s \(startup_timeout_s\) before the handshake"):
        await provider.generate(ask("q"))


async def test_a_child_of_another_protocol_version_is_refused_at_once(build) -> None:
    provider = build("send({'type': 'hello', 'protocol': 2})\ntime.sleep(30)\n")
    with pytest.raises(ProviderError, match="speaks protocol 2; this provider speaks 1") as caught:
        await provider.generate(ask("q"))
    assert caught.value.retryable is False and caught.value.fatal


async def test_a_program_gone_before_its_first_start_is_refused_with_its_name(context: PluginContext, tmp_path) -> None:
    program = tmp_path / "provider"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    config = ScriptConfig(command=[str(program)])
    provider = make_provider(config, context, ProviderInfo("t", "script", "m"))
    program.unlink()
    with pytest.raises(ProviderError, match=r"cannot start '.*provider': No such file or directory") as caught:
        await provider.generate(ask("q"))
    assert caught.value.retryable is False


async def test_a_child_that_left_while_idle_is_found_out_by_the_next_write(build, tmp_path) -> None:
    marker = tmp_path / "left"
    provider = build(
        f"""
        hello()
        if first_life({str(marker)!r}):
            sys.exit(0)  # gone while nobody is asking
        for message in requests():
            result(message)
        """
    )
    try:
        await provider.models()  # started, handshake done
        for _ in range(100):
            if not alive(int(str(provider.health_details()["pid"]))):
                break
            await anyio.sleep(0.01)
        with pytest.raises(ProviderError, match="closed its stdin") as caught:
            await provider.generate(ask("q"))
        assert caught.value.retryable is True
        assert (await provider.generate(ask("q"))).text == "q"
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    ("error", "status", "retryable", "retry_after"),
    [
        ({"kind": "rate_limited", "message": "slow down", "retry_after": 2.5}, 429, True, 2.5),
        ({"kind": "auth", "message": "bad key"}, 401, False, None),
        ({"kind": "server"}, 500, True, None),
        ({"kind": "quota_gone", "retryable": False}, None, False, None),
    ],
)
async def test_typed_errors_become_provider_errors_the_policy_classifies(
    build, error, status, retryable, retry_after
) -> None:
    provider = build(
        f"""
        hello()
        for message in requests():
            send({{"type": "error", "id": message["id"], **{error!r}}})
        """
    )
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.generate(ask("q"))
    finally:
        await provider.aclose()
    assert (caught.value.status, caught.value.retryable, caught.value.retry_after) == (status, retryable, retry_after)
    assert str(caught.value).startswith(f"t: {error['kind']}: {error.get('message', error['kind'])}")


async def test_a_malformed_result_fails_its_request_retryably(build) -> None:
    provider = build("hello()\nfor m in requests(): send({'type': 'result', 'id': m['id'], 'content': 5})\n")
    try:
        with pytest.raises(ProviderError, match='malformed result: result: "content" must be a string') as caught:
            await provider.generate(ask("q"))
    finally:
        await provider.aclose()
    assert caught.value.retryable is True


async def test_the_whole_process_group_is_gone_after_aclose(build, tmp_path) -> None:
    # A child that starts a helper, ignores stdin closing and SIGTERM: only SIGKILL of the group ends both.
    provider = build(
        """
        import signal, subprocess
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        hello(name=str(helper.pid))
        for message in requests():
            result(message)
        while True:
            time.sleep(1)
        """,
        shutdown_grace_s=0.2,
    )
    assert (await provider.generate(ask("q"))).text == "q"
    pid = provider.health_details()["pid"]
    helper = int(str(provider.health_details()["script"]))
    assert isinstance(pid, int) and alive(pid) and alive(helper)
    await provider.aclose()
    assert not alive(pid)
    for _ in range(200):  # the helper is reparented; its reaper may take a moment
        if not alive(helper):
            break
        await anyio.sleep(0.01)
    assert not alive(helper)


async def test_a_forked_worker_never_stops_its_parents_child(build, monkeypatch) -> None:
    provider = build("hello()\nfor m in requests(): result(m)\n")
    assert (await provider.generate(ask("q"))).text == "q"
    pid = provider.health_details()["pid"]
    real = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real + 1)
    await provider.aclose()  # in "another process": nothing of the parent's is touched
    assert isinstance(pid, int) and alive(pid)
    monkeypatch.setattr(os, "getpid", lambda: real)
    await provider.aclose()
    assert not alive(pid)


async def test_closing_the_provider_fails_the_requests_it_held_retryably(build, events) -> None:
    provider = build("hello()\nfor m in requests(): print('holding', m['id'], file=sys.stderr, flush=True)\n")
    failures: list[ProviderError] = []

    async def one() -> None:
        try:
            await provider.generate(ask("q"))
        except ProviderError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(2):
            group.start_soon(one)
        await provider.models()
        while sum(e.kind == "script_stderr" for e in events) < 2:  # both requests are with the child
            await anyio.sleep(0.01)
        await provider.aclose()
    assert [str(f) for f in failures] == ["t: the provider was closed"] * 2
    assert all(f.retryable for f in failures)
    assert not any(e.kind == "script_crashed" for e in events)  # a shutdown is not a crash
