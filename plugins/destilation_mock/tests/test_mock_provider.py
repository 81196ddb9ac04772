"""The mock provider: determinism, exact and statistical fault rates, schema-valid answers, usage."""

from __future__ import annotations

import json
from typing import Any

import anyio
import attrs
import jsonschema
import pytest

from destilation import GenerationRequest, Message, ProviderError, ProviderInfo
from destilation_mock.config import MockConfig
from destilation_mock.provider import DEFAULT_CAPABILITIES, TEXT_SCHEMA, MockProvider, prompt_text, tokens

pytestmark = pytest.mark.anyio

QA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 10},
        "answer": {"type": "string", "minLength": 1},
        "difficulty": {"enum": ["easy", "medium", "hard"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["question", "answer", "difficulty"],
    "additionalProperties": False,
}

QA_VALIDATOR = jsonschema.Draft202012Validator(QA_SCHEMA)


def provider(**config: Any) -> MockProvider:
    return MockProvider(MockConfig(**config), None, ProviderInfo(name="teacher", kind="mock", model=""))


def request(
    prompt: str = "Write a question about photosynthesis.",
    schema: dict[str, Any] | None = QA_SCHEMA,
    attempt: int = 1,
    reasoning: bool = False,
) -> GenerationRequest:
    messages = (Message("system", "You write exam questions."), Message("user", prompt))
    return GenerationRequest(messages=messages, response_schema=schema, attempt=attempt, reasoning=reasoning)


PROMPTS = [f"Write a question about topic number {i} in cell biology." for i in range(600)]


def not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


async def test_info_defaults_capabilities_and_model() -> None:
    bare = ProviderInfo(name="m", kind="mock", model="")
    mock = MockProvider(None, None, bare)
    assert mock.info() == ProviderInfo(name="m", kind="mock", model="", capabilities=DEFAULT_CAPABILITIES)
    assert await mock.models() == ["mock-1"]
    declared = ProviderInfo(name="m", kind="mock", model="tiny", capabilities=frozenset({"json_schema"}))
    mock = MockProvider(MockConfig(), None, declared)
    assert mock.info() is declared
    assert await mock.models() == ["tiny"]
    generation = await mock.generate(request())
    assert (generation.provider, generation.model) == ("m", "tiny")


async def test_same_request_gives_the_same_text() -> None:
    first = await provider(seed=4).generate(request(reasoning=True))
    second = await provider(seed=4).generate(request(reasoning=True))
    assert (first.text, first.reasoning, first.usage) == (second.text, second.reasoning, second.usage)


async def test_attempt_seed_and_prompt_each_change_the_answer() -> None:
    mock = provider()
    base = await mock.generate(request())
    assert (await mock.generate(request(attempt=2))).text != base.text
    assert (await provider(seed=1).generate(request())).text != base.text
    assert (await mock.generate(request("Write a question about mitosis."))).text != base.text
    same_prompt_other_task = attrs.evolve(request(), seed=12345)
    assert (await mock.generate(same_prompt_other_task)).text != base.text
    assert (await mock.generate(same_prompt_other_task)).text == (await mock.generate(same_prompt_other_task)).text


async def test_answers_are_schema_valid_and_distinct_across_prompts() -> None:
    mock = provider()
    seen = set()
    for prompt in PROMPTS[:300]:
        generation = await mock.generate(request(prompt))
        assert generation.finish_reason == "stop"
        content = json.loads(generation.text)
        QA_VALIDATOR.validate(content)
        # Exact dedup folds case and whitespace; the samples must survive it.
        seen.add(json.dumps(content, sort_keys=True).casefold())
    assert len(seen) == 300


async def test_strings_use_the_words_of_the_last_user_message() -> None:
    generation = await provider().generate(request("Explain chlorophyll absorption spectra to students."))
    content = json.loads(generation.text)
    text = f"{content['question']} {content['answer']}".lower()
    assert any(word in text for word in ("chlorophyll", "absorption", "spectra", "explain", "students"))


async def test_no_schema_means_a_text_object() -> None:
    content = json.loads((await provider().generate(request(schema=None))).text)
    jsonschema.validate(content, TEXT_SCHEMA)
    assert content["text"].strip()


async def test_no_user_message_still_answers() -> None:
    only_system = GenerationRequest(messages=(Message("system", "Be brief."),), response_schema=QA_SCHEMA)
    QA_VALIDATOR.validate(json.loads((await provider().generate(only_system)).text))


async def test_rates_of_zero_never_fault() -> None:
    mock = provider(failure_rate=0, garbage_rate=0, truncation_rate=0)
    for prompt in PROMPTS[:200]:
        generation = await mock.generate(request(prompt))
        assert generation.finish_reason == "stop"
        QA_VALIDATOR.validate(json.loads(generation.text))


async def test_failure_rate_one_always_fails_retryably() -> None:
    mock = provider(failure_rate=1)
    for prompt in PROMPTS[:50]:
        with pytest.raises(ProviderError) as info:
            await mock.generate(request(prompt))
        assert info.value.retryable is True
        assert str(info.value) == "mock provider failed on purpose (failure_rate=1)"


async def test_a_failure_is_transient_the_same_request_sent_again_rolls_again() -> None:
    async def sends_until_answered(mock: MockProvider, prompt: str) -> tuple[int, str]:
        for sent in range(1, 100):
            try:
                return sent, (await mock.generate(request(prompt))).text
            except ProviderError:
                continue
        raise AssertionError("never answered")

    first, again, sound = provider(failure_rate=0.5), provider(failure_rate=0.5), provider()
    outcomes = [await sends_until_answered(first, prompt) for prompt in PROMPTS[:40]]
    assert max(sent for sent, _ in outcomes) > 1, "with half the requests failing, some must need a second send"
    # The same history of calls gives the same outcomes, and the answer that gets through is the usual one.
    assert outcomes == [await sends_until_answered(again, prompt) for prompt in PROMPTS[:40]]
    assert [text for _, text in outcomes] == [(await sound.generate(request(p))).text for p in PROMPTS[:40]]


async def test_garbage_rate_one_always_returns_non_json() -> None:
    mock = provider(garbage_rate=1)
    texts = set()
    for prompt in PROMPTS[:60]:
        generation = await mock.generate(request(prompt))
        assert generation.finish_reason == "stop"
        assert not_json(generation.text)
        texts.add(generation.text[:2])
    # Several kinds show up: prose ("Su"), broken JSON ("{'") and markdown ("##").
    assert texts == {"Su", "{'", "##"}


async def test_truncation_rate_one_cuts_valid_json_in_half() -> None:
    whole = provider()
    cut = provider(truncation_rate=1)
    for prompt in PROMPTS[:100]:
        full = (await whole.generate(request(prompt))).text
        generation = await cut.generate(request(prompt))
        assert generation.finish_reason == "length"
        assert not_json(generation.text)
        assert full.startswith(generation.text)
        assert len(generation.text) == len(full) // 2


@pytest.mark.parametrize(
    ("schema", "length"),
    [
        ({"type": "integer", "minimum": 100000, "maximum": 100000}, 4),
        ({"type": "number", "minimum": 12.5, "maximum": 12.5}, 3),
    ],
)
async def test_truncated_numbers_do_not_parse(schema: dict[str, Any], length: int) -> None:
    generation = await provider(truncation_rate=1).generate(request(schema=schema))
    assert len(generation.text) == length
    assert not_json(generation.text)


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ({"failure_rate": 0.3}, {"failed": 0.3}),
        ({"garbage_rate": 0.2}, {"garbage": 0.2}),
        ({"truncation_rate": 0.4}, {"truncated": 0.4}),
        ({"failure_rate": 0.5, "garbage_rate": 0.5}, {"failed": 0.5, "garbage": 0.25}),
    ],
)
async def test_rates_are_roughly_right(rates: dict[str, float], expected: dict[str, float]) -> None:
    mock = provider(seed=11, **rates)
    counts = {"failed": 0, "garbage": 0, "truncated": 0}
    for prompt in PROMPTS:
        try:
            generation = await mock.generate(request(prompt))
        except ProviderError:
            counts["failed"] += 1
            continue
        if generation.finish_reason == "length":
            counts["truncated"] += 1
        elif not_json(generation.text):
            counts["garbage"] += 1
    for name, share in counts.items():
        assert abs(share / len(PROMPTS) - expected.get(name, 0.0)) <= 0.06, (name, share)


