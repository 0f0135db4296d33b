"""The README's Python blocks run against the emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SOURCE_TREE, Emulator

README = (SOURCE_TREE / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_its_blocks() -> None:
    assert len(BLOCKS) == 4
    assert "pip install ./python" in README
    assert "bash scripts/python-dist.sh" in README


def test_readme_testing_example_passes_under_pytest(tmp_path: Path) -> None:
    code, test = BLOCKS[3].split("# test_shop.py")
    test = test.split("\n", 1)[1]  # the rest of the marker line
    (tmp_path / "shop.py").write_text(code)
    (tmp_path / "test_shop.py").write_text("from shop import track_purchase\n" + test)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("index", [0, 1, 2])
def test_readme_block_runs(
    index: int, emulator: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = BLOCKS[index].replace("http://127.0.0.1:8080", emulator.base_url)
    code = code.replace('queue_path="events.db"', f'base_url="{emulator.base_url}", queue_path="{tmp_path}/events.db"')
    code = code.replace('EdgeClient("YOUR_DATASTREAM_ID", session="none")',
                        f'EdgeClient("YOUR_DATASTREAM_ID", session="none", base_url="{emulator.base_url}")')
    namespace: dict = {}
    exec(compile(code, f"README block {index}", "exec"), namespace)
    if index == 0:
        out = capsys.readouterr().out
        assert "200" in out and "home" in out
    elif index == 2:
        assert namespace["stats"].delivered == 1 and namespace["stats"].queued == 0
        sent = [r["body"] for r in emulator.requests()]
        assert sent[0]["event"]["xdm"]["_id"] == namespace["event_id"]
    else:
        visitor: dict = {}
        # The visitor's own id: like a server datastream, the emulator refuses an event
        # with no identity at all (EXEG-0306-400).
        event = {"xdm": {"identityMap": {"FPID": [{"id": "visitor-1", "primary": True}]}}}
        first = namespace["handle_page_view"](visitor, event)
        assert visitor["edge_state"]
        namespace["handle_page_view"](visitor, event)
        sent = emulator.requests()
        assert sent[1]["body"]["meta"]["state"]["entries"]
        assert first and first[0].payload[0]["scope"] == "home"
        namespace["client"].close()
