"""Generation without Ray: validation, seeded generation, serve-time reward filtering, storing, hot-swap.
`Generator.generate` is a whole Generate call; its scorer is any async callable (the deployment passes the
reward service's handle, tests pass a function).

Serve-time filtering is the best-of-n rejection sampling Lee et al. 2023 compare against fine-tuning
(section 4): generate n images, score each with r_phi, keep the best. The hot-swap follows docs/ARCHITECTURE.md:
download and sha256-verify, build beside the serving UNet, then swap one reference; requests that already
took the old reference finish on it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from t2ialign.common.png import encode_png
from t2ialign.generator.backends import GeneratorBackend, check_compatible, load_backend, load_unet_checkpoint
from t2ialign.generator.config import GeneratorServiceConfig
from t2ialign.serving import limits, storage
from t2ialign.serving.errors import ServiceError, Unavailable, check
from t2ialign.serving.requests import check_id, check_prompt, top_k
from t2ialign.store import ObjectStore, download_folder, get_pointer, model_prefix

log = logging.getLogger("t2ialign.generator")
# (images (N, H, W, 3) uint8, prompts) -> {"scores", "normalized", "reward_version"}: the reward service's score_arrays
Scorer = Callable[[np.ndarray, list[str]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Served:
    """What a replica serves; replaced as a whole, so a request sees one consistent (backend, version)."""

    backend: GeneratorBackend
    version: str
    prefix: str = ""  # object-store prefix of the UNet version; "" for the base model
    parent: str = ""


@dataclass(frozen=True)
class GenerateParams:
    prompt: str
    num_images: int
    seed: int
    num_inference_steps: int
    guidance_scale: float
    best_of_n: int = 0
    min_reward: float | None = None
    return_images: bool = False
    round: str = "serve"

    @property
    def n_generate(self) -> int:
        return self.best_of_n or self.num_images


def validate_params(p: dict[str, Any], cfg: GeneratorServiceConfig) -> GenerateParams:
    """1. Check inputs, with messages that say how to fix them; fill service defaults for unset fields."""
    prompt = check_prompt(p.get("prompt", ""))
    n = p.get("num_images", 1)
    check(isinstance(n, int) and 1 <= n <= limits.MAX_NUM_IMAGES, f"num_images={n}; use 1..{limits.MAX_NUM_IMAGES}")
    seed = p.get("seed", 0)
    check(isinstance(seed, int) and 0 <= seed <= limits.MAX_SEED, f"seed={seed}; use 0..2^63-1")
    steps = p.get("num_inference_steps") or cfg.default_num_inference_steps
    check(
        isinstance(steps, int) and 1 <= steps <= limits.MAX_INFERENCE_STEPS,
        f"num_inference_steps={steps}; use 1..{limits.MAX_INFERENCE_STEPS} (0 = default)",
    )
    w = p.get("guidance_scale")
    w = cfg.default_guidance_scale if w is None else float(w)
    check(
        math.isfinite(w) and 0 <= w <= limits.MAX_GUIDANCE_SCALE,
        f"guidance_scale={w}; use a finite number in 0..{limits.MAX_GUIDANCE_SCALE} (unset = default)",
    )
    best_of_n = p.get("best_of_n") or 0
    check(
        isinstance(best_of_n, int) and (best_of_n == 0 or n <= best_of_n <= limits.MAX_BEST_OF_N),
        f"best_of_n={best_of_n}; use 0 (off) or num_images..{limits.MAX_BEST_OF_N} (num_images={n})",
    )
    min_reward = p.get("min_reward")
    if min_reward is not None:
        min_reward = float(min_reward)
        check(math.isfinite(min_reward), f"min_reward={min_reward}; use a finite number or leave it unset")
    round_id = check_id(p.get("round") or cfg.round, "round")
    check(len(round_id) <= 64, f"round has {len(round_id)} characters; the limit is 64")
    return GenerateParams(prompt, n, seed, steps, w, best_of_n, min_reward, bool(p.get("return_images")), round_id)


def select(scores: np.ndarray, normalized: np.ndarray, params: GenerateParams) -> list[int]:
    """Indices to keep: the num_images best by reward when best_of_n is set (best first), else all in order;
    then drop those whose normalized reward is below min_reward."""
    keep = top_k(scores, params.num_images) if params.best_of_n else list(range(len(scores)))
    if params.min_reward is not None:
        keep = [i for i in keep if normalized[i] >= params.min_reward]
    return keep


class Generator:
    """One replica's pipeline, its served UNet version, and the hot-swap."""

    def __init__(self, served: Served, store: ObjectStore, cfg: GeneratorServiceConfig, backend_name: str = "toy"):
        self._served = served
        self.store = store
        self.cfg = cfg
        self.backend_name = backend_name
        self.last_load_error = ""
        self._failed_version = ""  # the pointer watcher does not retry a version that failed until it moves
        self._load_lock = threading.Lock()  # one swap at a time; requests never take it
        self._work_dir = Path(tempfile.mkdtemp(prefix="t2ialign-generator-"))

    @classmethod
    def from_config(cls, cfg: GeneratorServiceConfig) -> Generator:
        """Load the base pipeline, then the UNet the serving pointer names (if any)."""
        torch.set_num_threads(cfg.torch_threads)
        store = storage.connect(cfg.store_url)
        work = Path(tempfile.mkdtemp(prefix="t2ialign-generator-base-"))
        folder = storage.resolve_folder(store, cfg.model, work)
        clip = storage.resolve_folder(store, cfg.clip, work) if cfg.clip else None
        backend = load_backend(cfg.backend, folder, clip, storage.resolve_device(cfg.device), cfg.dtype)
        base_version = storage.base_version(folder, cfg.backend)
        gen = cls(Served(backend, base_version), store, cfg, cfg.backend)
        gen.sync_to_pointer()
        return gen

    @property
    def served(self) -> Served:
        return self._served

    # Generation ---------------------------------------------------------------------------------------
    async def generate(self, request: dict[str, Any], score: Scorer) -> dict[str, Any]:
        """One Generate call: 1. validate, 2. generate n, 3. score, 4. select, 5. store, 6. answer.
        Blocking steps run in worker threads, so the caller's event loop stays free."""
        params = validate_params(request, self.cfg)
        images, served = await asyncio.to_thread(self.generate_images, params)
        try:
            r = await score(images, [params.prompt])
        except ServiceError:
            raise
        except Exception as e:
            raise Unavailable(f"the reward service failed to score ({type(e).__name__}: {e}); retry later") from e
        keep = select(np.asarray(r["scores"]), np.asarray(r["normalized"]), params)
        records = await asyncio.to_thread(
            self.store_images, images, keep, params, served, r["scores"], r["normalized"], r["reward_version"]
        )
        return {
            "images": records,
            "unet_version": served.version,
            "reward_version": r["reward_version"],
            "num_generated": len(images),
            "seed": params.seed,
        }

    def generate_images(self, params: GenerateParams) -> tuple[np.ndarray, Served]:
        """(n_generate, H, W, 3) uint8 and the Served snapshot that made them. Batches larger than
        max_images_per_forward are split; chunk c uses seed + c, so results depend only on the request."""
        served = self._served  # one read: a concurrent swap does not affect this request
        chunks, size = [], self.cfg.max_images_per_forward
        for c, start in enumerate(range(0, params.n_generate, size)):
            n = min(size, params.n_generate - start)
            seed = (params.seed + c) % (limits.MAX_SEED + 1)
            chunks.append(served.backend(params.prompt, n, seed, params.num_inference_steps, params.guidance_scale))
        return np.concatenate(chunks), served

    def store_images(
        self,
        images: np.ndarray,
        keep: list[int],
        params: GenerateParams,
        served: Served,
        scores: list[float],
        normalized: list[float],
        reward_version: str,
    ) -> list[dict[str, Any]]:
        """Write the kept images (PNG + metadata) and return one record per image, in `keep` order."""
        out = []
        for i in keep:
            png = encode_png(images[i])
            record = {
                "prompt": params.prompt,
                "seed": params.seed,
                "index": i,
                "num_inference_steps": params.num_inference_steps,
                "guidance_scale": params.guidance_scale,
                "best_of_n": params.best_of_n,
                "unet_version": served.version,
                "backend": self.backend_name,
                "reward": float(scores[i]),
                "normalized_reward": float(normalized[i]),
                "reward_version": reward_version,
                "created_at": time.time(),
            }
            key = storage.store_call(
                lambda png=png, record=record: storage.put_generated_image(self.store, params.round, png, record),
                "storing a generated image",
            )
            out.append(
                {
                    "key": key,
                    "reward": float(scores[i]),
                    "normalized_reward": float(normalized[i]),
                    "unet_version": served.version,
                    "index": i,
                    "png": png if params.return_images else b"",
                }
            )
        return out

    # Hot-swap ----------------------------------------------------------------------------------------
    def load_unet(self, version: str, prefix: str = "") -> dict[str, Any]:
        """Download, verify, build beside the serving UNet, smoke-test, then swap the reference.

        On any failure the old version keeps serving and the error is returned (and kept for ModelInfo).
        """
        version = check_id(version, "version")
        prefix = prefix or model_prefix("unet", version)
        with self._load_lock:
            previous, t0 = self._served, time.perf_counter()
            dest = self._work_dir / f"{version}-{uuid.uuid4().hex[:8]}"
            try:
                # 1. Download and verify every sha256 against the manifest (download_folder refuses a mismatch).
                manifest = download_folder(self.store, prefix, dest)
                # 2. Build beside the serving UNet, off the request path.
                unet = load_unet_checkpoint(dest).to(previous.backend.unet.device)
                check_compatible(previous.backend.unet, unet)
                if not all(torch.isfinite(p).all() for p in unet.parameters()):
                    raise ValueError("the UNet has NaN or infinite weights")
                backend = previous.backend.with_unet(unet)
                # 3. Smoke test: one 1-step image must run.
                if self.cfg.smoke_test_on_load:
                    backend("smoke test", 1, 0, 1, 1.0)
                # 4. Atomic swap of one reference.
                self._served = Served(backend, version, prefix, str(manifest.get("parent_version", "")))
                self.last_load_error, self._failed_version = "", ""
                swapped, error = True, ""
                log.info("swapped UNet %s -> %s", previous.version, version)
            except Exception as e:  # keep serving the old version, report why
                swapped, error = False, f"{type(e).__name__}: {e}"[:4096]
                self.last_load_error, self._failed_version = error, version
                log.error("LoadUnet %s failed; still serving %s: %s", version, previous.version, error)
            finally:
                shutil.rmtree(dest, ignore_errors=True)  # weights are in memory now
            return {
                "swapped": swapped,
                "serving": self.version_info(self._served),
                "previous": self.version_info(previous),
                "error": error,
                "load_seconds": time.perf_counter() - t0,
            }

    def sync_to_pointer(self) -> dict[str, Any] | None:
        """Load the version the serving pointer names if it differs from the served one (None if nothing to do)."""
        version = storage.store_call(lambda: get_pointer(self.store, self.cfg.pointer), "reading the pointer")
        if version is None or version in (self._served.version, self._failed_version):
            return None
        return self.load_unet(version)

    @staticmethod
    def version_info(served: Served) -> dict[str, str]:
        return {"version": served.version, "prefix": served.prefix, "parent_version": served.parent}

    def model_info(self) -> dict[str, Any]:
        served = self._served
        return {
            "backend": self.backend_name,
            "unet": self.version_info(served),
            "resolution": served.backend.resolution,
            "last_load_error": self.last_load_error,
        }
