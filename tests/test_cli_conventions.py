"""What every command shares: help shown as written, one flag per switch, results on stdout only."""

import json

import pytest
from typer.testing import CliRunner

from lexdense.cli import app

RUNNER = CliRunner()


def _help(*command: str) -> str:
    result = RUNNER.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_help_shows_brackets_literally():
    """Rich markup ate "[keywords]" from the help of `topics --keywords`."""
    assert "[keywords]" in " ".join(_help("topics").split())


@pytest.mark.parametrize("command, flag", [(("index",), "--bm25 / --no-bm25"), (("demo",), "--teacher / --no-teacher")])
def test_switches_read_as_one_flag_pair(command, flag):
    text = " ".join(_help(*command).split())
    assert flag in text and "--no-no-" not in text


def test_no_help_text_has_a_double_negative():
    from lexdense.cli._common import app as common_app

    names = [c.name or c.callback.__name__ for c in common_app.registered_commands]
    assert len(names) >= 10
    for group in common_app.registered_groups:
        names.append(group.name)
    for name in names:
        assert "--no-no-" not in _help(*name.split()), name


def test_results_on_stdout_progress_and_logs_on_stderr(tmp_path, tiny_model_dir):
    corpus = tmp_path / "docs.txt"
    corpus.write_text("the cat sat on the mat\nnew york city\nstock markets fell\n")
    index = tmp_path / "idx"
    built = RUNNER.invoke(app, ["index", str(corpus), "-o", str(index), "-m", str(tiny_model_dir)])
    assert built.exit_code == 0, built.output
    assert built.stdout == ""  # what it did goes to stderr; stdout is for results only
    found = RUNNER.invoke(app, ["search", str(index), "cat", "--json", "-k", "2"])
    assert found.exit_code == 0, found.output
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(rows) == 2 and all("score" in row for row in rows)


def test_shared_short_flags_mean_one_thing():
    """-m is the model wherever it appears, -k the number of results, -c the classifier."""
    meanings = {"-m": "--model", "-k": None, "-c": "--classifier"}
    for command in (["embed"], ["index"], ["search"], ["topics"], ["dedup"], ["anomalies"], ["explain"],
                    ["classify", "train"], ["classify", "predict"], ["distill"]):
        text = _help(*command)
        for flag, long in meanings.items():
            for line in text.splitlines():
                if line.strip().startswith(flag + ","):
                    assert long is None or long in line, (command, line)
                    assert flag != "-k" or command == ["search"], (command, line)
