"""Backend-specific guarantees behind the write-once contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from t2ialign.store import KeyExistsError, LocalStore
from t2ialign.store.s3 import S3Store


def test_s3_conditional_put_closes_the_race(s3_store: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
    s3_store.put_bytes("feedback/r1/a.json", b"first")
    # Pretend the existence check raced (another writer got in between check and PUT).
    monkeypatch.setattr(s3_store, "exists", lambda key: False)
    with pytest.raises(KeyExistsError):
        s3_store.put_bytes("feedback/r1/a.json", b"second")
    assert s3_store.get_bytes("feedback/r1/a.json") == b"first"


def test_s3_large_file_streams_and_stays_write_once(s3_store: S3Store, tmp_path: Path) -> None:
    s3_store.multipart_threshold = 1024  # force the streaming path
    src = tmp_path / "big.bin"
    src.write_bytes(b"w" * 10_000)
    s3_store.put_file("models/unet/v1/big.bin", src, metadata={"sha256": "x", "note": "ü"})
    assert s3_store.stat("models/unet/v1/big.bin").metadata == {"sha256": "x", "note": "ü"}
    assert s3_store.get_bytes("models/unet/v1/big.bin") == src.read_bytes()
    with pytest.raises(KeyExistsError):
        s3_store.put_file("models/unet/v1/big.bin", src)


def test_local_link_refuses_even_when_the_check_races(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("feedback/r1/a.json", b"first")
    monkeypatch.setattr(Path, "is_file", lambda self: False)  # the fast-path check misses
    with pytest.raises(KeyExistsError):
        store.put_bytes("feedback/r1/a.json", b"second")
    monkeypatch.undo()
    assert store.get_bytes("feedback/r1/a.json") == b"first"
    assert list((tmp_path / "tmp").iterdir()) == []  # staging files are cleaned up


def test_local_objects_keep_header_and_bytes_together(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("images/r1/0.png", b"png", metadata={"seed": "1"})
    # One file per object: metadata can never be missing or belong to another write.
    assert (tmp_path / "objects" / "images" / "r1" / "0.png").is_file()
    assert store.stat("images/r1/0.png").metadata == {"seed": "1"}
    assert LocalStore(tmp_path).get_bytes("images/r1/0.png") == b"png"  # reopened: same contents


def test_local_key_that_is_a_prefix_is_a_clear_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/b", b"x")
    with pytest.raises(ValueError, match="prefix of other keys"):
        store.put_bytes("a", b"y")
    with pytest.raises(ValueError, match="parent segment is already an object"):
        store.put_bytes("a/b/c", b"z")
