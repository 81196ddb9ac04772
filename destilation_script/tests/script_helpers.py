"""What the tests share: the helpers every child program starts with, quick options, a request maker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from destilation import GenerationRequest, Message

PRELUDE = '''\
import json, os, sys, time

def send(message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()

def hello(**fields):
    send({"type": "hello", "protocol": 1, "name": "test-child", "models": ["m1", "m2"],
          "capabilities": ["json_schema", "tools"], **fields})

def requests():
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("type") == "generate":
            yield message

def prompt(message):
    return message["request"]["messages"][-1]["content"]

def result(message, content=None, **fields):
    send({"type": "result", "id": message["id"], "content": prompt(message) if content is None else content, **fields})

def first_life(marker):
    """True the first time a child runs with this marker file: lets a test crash only once."""
    if os.path.exists(marker):
        return False
    open(marker, "w").close()
    return True
'''

FAST = {"restart_backoff_s": 0.01, "max_restart_backoff_s": 0.05, "shutdown_grace_s": 0.5, "startup_timeout_s": 10.0}
"""Options that keep restarts and shutdowns quick in tests."""


def ask(text: str, **fields: Any) -> GenerationRequest:
    return GenerationRequest(messages=(Message("user", text),), **fields)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # it ended between the two looks
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
