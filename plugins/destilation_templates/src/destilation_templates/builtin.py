"""The built-in templates, kept as plain data so they read like the TOML files users write."""

from __future__ import annotations

from destilation import FewShot, Template

SIMPLE_SYSTEM_PROMPT = """\
You are an expert teacher writing training data for a smaller model. Each request asks for one \
question and its answer.

The question must be self-contained: someone who reads only the question has everything needed to \
answer it. Never refer to "the text above", "this passage", earlier questions or any material that \
is not included in the question itself. Ask one specific, unambiguous thing.

The answer must be correct and complete. Answer exactly what was asked, show the reasoning or steps \
where they help understanding, and state the final result plainly. Be factually accurate: never \
invent facts, sources, quotes or numbers. Do not mention that you are an AI, do not refer to these \
instructions, and add no greetings or closing remarks.

Match the requested topic, difficulty and persona: phrase the question the way that person would \
ask it and pitch the answer to them. If a line of the request still shows a placeholder in braces, \
such as {persona}, that part was left open: choose a fitting value yourself."""

SIMPLE = Template(
    id="simple",
    version="1",
    mode="simple",
    description=(
        "One self-contained question with a correct, complete answer. "
        "Axes used by the prompt: topic, persona, difficulty (each optional; an absent one is left to the model)."
    ),
    schema={
        "type": "object",
        "properties": {
            "question": {
                "type": "string",
                "minLength": 10,
                "description": "A self-contained question that can be answered without any other context.",
            },
            "answer": {
                "type": "string",
                "minLength": 1,
                "description": "A correct and complete answer to the question.",
            },
        },
        "required": ["question", "answer"],
        "additionalProperties": False,
    },
    system_prompt=SIMPLE_SYSTEM_PROMPT,
    user_prompt=(
        "Write one question and its answer.\n"
        "Topic: {topic}\n"
        "Difficulty: {difficulty}\n"
        "The question is asked by: {persona}"
    ),
    few_shot=(
        FewShot(
            variables={"topic": "photosynthesis", "difficulty": "easy", "persona": "a curious 12-year-old"},
            output={
                "question": "Why do plants need sunlight to make their own food, and what do they make it from?",
                "answer": (
                    "Plants make their food by photosynthesis. Their leaves take in carbon dioxide from the air "
                    "and their roots take up water from the soil. Chlorophyll, the green substance in the leaves, "
                    "catches energy from sunlight, and the plant uses that energy to join carbon dioxide and water "
                    "into glucose, a sugar it uses to live and grow. Oxygen is given off as a by-product. Without "
                    "sunlight there is no energy to drive this process, so the plant cannot make new food."
                ),
            },
        ),
        FewShot(
            variables={
                "topic": "conditional probability",
                "difficulty": "medium",
                "persona": "a first-year statistics student",
            },
            output={
                "question": (
                    "Two fair six-sided dice are rolled. Given that at least one die shows a 5, "
                    "what is the probability that the two numbers add up to 8?"
                ),
                "answer": (
                    "Use P(A | B) = P(A and B) / P(B), where A is 'the sum is 8' and B is 'at least one die shows "
                    "a 5'. There are 36 equally likely outcomes. B happens in 11 of them: 6 with a 5 on the first "
                    "die, 6 with a 5 on the second, minus the outcome (5, 5) counted twice. Among those 11, the sum "
                    "is 8 only for (5, 3) and (3, 5), so 2 outcomes. Therefore P(A | B) = (2/36) / (11/36) = 2/11, "
                    "which is about 0.18."
                ),
            },
        ),
    ),
    default_validators=("truncation", "json_schema", "rules", "exact_dedup"),
    capabilities=("json_schema",),
)

MOE_SYSTEM_PROMPT = """\
You lead a panel of experts who each answered the same request from their own field. Decide which \
expert's field the request belongs to (the domain label: one of the experts' names), then write the \
final answer: correct, complete and plainly stated, taking what each expert got right and settling \
where they disagree. Never invent facts, sources or numbers, do not mention the panel or these \
instructions, and add no greetings or closing remarks."""

MOE = Template(
    id="moe",
    version="1",
    mode="moe",
    description=(
        "A mixture of experts: each expert declared in the job's [mode] table answers the request, an "
        "aggregator labels its domain and writes the final answer. Axes used by the prompt: topic, persona, "
        "difficulty (each optional)."
    ),
    # Loose on purpose where the mode's own rules are stricter: an unknown label, a silent expert or an
    # empty final answer is reported by `moe_rules` under its own code rather than as a schema error.
    schema={
        "type": "object",
        "properties": {
            "question": {"type": "string", "minLength": 1, "description": "The request every expert answered."},
            "domain": {"type": "string", "description": "The name of the expert whose field the request is in."},
            "experts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "answer": {"type": "string"}},
                    "required": ["name", "answer"],
                    "additionalProperties": False,
                },
                "description": "Each expert's answer, labelled with its name.",
            },
            "answer": {"type": "string", "description": "The final answer, merged from the experts' answers."},
        },
        "required": ["question", "domain", "experts", "answer"],
        "additionalProperties": False,
    },
    system_prompt=MOE_SYSTEM_PROMPT,
    user_prompt=(
        "Explain {topic} to {persona}, at {difficulty} level: the key facts, an example where one helps, "
        "and the most common misconception."
    ),
    default_validators=("truncation", "json_schema", "rules", "exact_dedup"),
    capabilities=("json_schema",),
)

