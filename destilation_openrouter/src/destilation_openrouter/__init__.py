"""Destilation provider for OpenRouter and any OpenAI-compatible chat server (vLLM, llama.cpp, LM Studio)."""
