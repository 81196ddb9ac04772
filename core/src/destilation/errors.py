"""Errors a user can act on. The CLI prints their message as one line and exits with their code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2


class DestilationError(Exception):
    """Base of every error meant for the user: one line, a known exit code."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(DestilationError):
    """A config or job file is wrong; the message names the file and the key path."""

    def __init__(self, source: str, message: str, path: str | None = None) -> None:
        self.source = source
        self.path = path
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")


class PluginError(DestilationError):
    """A plugin is missing, broken or registered something twice."""


class JobError(DestilationError):
    """A job cannot run or be steered as asked (unknown job, already running, …)."""

    exit_code = EXIT_JOB_FAILED


class UnknownJobError(DestilationError):
    """A job or task named on the command line is not in the store: bad input, so exit 2."""


class RequestRefused(JobError):
    """Every provider answered that it will not serve this task's request (a 400, a model it lacks).

    Waiting cannot help, so the task is rejected with the providers' reasons instead of holding
    the job; a new task replaces it, and the job's stop rule ends a job no request can pass.
    """
