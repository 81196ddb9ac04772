"""Entry point module: registers the `min_words` validator."""

from __future__ import annotations

from destilation import ValidatorRegistrar, hookimpl


@hookimpl
def register_validators(register: ValidatorRegistrar) -> None:
    from destilation_wordcount.validator import MinWords, MinWordsConfig

    register("min_words", MinWords, config=MinWordsConfig)
