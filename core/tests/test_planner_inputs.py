"""An inputs file is proven able to serve its job before the job starts: rows, header, fields, count."""

from __future__ import annotations

from pathlib import Path

import pytest

from destilation.config import JobSpec
from destilation.engine.planner import InputsPlanner, check_inputs, make_planner
from destilation.errors import ConfigError
from destilation.templates import Template

TEMPLATE = Template("t", "1", "custom", {}, "system", "About {topic} for {persona}, number {index}")
FIXED = Template("fixed", "1", "custom", {}, "system", "Write anything, number {index}")


def planner_for(tmp_path: Path, name: str, text: str, count: int = 1) -> tuple[InputsPlanner, JobSpec]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    spec = JobSpec(name="j", count=count, inputs=str(path))
    planner = make_planner(spec, "job.toml")
    assert isinstance(planner, InputsPlanner)
    return planner, spec


def refusal(tmp_path: Path, name: str, text: str, count: int = 1, template: Template = TEMPLATE) -> str:
    planner, spec = planner_for(tmp_path, name, text, count)
    with pytest.raises(ConfigError) as info:
        check_inputs(planner, spec, template, "job.toml")
    return str(info.value).replace(str(tmp_path), "DIR")


def test_a_good_file_gives_its_rows_and_is_read_once(tmp_path: Path) -> None:
    planner, spec = planner_for(tmp_path, "rows.csv", "\ufefftopic,level\n\nbees,easy\ntides,hard\n", count=2)
    assert check_inputs(planner, spec, TEMPLATE, "job.toml") == 2
    assert planner.fields() == (2, {"topic", "level"})
    (tmp_path / "rows.csv").unlink()  # counted already: not read again
    assert planner.count() == 2


def test_a_template_without_fields_takes_any_rows(tmp_path: Path) -> None:
    planner, spec = planner_for(tmp_path, "rows.jsonl", '{"q": 1}\n')
    assert check_inputs(planner, spec, FIXED, "job.toml") == 1


@pytest.mark.parametrize(
    ("name", "text", "count", "line"),
    [
        ("rows.csv", "", 1, "DIR/rows.csv: the inputs file has no rows: each row makes one task"),
        ("rows.jsonl", "\n", 1, "DIR/rows.jsonl: the inputs file has no rows: each row makes one task"),
        (
            "rows.csv",
            "topic\nbees\n",
            3,
            "job.toml: $.count: 3 samples asked for, but DIR/rows.csv has 1 row and each row makes at most one "
            "sample: lower count to 1, add rows or set repeat_rows = true",
        ),
        (
            "rows.csv",
            "topic\nbees\ntides\n",
            3,
            "job.toml: $.count: 3 samples asked for, but DIR/rows.csv has 2 rows and each row makes at most one "
            "sample: lower count to 2, add rows or set repeat_rows = true",
        ),
        (
            "rows.csv",
            "bees,easy\n",
            1,
            "DIR/rows.csv: its columns (bees, easy) include none of the fields the prompt of template 't' uses "
            "(topic, persona); its first row must be a header naming the columns",
        ),
        (
            "rows.jsonl",
            '{"q": "a"}\n"bare"\n',
            1,
            "DIR/rows.jsonl: its rows' keys (prompt, q) include none of the fields the prompt of template 't' uses "
            "(topic, persona); name the keys after them",
        ),
        (
            "rows.csv",
            "topic, \nbees,easy\n",
            1,
            "DIR/rows.csv:1: column 2 of the header has no name; a CSV inputs file starts with a header row naming "
            "its columns",
        ),
        ("rows.csv", "1984,bees\n", 1, "DIR/rows.csv:1: the first row is not a header: '1984' is not a column name"),
        ("rows.csv", "topic ,x\n", 1, "DIR/rows.csv:1: the first row is not a header: 'topic ' is not a column name"),
        ("rows.csv", "a,b,a\n", 1, "DIR/rows.csv:1: the header names column 'a' twice"),
        ("rows.csv", "topic,persona\nbees,a,b\n", 1, "DIR/rows.csv:2: 3 values, but the header names 2 columns"),
    ],
)
def test_files_that_cannot_serve_the_job_are_refused_in_one_line(
    tmp_path: Path, name: str, text: str, count: int, line: str
) -> None:
    assert refusal(tmp_path, name, text, count).startswith(line)


def test_header_names_may_hold_spaces_dashes_and_underscores(tmp_path: Path) -> None:
    planner, spec = planner_for(tmp_path, "rows.csv", "topic,Long name,x-y,_z\nbees,1,2,3\n")
    assert check_inputs(planner, spec, TEMPLATE, "job.toml") == 1
    assert [s.row for s in planner.seeds(0, 1)] == [{"topic": "bees", "Long name": "1", "x-y": "2", "_z": "3"}]


def test_an_empty_axis_names_the_job_file() -> None:
    with pytest.raises(ConfigError, match=r"^job\.toml: \$\.axes\.topic: an axis needs at least one value$"):
        make_planner(JobSpec(name="j", axes={"topic": []}), "job.toml")
    with pytest.raises(ConfigError, match=r"^job j: \$\.axes\.topic"):
        make_planner(JobSpec(name="j", axes={"topic": []}))
