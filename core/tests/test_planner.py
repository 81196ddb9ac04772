"""Planning is lazy and deterministic: seed i depends only on the spec and i."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation.config import JobSpec
from destilation.engine.planner import AxesPlanner, InputsPlanner, make_planner, task_rng
from destilation.errors import ConfigError

axes_strategy = st.dictionaries(
    st.sampled_from(["topic", "persona", "level", "lang"]),
    st.lists(st.text("abcdef", min_size=1, max_size=4), min_size=1, max_size=4, unique=True),
    min_size=1,
    max_size=3,
)


@given(axes_strategy)
def test_cartesian_planning_walks_the_whole_product_then_cycles(axes: dict[str, list[str]]) -> None:
    planner = AxesPlanner(JobSpec(name="j", axes=axes))
    size = 1
    for values in axes.values():
        size *= len(values)
    seen = [tuple(s.axes[n] for n in axes) for s in planner.seeds(0, size)]
    assert sorted(seen) == sorted(itertools.product(*axes.values()))
    assert planner.seed_at(size).axes == planner.seed_at(0).axes
    assert list(planner.seed_at(3).axes) == list(axes)


@given(axes_strategy, st.integers(0, 10_000), st.integers(0, 2**31))
def test_sampled_planning_is_deterministic_per_index(axes: dict[str, list[str]], index: int, seed: int) -> None:
    one = AxesPlanner(JobSpec(name="j", axes=axes, sampling="sampled", seed=seed))
    two = AxesPlanner(JobSpec(name="j", axes=axes, sampling="sampled", seed=seed))
    assert one.seed_at(index) == two.seed_at(index)
    assert all(one.seed_at(index).axes[n] in axes[n] for n in axes)


def test_task_rng_depends_on_seed_and_index() -> None:
    assert task_rng(1, 2).random() == task_rng(1, 2).random()
    assert task_rng(1, 2).random() != task_rng(1, 3).random()


def test_no_axes_plans_plain_indices() -> None:
    seeds = list(AxesPlanner(JobSpec(name="j")).seeds(5, 8))
    assert [(s.index, s.axes) for s in seeds] == [(5, {}), (6, {}), (7, {})]
    assert seeds[0].variables() == {"index": 5}


def test_an_empty_axis_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\$\.axes\.topic"):
        AxesPlanner(JobSpec(name="j", axes={"topic": []}))


def test_jsonl_inputs_one_task_per_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"q": "a"}\n\n"bare"\n{"q": "c"}\n', encoding="utf-8")
    planner = make_planner(JobSpec(name="j", inputs=str(path)))
    assert isinstance(planner, InputsPlanner)
    assert planner.count() == 3
    seeds = list(planner.seeds(1, 10))
    assert [(s.index, s.row) for s in seeds] == [(1, {"prompt": "bare"}), (2, {"q": "c"})]
    assert seeds[1].variables() == {"index": 2, "q": "c"}
    assert [s.index for s in planner.seeds(0, 2)] == [0, 1]


def test_input_pages_planned_in_order_read_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(f'{{"q": {i}}}\n' for i in range(10)), encoding="utf-8")
    planner = make_planner(JobSpec(name="j", inputs=str(path)))
    assert isinstance(planner, InputsPlanner)
    opened: list[Path] = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    pages = [list(planner.seeds(start, start + 4)) for start in (0, 4, 8)]
    assert [[s.row["q"] for s in page] for page in pages] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # type: ignore[index]
    assert opened == [path]
    assert [s.index for s in planner.seeds(2, 4)] == [2, 3]  # an earlier page: read again from the top
    assert len(opened) == 2


def test_repeat_rows_cycles_the_file_under_growing_indexes(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"q": "a"}\n{"q": "b"}\n{"q": "c"}\n', encoding="utf-8")
    planner = make_planner(JobSpec(name="j", inputs=str(path), count=8, repeat_rows=True))
    assert isinstance(planner, InputsPlanner)
    seeds = list(planner.seeds(0, 8))
    assert [(s.index, s.row["q"]) for s in seeds] == [  # type: ignore[index]
        (0, "a"),
        (1, "b"),
        (2, "c"),
        (3, "a"),
        (4, "b"),
        (5, "c"),
        (6, "a"),
        (7, "b"),
    ]
    again = make_planner(JobSpec(name="j", inputs=str(path), count=8, repeat_rows=True))
    assert list(again.seeds(4, 7)) == seeds[4:7], "a resumed or second process plans the same tasks"


def test_csv_inputs(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("topic,level\nbees,easy\ntides,hard\n", encoding="utf-8")
    seeds = list(make_planner(JobSpec(name="j", inputs=str(path))).seeds(0, 5))
    assert [s.row for s in seeds] == [{"topic": "bees", "level": "easy"}, {"topic": "tides", "level": "hard"}]


def test_input_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="input file not found"):
        make_planner(JobSpec(name="j", inputs=str(tmp_path / "none.jsonl")))
    other = tmp_path / "rows.txt"
    other.write_text("x")
    with pytest.raises(ConfigError, match=r"\.jsonl or \.csv"):
        make_planner(JobSpec(name="j", inputs=str(other)))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"a": 1}) + "\n{oops\n")
    with pytest.raises(ConfigError, match=r"broken\.jsonl:2: invalid JSON line"):
        make_planner(JobSpec(name="j", inputs=str(broken))).count()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("rows.jsonl", '{"q": 1}\n\n[1, 2]\n', r"rows\.jsonl:3: expected a JSON object \(or a string\), got an array"),
        ("rows.jsonl", '{"q": 1}\n7\n', r"rows\.jsonl:2: expected a JSON object \(or a string\), got a number"),
        ("rows.jsonl", "null\n", r"rows\.jsonl:1: expected a JSON object \(or a string\), got null"),
        ("rows.jsonl", "true\n", r"rows\.jsonl:1: expected a JSON object \(or a string\), got a boolean"),
        ("rows.csv", "topic,level\nbees,easy\ntides\n", r"rows\.csv:3: 1 values, but the header names 2 columns"),
        ("rows.csv", "topic,level\n\nbees,easy,extra\n", r"rows\.csv:3: 3 values, but the header names 2 columns"),
    ],
)
def test_a_broken_inputs_line_is_named_by_file_and_line_number(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    planner = make_planner(JobSpec(name="j", inputs=str(path)))
    with pytest.raises(ConfigError, match=expected):
        planner.count()


def test_csv_blank_lines_are_skipped_and_rows_keep_their_header(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text('topic,level\n\nbees,"very, easy"\n', encoding="utf-8")
    assert list(InputsPlanner(JobSpec(name="j"), str(path)).rows()) == [{"topic": "bees", "level": "very, easy"}]
