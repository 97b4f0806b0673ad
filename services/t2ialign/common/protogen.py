"""Generate the Python gRPC stubs from proto/ into services/t2ialign/v1/ (the one command: `make proto`).

Generated code is never edited by hand; tests/test_protos.py regenerates into a temporary folder and
fails on any difference, so the committed stubs always match the contracts.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parents[3] / "proto"
SERVICES_ROOT = Path(__file__).resolve().parents[2]
STUB_DIR = SERVICES_ROOT / "t2ialign" / "v1"


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / "t2ialign" / "v1").glob("*.proto"))


def generate(out_root: Path = SERVICES_ROOT) -> list[Path]:
    """Run grpc_tools.protoc on every contract; returns the written files."""
    from grpc_tools import protoc

    files = proto_files()
    if not files:
        raise FileNotFoundError(f"no .proto files under {PROTO_ROOT / 't2ialign' / 'v1'}")
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *[str(f.relative_to(PROTO_ROOT)) for f in files],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    out = out_root / "t2ialign" / "v1"
    init = out / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated gRPC stubs (make proto). Do not edit."""\n')
    return sorted(out.glob("*"))


def check() -> list[str]:
    """Names of stub files that differ from a fresh generation (empty when up to date)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        diffs = []
        for f in fresh:
            committed = STUB_DIR / f.name
            if not committed.exists() or committed.read_bytes() != f.read_bytes():
                diffs.append(f.name)
        return diffs


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        stale = check()
        print("stubs up to date" if not stale else f"stale stubs: {stale}; run `make proto`")
        sys.exit(1 if stale else 0)
    print("\n".join(str(p) for p in generate()))
