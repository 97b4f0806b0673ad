"""Layout helpers on both backends: keys, serving pointers with rollback, checkpoint folders, open_store."""

from __future__ import annotations

from pathlib import Path

import pytest

from t2ialign.common.manifest import ManifestError, write_manifest
from t2ialign.store import (
    UNET_SERVING,
    KeyExistsError,
    LocalStore,
    ObjectStore,
    download_folder,
    feedback_key,
    get_pointer,
    image_key,
    model_prefix,
    open_store,
    pointer_history,
    rollback_pointer,
    set_pointer,
    upload_folder,
)


def test_layout_keys() -> None:
    assert image_key("r1", "0007") == "images/r1/0007.png"
    assert feedback_key("r1", "lbl-1") == "feedback/r1/lbl-1.json"
    assert model_prefix("unet", "v2") == "models/unet/v2/"
    assert model_prefix("reward", "v2") == "models/reward/v2/"
    with pytest.raises(ValueError, match="valid: unet, reward"):
        model_prefix("vae", "v1")
    for bad in ("", "..", "a/b", "-x", "x" * 129, "r 1"):
        with pytest.raises(ValueError, match="letters, digits"):
            image_key(bad, "0")


def test_pointer_history_and_rollback(store: ObjectStore) -> None:
    assert get_pointer(store, UNET_SERVING) is None
    with pytest.raises(ValueError, match="no history"):
        rollback_pointer(store, UNET_SERVING)
    for v in ("v1", "v2", "v3"):
        set_pointer(store, UNET_SERVING, v, reason=f"promote {v}")
    assert get_pointer(store, UNET_SERVING) == "v3"

    # Repeated rollbacks walk back v3 -> v2 -> v1, then stop.
    assert rollback_pointer(store, UNET_SERVING)["version"] == "v2"
    assert rollback_pointer(store, UNET_SERVING)["version"] == "v1"
    with pytest.raises(ValueError, match="nothing earlier"):
        rollback_pointer(store, UNET_SERVING)
    assert get_pointer(store, UNET_SERVING) == "v1"

    # Promote again, then roll back to a named earlier version.
    set_pointer(store, UNET_SERVING, "v4")
    assert rollback_pointer(store, UNET_SERVING, "v2", reason="v4 regressed")["version"] == "v2"
    with pytest.raises(ValueError, match="never served"):
        rollback_pointer(store, UNET_SERVING, "v9")

    history = pointer_history(store, UNET_SERVING)
    assert [e["version"] for e in history] == ["v1", "v2", "v3", "v2", "v1", "v4", "v2"]
    assert [e["seq"] for e in history] == list(range(1, 8))
    assert history[-1]["reason"] == "v4 regressed" and history[-1]["restores_seq"] == 2
    assert store.list("pointers/unet-serving/")[0] == "pointers/unet-serving/000000000001.json"
    with pytest.raises(KeyExistsError):  # history entries are write-once like everything else
        store.put_bytes("pointers/unet-serving/000000000001.json", b"{}")


def _checkpoint(folder: Path) -> Path:
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00weights" * 1000)
    (folder / "unet" / "config.json").write_text('{"sample_size": 32}')
    write_manifest(folder, parent_version="v1", metrics={"win_rate": 0.6})
    return folder


def test_folder_roundtrip_verifies_manifest(store: ObjectStore, tmp_path: Path) -> None:
    src = _checkpoint(tmp_path / "ckpt")
    prefix = model_prefix("unet", "v2")
    keys = upload_folder(store, src, prefix)
    assert keys[-1] == prefix + "manifest.json"  # manifest last: it marks a complete upload
    assert sorted(keys) == store.list(prefix)
    assert upload_folder(store, src, prefix) == keys  # a retried upload of the same files is harmless

    manifest = download_folder(store, prefix, tmp_path / "out")
    assert manifest["parent_version"] == "v1"
    for rel in ("unet/config.json", "unet/diffusion_pytorch_model.safetensors", "manifest.json"):
        assert (tmp_path / "out" / rel).read_bytes() == (src / rel).read_bytes()
    with pytest.raises(FileExistsError):
        download_folder(store, prefix, tmp_path / "out")


def test_upload_refuses_changed_content_and_corrupt_folders(store: ObjectStore, tmp_path: Path) -> None:
    src = _checkpoint(tmp_path / "ckpt")
    upload_folder(store, src, "models/unet/v2")
    (src / "unet" / "config.json").write_text('{"sample_size": 64}')
    with pytest.raises(ManifestError, match="does not match"):
        upload_folder(store, src, "models/unet/v3")  # corrupt: refused before anything is written
    assert store.list("models/unet/v3/") == []
    write_manifest(src)
    with pytest.raises(KeyExistsError, match="different content"):
        upload_folder(store, src, "models/unet/v2")


def test_download_refuses_corrupt_or_incomplete(store: ObjectStore, tmp_path: Path) -> None:
    src = _checkpoint(tmp_path / "ckpt")
    # A checkpoint whose stored weights differ from the manifest (uploaded without verification).
    (src / "unet" / "config.json").write_text("tampered")
    upload_folder(store, src, "models/unet/bad", require_manifest=False)
    with pytest.raises(ManifestError, match="does not match"):
        download_folder(store, "models/unet/bad/", tmp_path / "bad")
    assert not (tmp_path / "bad").exists() and list(tmp_path.glob(".bad.partial-*")) == []
    store.put_bytes("models/unet/half/unet/config.json", b"{}")  # no manifest: upload never finished
    with pytest.raises(ManifestError, match="incomplete"):
        download_folder(store, "models/unet/half/", tmp_path / "half")


def test_open_store(tmp_path: Path, moto_endpoint: str, s3_credentials, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_store(tmp_path / "a"), LocalStore)
    assert open_store(str(tmp_path / "b")).root == tmp_path / "b"
    assert open_store(f"file://{tmp_path}/c").root == tmp_path / "c"
    s3 = open_store(f"s3://from-url?endpoint={moto_endpoint}&secure=false")
    s3.put_bytes("images/r1/0.png", b"x")
    assert open_store(f"s3://from-url?endpoint={moto_endpoint}&secure=false").list() == ["images/r1/0.png"]
    with pytest.raises(ValueError, match="valid: file:///path, s3://bucket"):
        open_store("gs://bucket")
    with pytest.raises(ValueError, match="valid: endpoint, secure, region"):
        open_store(f"s3://b?endpoint={moto_endpoint}&secur=false")
    with pytest.raises(ValueError, match="absolute path"):
        open_store("file://relative/path")
    monkeypatch.delenv("T2IALIGN_S3_SECRET_KEY")
    with pytest.raises(ValueError, match="T2IALIGN_S3_SECRET_KEY"):
        open_store(f"s3://b?endpoint={moto_endpoint}")