async def test_reasoning_only_when_asked() -> None:
    asked = await provider().generate(request(reasoning=True))
    assert asked.reasoning
    assert asked.usage.reasoning_tokens == tokens(asked.reasoning)
    plain = await provider().generate(request())
    assert plain.reasoning is None
    assert plain.usage.reasoning_tokens == 0


async def test_usage_cost_and_latency() -> None:
    req = request()
    generation = await provider().generate(req)
    assert generation.usage.prompt_tokens == tokens(prompt_text(req.messages)) > 0
    assert generation.usage.completion_tokens == tokens(generation.text) > 0
    assert generation.cost == 0.0
    assert generation.latency_s >= 0.0
    assert (tokens(""), tokens("abcd"), tokens("abcde")) == (0, 1, 2)


async def test_zero_latency_never_yields_to_the_event_loop() -> None:
    # Under an already-expired deadline any await point would cancel the call; none happens.
    with anyio.move_on_after(0) as scope:
        generation = await provider().generate(request())
    assert not scope.cancelled_caught
    assert generation.text


async def test_configured_latency_sleeps() -> None:
    # The sleep is an await point, so an expired deadline cancels the call before it answers.
    mock = provider(latency_ms=60_000)
    answered = False
    with anyio.move_on_after(0) as scope:
        await mock.generate(request())
        answered = True
    assert scope.cancelled_caught
    assert not answered


