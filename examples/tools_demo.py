"""Tools for examples/tools.toml: plain functions the tools mode calls with the model's arguments.

Deterministic stand-ins for real services, so the example runs offline and reruns give the same
data. A tool function takes the arguments as keywords and returns JSON data (or a string).
"""

from __future__ import annotations

import hashlib

CONDITIONS = ("sunny", "cloudy", "light rain", "snow", "windy", "fog")


def _draw(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.lower().encode(), digest_size=4).digest(), "big")


def weather(city: str, unit: str = "celsius") -> dict[str, object]:
    """Today's weather in `city`."""
    draw = _draw(city)
    celsius = draw % 35 - 5
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {"city": city, "temperature": temperature, "unit": unit, "conditions": CONDITIONS[draw % len(CONDITIONS)]}


def local_time(city: str) -> dict[str, object]:
    """The local time in `city` (a fixed, made-up clock)."""
    draw = _draw("time/" + city)
    return {"city": city, "time": f"{draw % 24:02d}:{draw // 24 % 60:02d}"}
