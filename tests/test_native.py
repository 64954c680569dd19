"""The engine and mapping compiled by ``make native`` (mypyc) is current, complete, and gives the
same verdicts as the same sources run as plain Python."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import monitor
from monitor.native import NATIVE_MODULES, native_status

PKG = Path(monitor.__file__).parent
ROOT = PKG.parent
SAMPLES = sorted((ROOT / "specs" / "payment" / "samples").glob("*.jsonl"))
compiled = native_status()


def test_every_listed_module_is_imported_and_reported() -> None:
    assert set(compiled) == set(NATIVE_MODULES)


def test_build_is_all_or_nothing() -> None:
    """A partial build (one extension missing) means ``make native`` broke half way."""
    assert len(set(compiled.values())) == 1, compiled


@pytest.mark.skipif(not any(compiled.values()), reason="the engine runs as plain Python here")
def test_compiled_modules_are_newer_than_their_sources() -> None:
    """Python imports an extension before the .py beside it: after a source edit without
    a rebuild, the old compiled code would run. ``make test`` rebuilds first."""
    for name in NATIVE_MODULES:
        # (a compiled module's __file__ is relative to the build directory: glob for it)
        *parts, leaf = name.split(".")[1:]
        ext = next(PKG.joinpath(*parts).glob(f"{leaf}.*.so"))
        src = PKG.joinpath(*parts, f"{leaf}.py")
        assert ext.stat().st_mtime >= src.stat().st_mtime, (
            f"{ext.name} is older than {src.name}: run `make native`")


def _replay(pythonpath: Path, out: Path, samples: list[Path]) -> list[dict[str, object]]:
    results = []
    for sample in samples:
        report = out / f"{pythonpath.name}-{sample.stem}.jsonl"
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from monitor.cli import main; "
             "sys.exit(main(sys.argv[1:]))", "replay", "--json", "--no-progress",
             "--report", str(report), str(ROOT / "specs" / "payment"), str(sample)],
            capture_output=True, text=True, cwd=out,
            env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode in (0, 1), proc.stderr
        summary = json.loads(proc.stdout)
        for volatile in ("seconds", "records_per_second", "report"):
            summary.pop(volatile, None)
        results.append({"summary": summary, "reports": report.read_text().splitlines()})
    return results


def test_pure_python_engine_gives_the_same_verdicts(tmp_path: Path) -> None:
    """The fallback is real code, not dead code: a copy of the package without any
    extension module replays every payment sample to the same summary and reports as
    this process's engine (compiled when built)."""
    pure = tmp_path / "pure"
    shutil.copytree(PKG, pure / "monitor",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    check = subprocess.run(
        [sys.executable, "-c", "from monitor.native import native_status; "
         "print(any(native_status().values()))"],
        capture_output=True, text=True, env={"PYTHONPATH": str(pure)}, cwd=tmp_path,
        check=True)
    assert check.stdout.strip() == "False"
    assert SAMPLES
    assert _replay(pure, tmp_path, SAMPLES) == _replay(ROOT, tmp_path, SAMPLES)
