"""Host settings read as Ollama reads OLLAMA_HOST."""

from __future__ import annotations

import pytest

from destilation_ollama.host import BadHost, base_url, display, host_setting


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("   ", "http://127.0.0.1:11434"),
        ("localhost", "http://localhost:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("::1", "http://[::1]:11434"),
        ("[::1]:9000", "http://[::1]:9000"),
        ("10.1.2.3", "http://10.1.2.3:11434"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("HTTPS://ollama.example.org", "https://ollama.example.org:443"),
        ("https://ollama.example.org:8443/", "https://ollama.example.org:8443"),
        ("https://proxy.example.org/ollama/", "https://proxy.example.org:443/ollama"),
        ("http://me:pw@gpu-box:1", "http://me:pw@gpu-box:1"),
    ],
)
def test_settings_become_base_urls(setting: str, url: str) -> None:
    assert base_url(setting) == url


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("ftp://gpu-box", "must be host[:port] or an http:// or https:// URL"),
        ("gpu-box:abc", "is not a valid host[:port] or URL"),
        ("http://", "must name a host, with no query or fragment"),
        ("http://gpu-box/?x=1", "must name a host, with no query or fragment"),
        ("gpu-box:0", "has a port outside 1-65535"),
        ("gpu-box:70000", "has a port outside 1-65535"),
        ("gpu box", "has a character no host name has (a space, a quote, %, …)"),
        ('"gpu-box"', "has a character no host name has (a space, a quote, %, …)"),
        ("http://gpu%20box:11434", "has a character no host name has (a space, a quote, %, …)"),
    ],
)
def test_bad_settings_say_why(setting: str, why: str) -> None:
    with pytest.raises(BadHost) as info:
        base_url(setting)
    assert str(info.value) == why


def test_the_config_wins_over_the_environment() -> None:
    env = {"OLLAMA_HOST": "gpu-box:1"}
    assert host_setting("other:2", env) == "other:2"
    assert host_setting(None, env) == host_setting(" ", env) == "gpu-box:1"
    assert host_setting(None, {}) == ""


def test_display_masks_a_password() -> None:
    assert display("http://me:secretpw@gpu-box:1") == "http://me:***@gpu-box:1"
