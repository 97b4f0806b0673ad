"""The ObjectStore contract, run against both backends (LocalStore, S3Store on moto)."""

from __future__ import annotations

import threading

import pytest

from t2ialign.store import KeyExistsError, KeyNotFoundError, ObjectStore


def test_put_get_roundtrip_with_metadata(store: ObjectStore) -> None:
    meta = {"prompt": "a red cube — on the left", "seed": "7", "model-version": "toy-base"}
    info = store.put_bytes("images/r1/0.png", b"\x89PNG fake", metadata=meta)
    assert (info.size, info.content_type) == (9, "image/png")  # guessed from the extension
    assert store.get_bytes("images/r1/0.png") == b"\x89PNG fake"
    stat = store.stat("images/r1/0.png")
    assert (stat.size, stat.content_type, stat.metadata) == (9, "image/png", meta)
    assert store.metadata("images/r1/0.png") == meta  # non-ASCII values survive the S3 headers


def test_explicit_content_type_and_empty_object(store: ObjectStore) -> None:
    store.put_bytes("feedback/r1/a.json", b"", "application/json")
    assert store.get_bytes("feedback/r1/a.json") == b""
    assert store.stat("feedback/r1/a.json").content_type == "application/json"


def test_write_once(store: ObjectStore) -> None:
    store.put_bytes("models/unet/v1/x.bin", b"first")
    with pytest.raises(KeyExistsError, match="write-once"):
        store.put_bytes("models/unet/v1/x.bin", b"second")
    assert store.get_bytes("models/unet/v1/x.bin") == b"first"


def test_concurrent_writers_one_wins(store: ObjectStore) -> None:
    results: list[str] = []

    def write(i: int) -> None:
        try:
            store.put_bytes("feedback/r1/race.json", f"writer {i}".encode())
            results.append(f"ok {i}")
        except KeyExistsError:
            results.append("exists")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.startswith("ok")]
    assert len(winners) == 1, results
    assert store.get_bytes("feedback/r1/race.json") == f"writer {winners[0].split()[1]}".encode()


def test_missing_key(store: ObjectStore) -> None:
    assert not store.exists("images/r1/nope.png")
    with pytest.raises(KeyNotFoundError):
        store.get_bytes("images/r1/nope.png")
    with pytest.raises(KeyNotFoundError):
        store.stat("images/r1/nope.png")


def test_list_is_sorted_and_prefix_is_a_string_prefix(store: ObjectStore) -> None:
    keys = ["images/r2/b.png", "images/r1/b.png", "images/r10/a.png", "images/r1/a.png", "feedback/r1/x.json"]
    for k in keys:
        store.put_bytes(k, b"x")
    assert store.list() == sorted(keys)
    assert store.list("images/r1/") == ["images/r1/a.png", "images/r1/b.png"]
    assert store.list("images/r1") == ["images/r1/a.png", "images/r1/b.png", "images/r10/a.png"]
    assert store.list("images/r3/") == []
    assert store.list("nothing/here/") == []
    assert store.exists("images/r1/a.png") and not store.exists("images/r1")


def test_file_roundtrip(store: ObjectStore, tmp_path) -> None:
    src = tmp_path / "w.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    store.put_file("models/reward/v1/w.bin", src, metadata={"sha256": "abc"})
    out = store.get_file("models/reward/v1/w.bin", tmp_path / "out" / "w.bin")
    assert out.read_bytes() == src.read_bytes()
    assert store.metadata("models/reward/v1/w.bin") == {"sha256": "abc"}


BAD_KEYS = {
    "": "empty",
    "/etc/passwd": "starts with '/'",
    "../outside": "path traversal",
    "images/../../outside": "path traversal",
    "images/./x.png": "path traversal",
    "images//x.png": "empty segment",
    "images/x/": "empty segment",
    "images\\x.png": "backslash",
    "images/x\n.png": "control character",
    "images/x\x00.png": "control character",
    "a" * 1025: "limit is 1024",
    "images/" + "b" * 256: "segment over 255",
}


@pytest.mark.parametrize("key", list(BAD_KEYS), ids=[repr(k)[:20] for k in BAD_KEYS])
def test_bad_keys_refused(store: ObjectStore, key: str) -> None:
    for op in (lambda: store.put_bytes(key, b"x"), lambda: store.get_bytes(key), lambda: store.exists(key)):
        with pytest.raises(ValueError, match=BAD_KEYS[key]):
            op()


def test_bad_prefix_and_metadata_refused(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="path traversal"):
        store.list("images/../")
    with pytest.raises(ValueError, match="lower-case"):
        store.put_bytes("images/r1/m.png", b"x", metadata={"Model_Version": "v1"})
    with pytest.raises(ValueError, match="must be a str"):
        store.put_bytes("images/r1/m.png", b"x", metadata={"seed": 7})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="limit is"):
        store.put_bytes("images/r1/m.png", b"x", metadata={"prompt": "p" * 5000})
    assert not store.exists("images/r1/m.png")  # refused before anything was written
