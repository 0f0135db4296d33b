"""Typing (design.md §4.1): mypy --strict and pyright strict accept the typed
example and catch the typed mistakes; pyright --verifytypes scores 100%;
stubtest agrees with the runtime; exceptions live in aep_edge."""

from __future__ import annotations

import inspect
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import List, Set

import pytest

import aep_edge
import aep_edge.testing

from conftest import SOURCE_TREE

EXAMPLES = SOURCE_TREE / "examples"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise pytest.UsageError(f"{name} is not installed in the test venv (python/run-tests.sh installs it)")
    return str(path)


def pyright(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = {"typeCheckingMode": "strict", "pythonVersion": "3.9", "reportMissingModuleSource": False}
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [tool("pyright"), "--pythonpath", sys.executable, *args],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600,
    )


def mypy(tmp_path: Path, program: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(program)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )


def marked_lines(program: Path) -> Set[int]:
    return {i for i, line in enumerate(program.read_text().splitlines(), 1) if line.endswith("# error")}


def test_the_typed_example_passes_mypy_strict(tmp_path: Path) -> None:
    result = mypy(tmp_path, EXAMPLES / "typed_example.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_typed_example_passes_pyright_strict(tmp_path: Path) -> None:
    program = tmp_path / "typed_example.py"
    shutil.copy(EXAMPLES / "typed_example.py", program)
    result = pyright(tmp_path, str(program))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_the_typed_example_runs() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "typed_example.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/ee/v2/interact" in result.stdout


def test_mypy_catches_each_typed_mistake(tmp_path: Path) -> None:
    program = EXAMPLES / "typed_mistakes.py"
    result = mypy(tmp_path, program)
    flagged = {int(m) for m in re.findall(r"typed_mistakes\.py:(\d+): error", result.stdout)}
    assert flagged == marked_lines(program), result.stdout


def test_pyright_catches_each_typed_mistake(tmp_path: Path) -> None:
    program = tmp_path / "typed_mistakes.py"
    shutil.copy(EXAMPLES / "typed_mistakes.py", program)
    result = pyright(tmp_path, "--outputjson", str(program))
    report = json.loads(result.stdout)
    flagged = {d["range"]["start"]["line"] + 1 for d in report["generalDiagnostics"] if d["severity"] == "error"}
    assert flagged == marked_lines(EXAMPLES / "typed_mistakes.py"), result.stdout


def test_verifytypes_scores_100_percent(tmp_path: Path) -> None:
    result = pyright(tmp_path, "--verifytypes", "aep_edge", "--ignoreexternal", "--outputjson")
    report = json.loads(result.stdout)["typeCompleteness"]
    problems: List[str] = [
        f"{s['name']}: {[d['message'] for d in s['diagnostics']]}"
        for s in report["symbols"]
        if s["diagnostics"]
    ]
    assert report["completenessScore"] == 1, problems
    assert problems == []


def test_stubtest_agrees_with_the_runtime(tmp_path: Path) -> None:
    # The allowlist says why each entry is there.
    allowlist = SOURCE_TREE / "tests" / "stubtest-allowlist.txt"
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "aep_edge", "--allowlist", str(allowlist), "--ignore-unused-allowlist"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_exceptions_are_public_names_of_aep_edge() -> None:
    for name in ("EdgeError", "ConfigError", "RequestError", "TransportError", "EdgeTimeoutError", "HttpError",
                 "AuthError", "ResponseError", "ConsentError", "QueueFullError", "ClientClosedError",
                 "StorageError", "InternalError"):
        cls = getattr(aep_edge, name)
        assert cls.__module__ == "aep_edge", name
        assert pickle.loads(pickle.dumps(cls("m", kind="http"))).kind == "http"
    assert aep_edge.HttpError.__qualname__ == "HttpError"


def test_type_hints_resolve_at_run_time() -> None:
    # `-> Self` from __enter__/__aenter__ (design.md §4.1) must not be a name that
    # only exists for checkers: typing.get_type_hints() evaluates it, on 3.9 too
    # (where a TypeVar stands in: typing_extensions is no dependency).
    for method in (aep_edge.EdgeClient.__enter__, aep_edge.EdgeClient.__aenter__, aep_edge.testing.Emulator.__enter__):
        hint = typing.get_type_hints(method)["return"]
        if sys.version_info >= (3, 11):
            assert hint is typing.Self
        else:
            assert isinstance(hint, typing.TypeVar), hint
    for name in dir(aep_edge.EdgeClient):
        member = getattr(aep_edge.EdgeClient, name)
        if inspect.isfunction(member):
            typing.get_type_hints(member)
