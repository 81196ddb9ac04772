#!/usr/bin/env python3
"""A complete script provider for destilation-script, in plain Python with no dependencies.

It answers every request with JSON that fits the request's `response_schema` (for the `simple`
template: a question and an answer), built deterministically from the prompt, so a job runs
offline and two runs give the same dataset. Replace `answer()` with a call to your own model.

Protocol: destilation_script/PROTOCOL.md. Run it by hand to see it work:
    printf '%s\n' '{"type":"hello","protocol":1}' | python3 examples/script/echo_provider.py
"""

from __future__ import annotations

import hashlib
import json
import re
import sys

NAME = "echo-provider"
MODELS = ["echo-1"]


def send(message: dict) -> None:
    # One line per message, flushed at once: the parent reads line by line.
    sys.stdout.write(json.dumps(message, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def field(prompt: str, label: str, default: str) -> str:
    found = re.search(rf"^{label}: (.+)$", prompt, re.MULTILINE)
    value = found.group(1).strip() if found else ""
    return default if not value or value.startswith("{") else value


def answer(request: dict) -> str:
    """Content for one request: a JSON object with every string property the schema names."""
    users = [m["content"] for m in request["messages"] if m["role"] == "user"]
    prompt = users[-1] if users else ""
    digest = hashlib.sha256(f"{request.get('seed')}\0{prompt}".encode()).hexdigest()[:8]
    topic = field(prompt, "Topic", "a topic of your choice")
    difficulty = field(prompt, "Difficulty", "any")
    persona = field(prompt, "The question is asked by", "a curious reader")
    texts = {
        "question": f"As {persona}, what is the key idea of {topic} at the {difficulty} level (case {digest})?",
        "answer": f"The key idea of {topic}, explained for {persona} at the {difficulty} level, case {digest}.",
    }
    schema = request.get("response_schema") or {"properties": {"text": {"type": "string"}}}
    properties = schema.get("properties", {})
    content = {key: texts.get(key, f"{key} about {topic} ({digest})") for key in properties}
    return json.dumps(content, ensure_ascii=False)


def main() -> None:
    # The child may say hello first; it does not need to wait for the parent's.
    send({"type": "hello", "protocol": 1, "name": NAME, "models": MODELS, "capabilities": ["json_schema"]})
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            print(f"ignoring a line that is not JSON: {line[:80]!r}", file=sys.stderr)
            continue
        if message.get("type") != "generate":
            continue  # the parent's hello, a cancel: nothing to do for a provider this fast
        request = message["request"]
        content = answer(request)
        send(
            {
                "type": "result",
                "id": message["id"],
                "content": content,
                "model": request.get("model") or MODELS[0],
                "finish_reason": "stop",
                "usage": {
                    "prompt_tokens": sum(len(m["content"]) // 4 for m in request["messages"]),
                    "completion_tokens": len(content) // 4,
                },
            }
        )
    # stdin closed: the parent is shutting down, so exit cleanly.


if __name__ == "__main__":
    main()
