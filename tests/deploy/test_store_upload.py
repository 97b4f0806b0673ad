"""`t2ialign store upload`: how the base models reach a cluster's object store (docs/DEPLOY.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from t2ialign.cli import main
from t2ialign.paths import DEFAULT_CLIP
from t2ialign.store import download_folder, open_store


def test_upload_then_download_verifies(tmp_path: Path, capsys) -> None:
    store_url = str(tmp_path / "store")
    main(["store", "upload", str(DEFAULT_CLIP), "models/toy/clip", "--store", store_url])
    main(["store", "ls", "models/toy/clip", "--store", store_url])
    listed = capsys.readouterr().out
    assert "models/toy/clip/manifest.json" in listed and "open_clip_model.safetensors" in listed
    download_folder(open_store(store_url), "models/toy/clip", tmp_path / "copy")  # verifies every sha256
    weights = "open_clip_model.safetensors"
    assert (tmp_path / "copy" / weights).read_bytes() == (DEFAULT_CLIP / weights).read_bytes()


def test_a_folder_without_a_valid_manifest_is_refused(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "clip"
    shutil.copytree(DEFAULT_CLIP, broken)
    (broken / "open_clip_config.json").write_text("{}")  # no longer matches its sha256
    with pytest.raises(SystemExit) as exit_:
        main(["store", "upload", str(broken), "models/x", "--store", str(tmp_path / "store")])
    assert exit_.value.code == 2 and "t2ialign: error:" in capsys.readouterr().err
    assert open_store(str(tmp_path / "store")).list("models/") == []
