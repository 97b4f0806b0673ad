"""Reward service as a Ray Serve deployment: gRPC Score/Rank (via the Serve gRPC proxy) and Python methods
for in-cluster callers (generator, gateway) through DeploymentHandles. All scoring goes through one
@serve.batch queue, so pairs from concurrent requests share forward passes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from ray import serve
from starlette.responses import JSONResponse

from t2ialign.reward.config import RewardServiceConfig
from t2ialign.reward.logic import RewardScorer
from t2ialign.serving.auth import ApiKeys
from t2ialign.serving.errors import check
from t2ialign.serving.grpc_errors import grpc_method
from t2ialign.serving.images import resize_images
from t2ialign.serving.requests import ImageInput, check_prompt, check_prompts, top_k
from t2ialign.v1 import reward_pb2

Chunk = tuple[np.ndarray, list[str]]  # images (n, S, S, 3) uint8, prompts (n,)


def _pairs(chunks: list[Chunk]) -> int:
    return sum(len(p) for _, p in chunks)


@serve.deployment(max_ongoing_requests=256, ray_actor_options={"num_cpus": 1})
class RewardDeployment:
    def __init__(self, config: dict[str, Any] | None = None):
        self.cfg = RewardServiceConfig(**(config or {}))
        self.scorer = RewardScorer.from_config(self.cfg)
        self.api_keys = ApiKeys.from_env()
        self.replica_id = str(serve.get_replica_context().replica_id)
        self._set_batching(self.cfg.max_batch_size, self.cfg.batch_wait_timeout_s)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Batching knobs at runtime (cheap, so it is fine inside reconfigure)."""
        size = user_config.get("max_batch_size", self.cfg.max_batch_size)
        self._set_batching(size, user_config.get("batch_wait_timeout_s", self.cfg.batch_wait_timeout_s))

    def _set_batching(self, max_batch_size: int, wait_s: float) -> None:
        self._max_batch_size = max_batch_size  # requests are split into chunks of at most this many pairs
        self._score_batch.set_max_batch_size(max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(wait_s)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005, batch_size_fn=_pairs)
    async def _score_batch(self, chunks: list[Chunk]) -> list[tuple[np.ndarray, np.ndarray]]:
        images = np.concatenate([c[0] for c in chunks])  # (B, S, S, 3)
        prompts = [p for c in chunks for p in c[1]]
        raw, norm = await asyncio.to_thread(self.scorer.score, images, prompts)  # keep the event loop free
        out, i = [], 0
        for c in chunks:
            n = len(c[1])
            out.append((raw[i : i + n], norm[i : i + n]))
            i += n
        return out

    async def _score(self, images: np.ndarray, prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Split into chunks no larger than a batch, queue them, reassemble in order."""
        size = self._max_batch_size
        parts = await asyncio.gather(
            *(self._score_batch((images[i : i + size], prompts[i : i + size])) for i in range(0, len(prompts), size))
        )
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    async def __call__(self, request: Any) -> JSONResponse:
        """HTTP under this app's route is not an API; point callers to gRPC or the gateway."""
        msg = "use gRPC t2ialign.v1.RewardService (port 9000, metadata application=reward) or POST /v1/score"
        return JSONResponse({"error": {"code": "NOT_FOUND", "message": msg}}, status_code=404)

    # In-cluster Python API (DeploymentHandle callers) ------------------------------------------------
    async def score_arrays(self, images: np.ndarray, prompts: list[str]) -> dict[str, Any]:
        """Score decoded uint8 images (N, H, W, 3), e.g. fresh generations; images are resized if needed."""
        check(len(images) > 0, "no images to score")
        prompts = check_prompts(list(prompts), len(images))
        images = resize_images(np.asarray(images, dtype=np.uint8), self.scorer.image_size)
        raw, norm = await self._score(images, prompts)
        return {"scores": raw.tolist(), "normalized": norm.tolist(), "reward_version": self.scorer.version}

    async def score_inputs(self, prompts: list[str], images: list[ImageInput]) -> dict[str, Any]:
        arrays = await asyncio.to_thread(self.scorer.load_images, images)
        prompts = check_prompts(list(prompts), len(arrays))
        raw, norm = await self._score(arrays, prompts)
        return {"scores": raw.tolist(), "normalized": norm.tolist(), "reward_version": self.scorer.version}

    async def rank_inputs(self, prompt: str, images: list[ImageInput], k: int) -> dict[str, Any]:
        prompt = check_prompt(prompt)
        check(0 <= k <= len(images), f"k={k} but {len(images)} images were sent; use 0..{len(images)} (0 = all)")
        result = await self.score_inputs([prompt], images)
        raw, norm = np.asarray(result["scores"]), np.asarray(result["normalized"])
        ranked = [
            {"index": i, "score": float(raw[i]), "normalized": float(norm[i]), "key": images[i].key}
            for i in top_k(raw, k)
        ]
        return {"ranked": ranked, "reward_version": self.scorer.version}

    async def load_reward(self, version: str, prefix: str = "") -> dict[str, Any]:
        """Follow pointers/reward-serving (the coordinator moved it to `version`): load beside the serving model,
        then swap one reference; on any failure keep serving the old one and say why."""
        previous = self.scorer.version
        try:
            scorer = await asyncio.to_thread(RewardScorer.from_config, self.cfg)
            error = "" if scorer.version == version else f"the pointer names {scorer.version!r}, not {version!r}"
            self.scorer = scorer
        except Exception as e:
            error = f"{type(e).__name__}: {e}"[:4096]
        return {
            "replica_id": self.replica_id,
            "swapped": self.scorer.version != previous or not error,
            "serving": {"version": self.scorer.version},
            "error": error,
        }

    async def serving_version(self) -> dict[str, str]:
        return {"replica_id": self.replica_id, "version": self.scorer.version}

    def model_info(self) -> dict[str, Any]:
        return {"reward_version": self.scorer.version, "image_size": self.scorer.image_size}

    # gRPC (t2ialign.v1.RewardService through the Serve gRPC proxy) ---------------------------------
    @grpc_method(reward_pb2.ScoreResponse)
    async def Score(self, request: reward_pb2.ScoreRequest, grpc_context: Any = None) -> reward_pb2.ScoreResponse:
        r = await self.score_inputs(list(request.prompts), [ImageInput(i.key, i.data) for i in request.images])
        return reward_pb2.ScoreResponse(
            scores=r["scores"], normalized=r["normalized"], reward_version=r["reward_version"]
        )

    @grpc_method(reward_pb2.RankResponse)
    async def Rank(self, request: reward_pb2.RankRequest, grpc_context: Any = None) -> reward_pb2.RankResponse:
        images = [ImageInput(i.key, i.data) for i in request.images]
        r = await self.rank_inputs(request.prompt, images, int(request.k))
        ranked = [reward_pb2.RankedImage(**x) for x in r["ranked"]]
        return reward_pb2.RankResponse(ranked=ranked, reward_version=r["reward_version"])
