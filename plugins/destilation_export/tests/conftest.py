"""Small real jobs for the export tests: the mock provider, run in-process, into a SQLite file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest imports test files in importlib mode, which puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from export_support import Workspace

QA_JOB = """
name = "qa"
template = "simple"
count = 6
seed = 3
[axes]
topic = ["tides", "bees"]
[providers.teacher]
kind = "mock"
model = "mock-1"
"""

# A question/answer template whose requests ask for reasoning, which the mock then returns.
THINK_TEMPLATE = """
id = "think"
mode = "reasoning"
capabilities = ["json_schema", "reasoning"]
user_prompt = "Ask and answer one question about {topic}."
[schema]
type = "object"
required = ["question", "answer"]
[schema.properties.question]
type = "string"
[schema.properties.answer]
type = "string"
"""

THINK_JOB = """
name = "think"
template = "think.toml"
count = 4
seed = 5
[axes]
topic = ["optics"]
[providers.teacher]
kind = "mock"
model = "mock-1"
"""

# Half the mock's answers are garbage, so many tasks pass only at a later attempt: dpo pairs.
PAIRS_JOB = """
name = "pairs"
template = "simple"
count = 8
seed = 11
max_attempts = 6
[axes]
topic = ["tides", "bees"]
[providers.teacher]
kind = "mock"
model = "mock-1"
garbage_rate = 0.5
"""

# The same, keeping no attempt's answer: nothing to pair.
UNKEPT_JOB = PAIRS_JOB.replace('name = "pairs"', 'name = "unkept"\nkeep_attempts = "none"')


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    pytest.importorskip("destilation_mock", reason="the jobs run on the mock provider")
    pytest.importorskip("destilation_sql", reason="the jobs run into a SQLite store")
    root = tmp_path_factory.mktemp("export")
    (root / "qa.toml").write_text(QA_JOB)
    (root / "think.toml").write_text(THINK_TEMPLATE)
    (root / "think-job.toml").write_text(THINK_JOB.replace("think.toml", str(root / "think.toml")))
    (root / "pairs.toml").write_text(PAIRS_JOB)
    (root / "unkept.toml").write_text(UNKEPT_JOB)
    space = Workspace(root)
    for job in ("qa.toml", "think-job.toml", "pairs.toml", "unkept.toml"):
        result = space.destiler("run", "-q", str(root / job))
        assert result.exit_code == 0, result.output
    return space
