"""The installed wheel: location, typing files, stubtest, mypy on a user program."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import aep_edge

from conftest import SOURCE_TREE

PACKAGE = Path(aep_edge.__file__).resolve().parent


def test_imported_from_the_installed_wheel() -> None:
    assert SOURCE_TREE not in PACKAGE.parents
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_native.pyi").is_file()
    native = [p.name for p in PACKAGE.iterdir() if p.name.startswith("_native.") and p.suffix in (".so", ".pyd")]
    assert native and ("abi3" in native[0] or native[0].endswith(".pyd")), native


def test_all_is_complete() -> None:
    for name in aep_edge.__all__:
        assert hasattr(aep_edge, name), name


def test_stubtest_agrees_with_the_runtime(tmp_path: Path) -> None:
    # On Python 3.9 stubtest reports the typing names a module imports
    # (Any, Mapping ...) as "not a type"; they are not part of the API.
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text(r"aep_edge\._\w+\.(Any|Callable|Dict|List|Mapping|NamedTuple|Optional|Sequence|Type|Union)" + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "aep_edge", "--allowlist", str(allowlist),
         "--ignore-unused-allowlist"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_accepts_typical_use(tmp_path: Path) -> None:
    program = tmp_path / "use.py"
    program.write_text(
        textwrap.dedent(
            """
            import asyncio
            from typing import Any, Dict, List, Optional
            from aep_edge import (EdgeClient, EdgeError, HttpError, Handle, InteractResponse,
                                  TokenAuth, CollectResponse)

            def run(event: Dict[str, Any]) -> List[Dict[str, Any]]:
                with EdgeClient("ds", base_url="http://127.0.0.1:1", timeout=2.0,
                                auth=TokenAuth("t", "k"), org_id="X@AdobeOrg") as client:
                    try:
                        r: InteractResponse = client.interact(event, request_id="r")
                    except HttpError as e:
                        status: Optional[int] = e.status
                        after: Optional[float] = e.retry_after
                        return []
                    except EdgeError:
                        return []
                    handles: List[Handle] = r.handles_of_type("personalization:decisions")
                    index: int = handles[0].event_index
                    c: CollectResponse = client.collect([event])
                    return r.state_entries

            async def run_async(client: EdgeClient) -> int:
                r = await client.interact_async({"xdm": {}})
                return r.status
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