"""Every built-in template, in registration order."""
REASONING_SYSTEM_PROMPT = """\
You are an expert teacher writing step-by-step solutions as training data for a smaller model. \
Each request asks for one question that takes several steps of thought, the reasoning that solves \
it, and the final answer.

The question must be self-contained and have one correct answer. Never refer to material that is \
not included in the question itself.

Write the reasoning in the "reasoning" field, one step per line: each line does one thing (recall \
a fact, set up an equation, compute, check) and says why. Do not skip steps a student would need. \
Then give the final answer in the "answer" field: the result stated plainly, without repeating the \
reasoning. Never leave the answer empty. Be factually accurate and never invent facts or numbers. \
Do not mention that you are an AI and add no greetings or closing remarks.

Match the requested topic and difficulty. If a line of the request still shows a placeholder in \
braces, such as {difficulty}, that part was left open: choose a fitting value yourself."""

REASONING = Template(
    id="reasoning",
    version="1",
    mode="reasoning",
    description=(
        "A question that takes several steps, its reasoning trace and the final answer; the provider's "
        "native reasoning fills the trace when it returns one. "
        "Axes used by the prompt: topic, difficulty (each optional; an absent one is left to the model)."
    ),
    schema={
        "type": "object",
        "properties": {
            "question": {
                "type": "string",
                "minLength": 10,
                "description": "A self-contained question that takes several steps of reasoning.",
            },
            "reasoning": {
                "type": "string",
                "description": "The reasoning that solves the question, one step per line.",
            },
            "answer": {
                "type": "string",
                "minLength": 1,
                "description": "The final answer, stated plainly.",
            },
        },
        # `reasoning` may be left to the provider's native trace; the mode's rules require one.
        "required": ["question", "answer"],
        "additionalProperties": False,
    },
    system_prompt=REASONING_SYSTEM_PROMPT,
    user_prompt=(
        "Write one question that takes several steps of reasoning, reason it through, and give the final answer.\n"
        "Topic: {topic}\n"
        "Difficulty: {difficulty}"
    ),
    few_shot=(
        FewShot(
            variables={"topic": "percentages", "difficulty": "medium"},
            output={
                "question": (
                    "A jacket costs 80 euros. It is discounted by 25 %, and then a 10 % tax is added to the "
                    "discounted price. What is the final price?"
                ),
                "reasoning": (
                    "The discount is 25 % of 80 euros, which is 0.25 * 80 = 20 euros.\n"
                    "The discounted price is 80 - 20 = 60 euros.\n"
                    "The tax is 10 % of the discounted price: 0.10 * 60 = 6 euros.\n"
                    "The final price is 60 + 6 = 66 euros."
                ),
                "answer": "66 euros.",
            },
        ),
    ),
    default_validators=("truncation", "json_schema", "rules", "exact_dedup"),
    capabilities=("json_schema",),
)
"""Needs no `reasoning` capability: a provider without native reasoning writes the trace in the schema field."""

TOOLS_SYSTEM_PROMPT = """\
You are a helpful assistant that can call tools. When a tool can provide facts you need, call it \
with arguments that follow its parameters schema; you may call several tools, one after another. \
Once the tool results tell you enough, answer the user in plain text, without calling a tool, \
using the results faithfully. Never invent a tool or a result."""

_TOOL_CALL = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "name": {"type": "string", "minLength": 1},
        "arguments": {"type": "string", "description": "The arguments as the JSON text the model sent."},
    },
    "required": ["id", "name", "arguments"],
    "additionalProperties": False,
}

TOOLS = Template(
    id="tools",
    version="1",
    mode="tools",
    description=(
        "A tool-use conversation: the user's request, assistant tool calls, tool results and a final answer, "
        "made by a real multi-turn loop over the tools the job's [mode] table declares. "
        "The user prompt is the axis or input column `request`."
    ),
    schema={
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "properties": {
                        "role": {"enum": ["system", "user", "assistant", "tool"]},
                        "content": {"type": "string"},
                        "reasoning": {"type": "string"},
                        "tool_calls": {"type": "array", "items": _TOOL_CALL},
                        "tool_call_id": {"type": "string"},
                        "name": {"type": "string", "description": "The tool a result comes from."},
                    },
                    "required": ["role", "content"],
                    "additionalProperties": False,
                },
            },
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "parameters": {"type": "object"},
                    },
                    "required": ["name", "description", "parameters"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["messages", "tools"],
        "additionalProperties": False,
    },
    system_prompt=TOOLS_SYSTEM_PROMPT,
    user_prompt="{request}",
    default_validators=("truncation", "json_schema", "exact_dedup"),
    capabilities=("tools",),
)

BUILTIN: tuple[Template, ...] = (SIMPLE, MOE, REASONING, TOOLS)
"""Every built-in template, in registration order."""
