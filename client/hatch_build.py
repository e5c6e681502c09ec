"""Build hook: the wheel holds this folder's modules as the package `client` and the wire format
as the package `proto`. From a checkout, proto/ is the repository's ../proto, and the sdist
carries a copy of it; from the sdist, it is that copy. pyproject.toml, README.md and this file
are build inputs, never part of an installed package."""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: What proto/ ships: its modules, the generated stubs, and the .proto they come from.
PROTO_FILES = ("*.py", "*.pyi", "*.proto")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        copied = root / "proto"
        proto = copied if copied.is_dir() else root.parent / "proto"
        if not (proto / "__init__.py").is_file():
            raise RuntimeError(f"the wire format (proto/) is missing: neither {copied} nor {proto}")
        include = build_data["force_include"]
        proto_files = sorted({p for pattern in PROTO_FILES for p in proto.glob(pattern)})
        if self.target_name == "wheel":
            for path in sorted(root.glob("*.py")):
                if path.name != Path(__file__).name:
                    include[str(path)] = f"client/{path.name}"
            for path in proto_files:
                include[str(path)] = f"proto/{path.name}"
        elif self.target_name == "sdist" and proto is not copied:
            for path in proto_files:
                include[str(path)] = f"proto/{path.name}"
