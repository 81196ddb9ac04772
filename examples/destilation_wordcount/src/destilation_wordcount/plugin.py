"""Entry point module: registers the `min_words` validator."""

from __future__ import annotations

from typing import Any

from destilation import hookimpl


@hookimpl
def register_validators(register: Any) -> None:
    from destilation_wordcount.validator import MinWords, MinWordsConfig

    register("min_words", MinWords, config=MinWordsConfig)
