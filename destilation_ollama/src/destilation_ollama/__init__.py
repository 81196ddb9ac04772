"""Destilation provider for Ollama's native chat API (`/api/chat`), local or remote."""
