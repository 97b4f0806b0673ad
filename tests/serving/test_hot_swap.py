"""The hot-swap protocol on the toy generator, without Ray: in-flight requests finish on the old UNet, a corrupt
checkpoint is refused while the old one keeps serving, and a restarted replica follows the serving pointer."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.generator.logic import Generator, Served, validate_params
from t2ialign.store import LocalStore, set_pointer, upload_folder

from .models import build_toy_models, publish_unet_version


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratorServiceConfig, LocalStore, Path]:
    root = tmp_path_factory.mktemp("swap")
    _, generator_dir = build_toy_models(root / "models")
    store = LocalStore(root / "store")
    publish_unet_version(store, generator_dir, "v1", seed=1, work=root)
    publish_unet_version(store, generator_dir, "v2", seed=2, work=root)
    # A corrupt upload: a weight file changed after its manifest was written.
    bad = root / "unet-v1"
    (bad / "diffusion_pytorch_model.safetensors").write_bytes(b"corrupt")
    upload_folder(store, bad, "models/unet/bad/", require_manifest=False)
    cfg = GeneratorServiceConfig(model=str(generator_dir), store_url=str(root / "store"), default_num_inference_steps=2)
    return cfg, store, root


class Blocking:
    """Wraps a backend; its calls wait until released, to hold a request in flight."""

    def __init__(self, inner, started: threading.Event, release: threading.Event):
        self.inner, self.started, self.release = inner, started, release

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def with_unet(self, unet):
        return self.inner.with_unet(unet)

    def __call__(self, *args):
        self.started.set()
        self.release.wait(60)
        return self.inner(*args)


def test_in_flight_request_finishes_on_old_unet(setup) -> None:
    cfg, _, _ = setup
    gen = Generator.from_config(cfg)
    params = validate_params({"prompt": "a red circle", "seed": 1}, cfg)
    expected_old, _ = gen.generate_images(params)
    started, release = threading.Event(), threading.Event()
    gen._served = Served(Blocking(gen.served.backend, started, release), gen.served.version)
    result = {}
    worker = threading.Thread(target=lambda: result.update(out=gen.generate_images(params)))
    worker.start()
    assert started.wait(60)
    swap = gen.load_unet("v1")  # completes while the request is still running
    assert swap["swapped"] and gen.served.version == "v1"
    release.set()
    worker.join(60)
    images, served = result["out"]
    assert served.version == "toy-test-base" and (images == expected_old).all()
    new_images, served = gen.generate_images(params)
    assert served.version == "v1" and (new_images != expected_old).any()


def test_corrupt_checkpoint_is_refused_and_old_version_serves(setup) -> None:
    cfg, _, _ = setup
    gen = Generator.from_config(cfg)
    r = gen.load_unet("bad")
    assert not r["swapped"] and "sha256" in r["error"] and gen.served.version == "toy-test-base"
    assert gen.model_info()["last_load_error"] == r["error"]
    with pytest.raises(ValueError, match="version"):
        gen.load_unet("../escape")


def test_replica_follows_serving_pointer(setup) -> None:
    cfg, store, _ = setup
    set_pointer(store, cfg.pointer, "v2", reason="test")
    gen = Generator.from_config(cfg)  # a restarted replica reads the pointer
    assert gen.served.version == "v2" and gen.served.parent == "toy-test-base"
    assert gen.sync_to_pointer() is None  # already there
    set_pointer(store, cfg.pointer, "bad", reason="test")
    assert gen.sync_to_pointer()["swapped"] is False and gen.served.version == "v2"
    assert gen.sync_to_pointer() is None  # a failed version is not retried until the pointer moves
    set_pointer(store, cfg.pointer, "v1", reason="test")
    assert gen.sync_to_pointer()["swapped"] and gen.served.version == "v1"
