"""The committed proto/user_events_pb2.py(i) is exactly what the pinned grpcio-tools compiles from
the committed proto/user_events.proto, and that file is the contract: byte for byte the shared
copy when one sits beside the checkout (CI), else the committed file stands alone."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

import pytest
from grpc_tools import protoc

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto"
PROTO_FILE = PROTO_DIR / "user_events.proto"
#: Where CI keeps the team's copy of the contract, beside the checkout; a clone elsewhere has none.
SHARED_SPEC = REPO.parent / "shared" / "spec" / "user_events.proto"
#: The contract's own marks: every message and enum the pipeline relies on.
CONTRACT_NAMES = ("message UserEvent", "message EventAck", "enum ChannelType", "enum AckStatus")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile proto/user_events.proto as the committed files were: `-Iproto`, python + pyi."""
    out = tmp_path_factory.mktemp("generated")
    with as_file(files("grpc_tools") / "_proto") as well_known_types:
        rc = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO_DIR}",
                f"-I{well_known_types}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                str(PROTO_FILE),
            ]
        )
    assert rc == 0, "protoc failed; see its output above"
    return out


@pytest.mark.parametrize("name", ["user_events_pb2.py", "user_events_pb2.pyi"])
def test_committed_module_matches_a_fresh_compile(generated: Path, name: str) -> None:
    fresh = (generated / name).read_bytes()
    committed = (PROTO_DIR / name).read_bytes()
    assert committed == fresh, (
        f"proto/{name} is stale: regenerate from the repo root with "
        "`python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto "
        "proto/user_events.proto` (grpcio-tools as pinned in pyproject.toml)"
    )


def test_proto_is_the_contract() -> None:
    committed = PROTO_FILE.read_bytes()
    if SHARED_SPEC.exists():
        assert committed == SHARED_SPEC.read_bytes(), (
            f"proto/user_events.proto differs from {SHARED_SPEC}: copy the contract, do not edit it"
        )
    text = committed.decode()
    assert all(name in text for name in CONTRACT_NAMES)
