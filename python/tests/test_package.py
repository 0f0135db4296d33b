"""The installed wheel: its location, its typing files, its public names (typing: test_typing.py)."""

from __future__ import annotations

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
