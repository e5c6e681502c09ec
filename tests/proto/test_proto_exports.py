"""`proto.__all__` lists exactly the public names (as in httpx's test_exported_members)."""

from __future__ import annotations

from types import ModuleType

import pytest

import proto
from proto import errors, framing, relay, validation


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(proto).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert sorted(proto.__all__) == sorted(public)


def test_all_is_sorted_without_duplicates() -> None:
    assert proto.__all__ == sorted(set(proto.__all__))


@pytest.mark.parametrize("module", [errors, framing, relay, validation], ids=lambda m: m.__name__)
def test_each_module_public_surface_is_reexported(module: ModuleType) -> None:
    assert set(module.__all__) <= set(proto.__all__)
    for name in module.__all__:
        assert getattr(proto, name) is getattr(module, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from proto import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(proto.__all__)
