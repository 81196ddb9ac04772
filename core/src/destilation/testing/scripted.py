"""`ScriptedProvider`: a provider whose answers a test writes down in advance.

Answers come from a list (one per call, in order) or from a function of the request. An answer
is the model's text, a JSON value (sent as its JSON text), a full `Generation`, or an exception
to raise, such as ``ProviderError("rate limited", status=429)``. Every request is kept in
`requests`, so a test can check the prompts and the feedback the engine sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from destilation.domain import Generation, GenerationRequest, Usage
from destilation.interfaces import Provider, ProviderError, ProviderInfo

Answer = str | dict[str, Any] | list[Any] | Generation | BaseException
Script = Sequence[Answer] | Callable[[GenerationRequest], Answer]


class ScriptedProvider(Provider):
    """Answers from `script`; a list that runs out raises a ProviderError that retrying cannot help."""

    def __init__(self, script: Script, info: ProviderInfo | None = None) -> None:
        self.script = script
        self._info = info or ProviderInfo("scripted", "scripted", "scripted-1", frozenset({"json_schema"}))
        self.requests: list[GenerationRequest] = []
        self.closed = False

    def info(self) -> ProviderInfo:
        return self._info

    async def models(self) -> list[str]:
        return [self._info.model]

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        if callable(self.script):
            answer = self.script(request)
        elif len(self.requests) <= len(self.script):
            answer = self.script[len(self.requests) - 1]
        else:
            count = len(self.script)
            raise ProviderError(f"the script has {count} answers; this is call {len(self.requests)}", retryable=False)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Generation):
            return answer
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return Generation(text, self._info.name, self._info.model, usage=Usage(len(text) // 4, len(text) // 4))

    async def aclose(self) -> None:
        self.closed = True