async def test_unusable_schema_is_a_non_retryable_provider_error() -> None:
    with pytest.raises(ProviderError) as info:
        await provider().generate(request(schema={"type": "integer", "minimum": 5, "maximum": 1}))
    assert info.value.retryable is False
    assert str(info.value) == (
        "mock provider cannot answer this response schema: $: no integer lies between the minimum and the maximum"
    )


async def test_aclose_is_harmless() -> None:
    async with provider() as mock:
        assert (await mock.generate(request())).text


LONG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "minLength": 300}},
    "required": ["answer"],
}


def word_set(text: str) -> set[str]:
    words = json.loads(text)["answer"].lower().replace(".", " ").split()
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


async def test_repeat_one_makes_every_answer_a_valid_near_copy_of_the_same_one() -> None:
    mock = provider(repeat=1.0)
    texts = [(await mock.generate(request(p, schema=LONG_SCHEMA))).text for p in PROMPTS[:40]]
    qa = [json.loads((await mock.generate(request(p))).text) for p in PROMPTS[:20]]
    for value in qa:
        QA_VALIDATOR.validate(value)
    shingled = [word_set(t) for t in texts]
    similarities = [len(a & b) / len(a | b) for i, a in enumerate(shingled) for b in shingled[i + 1 :]]
    assert min(similarities) > 0.75
    assert len(set(texts)) > 5  # near copies, not one answer over and over


async def test_repeat_is_its_own_draw_so_other_answers_do_not_change() -> None:
    plain, repeating = provider(), provider(repeat=0.5)
    copies = 0
    for prompt in PROMPTS[:200]:
        ours = (await repeating.generate(request(prompt, schema=LONG_SCHEMA))).text
        theirs = (await plain.generate(request(prompt, schema=LONG_SCHEMA))).text
        if ours != theirs:
            copies += 1
            assert len(word_set(ours) & word_set(theirs)) < 5
    assert 70 < copies < 130


async def test_a_repeated_answer_may_be_original_on_the_next_attempt() -> None:
    mock = provider(repeat=0.5)
    plain = provider()
    answers = {(await mock.generate(request(PROMPTS[0], attempt=n))).text for n in range(1, 9)}
    originals = {(await plain.generate(request(PROMPTS[0], attempt=n))).text for n in range(1, 9)}
    assert answers & originals and answers - originals


async def test_a_repeated_answer_without_words_is_the_same_every_time() -> None:
    mock = provider(repeat=1.0)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    answers = {(await mock.generate(request(p, schema=schema))).text for p in PROMPTS[:10]}
    assert len(answers) == 1
