"""`specmon check` end to end: exit codes, the printed counterexample, --json, --spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"

TWO_SPECS = '''
from monitor import Spec, action, invariant, require


class Fixed(Spec):
    n: int = 0

    @action(k=[1, 2])
    def add(self, k: int):
        require(self.n + k <= 3, "at most 3")
        self.n += k

    @invariant
    def small(self):
        return self.n <= 3


class Draft(Fixed):
    @action(k=[1, 2])
    def add(self, k: int):
        self.n += k
'''


@pytest.fixture
def two_specs(tmp_path):
    d = tmp_path / "counter"
    d.mkdir()
    (d / "spec.py").write_text(TWO_SPECS)
    (d / "mapping.yaml").write_text("spans: []\n")  # check reads no mapping
    return d


def test_payment_exits_one_and_prints_the_numbered_counterexample(capsys):
    assert main(["check", str(PAYMENT)]) == 1
    out = capsys.readouterr().out
    assert "breadth-first: 37 states, 63 edges, depth 6" in out and "states/s" in out
    assert "INVARIANT refunds_within_captures" in out
    assert "    0. initial state  {status='new', authorized=0, captured=0, refunded=0}" in out
    assert ("    3. refund(amount=100)  -> {status='authorized', authorized=100, captured=50, "
            "refunded=100}") in out


def test_json_output_has_the_counts_the_flags_and_the_counterexample(capsys):
    assert main(["check", str(PAYMENT), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {"states", "edges", "depth", "complete", "seconds", "states_per_second", "result",
            "findings", "spec_errors"} <= set(data)
    assert (data["states"], data["complete"], data["result"]) == (37, True, "violations")
    steps = data["findings"][0]["steps"]
    assert [s["n"] for s in steps] == [1, 2, 3]
    assert steps[0] == {"n": 1, "action": "authorize", "args": {"amount": 100}, "hidden": False,
                        "state": {"status": "authorized", "authorized": 100, "captured": 0,
                                  "refunded": 0}}


def test_spec_picks_a_class_when_spec_py_holds_several(two_specs, capsys):
    assert main(["check", str(two_specs)]) == 2
    assert "expected exactly one Spec subclass, found Draft, Fixed" in capsys.readouterr().err
    assert main(["check", str(two_specs), "--spec", "Fixed"]) == 0
    assert "result: ok" in capsys.readouterr().out
    assert main(["check", str(two_specs), "--spec", "Draft", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["spec"] == "Draft" and len(data["findings"][0]["steps"]) == 2


def test_a_spec_py_file_can_be_checked_directly(two_specs, capsys):
    assert main(["check", str(two_specs / "spec.py"), "--spec", "Fixed"]) == 0


def test_a_bounded_search_exits_zero_but_says_it_proves_nothing(two_specs, capsys):
    assert main(["check", str(two_specs), "--spec", "Fixed", "--max-depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "incomplete (--max-depth 1)" in out and "not a proof" in out
    assert main(["check", str(two_specs), "--spec", "Fixed", "--max-states", "2",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["complete"], data["result"], data["states"]) == (False, "bounded", 2)


def test_random_walks_report_walks_and_a_possibly_longer_counterexample(capsys):
    assert main(["check", str(PAYMENT), "--random", "40", "--seed", "5"]) == 1
    out = capsys.readouterr().out
    assert "random walks:" in out and "not necessarily the shortest" in out


def test_deadlocks_flag_turns_the_check_on(tmp_path, capsys):
    (tmp_path / "spec.py").write_text(
        "from monitor import Spec, action, require\n"
        "class Once(Spec):\n"
        "    n: int = 0\n"
        "    @action\n"
        "    def go(self):\n"
        "        require(self.n == 0, 'only once')\n"
        "        self.n = 1\n")
    assert main(["check", str(tmp_path)]) == 0
    assert "deadlocks: not checked" in capsys.readouterr().out
    assert main(["check", str(tmp_path), "--deadlocks", "error"]) == 1
    assert "DEADLOCK deadlock: no action is enabled" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--max-states", "0"], "argument --max-states: expected a number >= 1, got 0"),
    (["--max-depth", "-1"], "argument --max-depth: expected a number >= 0, got -1"),
    (["--random", "x"], "argument --random: expected a whole number, got 'x'"),
    (["--spec", "Nope"], "no Spec class named 'Nope'"),
])
def test_bad_arguments_exit_two_with_a_clear_message(argv, message, capsys):
    try:
        rc = main(["check", str(PAYMENT), *argv])
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    assert rc == 2
    assert message in capsys.readouterr().err


def test_a_missing_directory_exits_two(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_the_installed_command_runs_check():
    specmon = Path(sys.executable).parent / "specmon"
    done = subprocess.run([str(specmon), "check", str(PAYMENT), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["findings"][0]["kind"] == "invariant"


def test_the_progress_line_shows_states_depth_and_rate(capsys):
    from monitor.cli_check import _Progress

    show = _Progress(None)
    show(5000, 7, 21000)
    show.close()
    err = capsys.readouterr().err
    assert err.startswith("\r5000 states, depth 7, 21000 edges, ") and "states/s" in err
    walks = _Progress(100)
    walks(40, 64, 3000)
    assert "64/100 walks, 3000 steps, 40 distinct states" in capsys.readouterr().err


def test_step_time_takes_a_duration(tmp_path, capsys):
    (tmp_path / "spec.py").write_text(
        "from monitor import Spec, action, require, within\n"
        "class Slow(Spec):\n"
        "    stage: int = 0\n"
        "    @action\n"
        "    def advance(self):\n"
        "        require(self.stage < 3, 'closed')\n"
        "        self.stage += 1\n"
        "    answered = within('1m', start=lambda s: s.stage >= 1, end=lambda s: s.stage == 3)\n")
    assert main(["check", str(tmp_path), "--step-time", "30s"]) == 0
    assert "result: ok" in capsys.readouterr().out
    assert main(["check", str(tmp_path), "--step-time", "31s", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["step_time"] == 31 and data["findings"][0]["kind"] == "deadline"
