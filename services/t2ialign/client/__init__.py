"""Python client for product backends: reward scores (the ImageReward shape), generation and training jobs.

    from t2ialign.client import GeneratorClient, RewardClient, TrainerClient
    scores = RewardClient("http://localhost:8000", api_key).score("a red circle", ["a.png", "b.jpg"])
    out = GeneratorClient("grpc://localhost:9000", api_key).generate("a red circle", num_images=2, best_of_n=8)
    jobs = TrainerClient("http://localhost:8000", admin_key).list(state="running")

Scores come from the reward model the service serves: the `reward-serving` pointer's version, or, on a fresh
install with no pointer, the shipped r_phi (weights/toy/reward; `reward_version` names it, never "untrained").
`scores` are raw r_phi (trained toward 1 for an image that shows its prompt, 0 otherwise); `normalized` is
standard deviations above r_phi's mean on the shipped base's own samples, the scale of `min_reward`.
README "What do scores and thresholds mean?" has the measured kept share and precision per threshold.

`url` is the REST gateway (http:// or https://) or the Serve gRPC proxy (grpc://host:port). Images may be
PNG/JPEG bytes, file paths, uint8 (H, W, 3) arrays or PIL images. Light: no torch, no Ray.
Errors raise ClientError with the gRPC code name (e.g. INVALID_ARGUMENT) and the server's message.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import numpy as np

from t2ialign.common.png import encode_png
from t2ialign.serving.limits import GRPC_MAX_MESSAGE_BYTES

API_KEY_ENV = "T2IALIGN_API_KEY"  # the caller's key, used when api_key is not given
ImageLike = bytes | str | Path | np.ndarray | Any  # Any: a PIL.Image.Image


class ClientError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def to_image_bytes(image: ImageLike) -> bytes:
    """PNG/JPEG bytes for any ImageLike (arrays and PIL images are encoded as PNG)."""
    if isinstance(image, bytes | bytearray):
        return bytes(image)
    if isinstance(image, str | Path):
        return Path(image).read_bytes()
    from PIL import Image

    if isinstance(image, np.ndarray):
        return encode_png(np.asarray(image, dtype=np.uint8))
    if isinstance(image, Image.Image):
        return encode_png(image)
    raise TypeError(f"cannot send {type(image).__name__} as an image; give bytes, a path, an array or a PIL image")


class _Transport:
    """REST or gRPC, chosen by the URL scheme."""

    def __init__(self, url: str, api_key: str | None, app: str, timeout: float):
        self.api_key = api_key or os.environ.get(API_KEY_ENV, "")
        self.timeout, self.app = timeout, app
        if url.startswith(("http://", "https://")):
            import httpx

            self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
            self.grpc = None
        elif url.startswith("grpc://"):
            import grpc

            opts = [
                ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
            ]
            self.grpc, self.http = grpc.insecure_channel(url[len("grpc://") :], options=opts), None
        else:
            raise ValueError(f"url {url!r} must start with http://, https:// or grpc://")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._answer(self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.api_key}"}))

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._answer(self.http.get(path, params=params, headers={"Authorization": f"Bearer {self.api_key}"}))

    @staticmethod
    def _answer(r: Any) -> dict[str, Any]:
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ClientError(err["code"], err["message"], r.status_code)
            except (ValueError, KeyError, TypeError):
                raise ClientError(f"HTTP_{r.status_code}", r.text[:2000], r.status_code) from None
        return r.json()

    def call(self, stub_method: Any, request: Any) -> Any:
        import grpc

        metadata = [("application", self.app), ("authorization", f"Bearer {self.api_key}")]
        try:
            return stub_method(request, metadata=metadata, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ClientError(e.code().name, e.details() or "") from None

    def close(self) -> None:
        (self.http or self.grpc).close()


class CoordinatorClient:
    """Rounds, labels, promotion and rollback through the REST gateway (admin key, except `submit_feedback`)."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 600.0):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url {url!r}: the coordinator client speaks REST; give http://host:8000")
        self._t = _Transport(url, api_key, "coordinator", timeout)

    def start_round(self, **fields: Any) -> dict[str, Any]:
        """POST /v1/admin/rounds; fields as coordinator.proto's StartRoundRequest."""
        return self._t.post("/v1/admin/rounds", fields)

    def get_round(self, round_id: str) -> dict[str, Any]:
        return self._t.get(f"/v1/admin/rounds/{round_id}")

    def submit_feedback(self, round_id: str, labels: list[dict[str, Any]]) -> dict[str, Any]:
        return self._t.post("/v1/feedback", {"round_id": round_id, "labels": labels})

    def promote(self, version: str, kind: str = "unet", skip_gate: bool = False, reason: str = "") -> dict[str, Any]:
        return self._t.post(
            "/v1/admin/promote", {"kind": kind, "version": version, "skip_gate": skip_gate, "reason": reason}
        )

    def rollback(self, version: str = "", kind: str = "unet", reason: str = "") -> dict[str, Any]:
        return self._t.post("/v1/admin/rollback", {"kind": kind, "version": version, "reason": reason})

    def status(self, history_limit: int = 20) -> dict[str, Any]:
        return self._t.get("/v1/admin/status", {"history_limit": history_limit})

    def close(self) -> None:
        self._t.close()


class RewardClient:
    """Reward scores for (prompt, images), from the REST gateway or the gRPC RewardService."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0, app: str = "reward"):
        self._t = _Transport(url, api_key, app, timeout)
        if self._t.grpc is not None:
            from t2ialign.v1 import reward_pb2_grpc

            self._stub = reward_pb2_grpc.RewardServiceStub(self._t.grpc)

    def score(self, prompt: str, images: list[ImageLike]) -> list[float]:
        """One raw reward per image, in order (ImageReward's `score` shape)."""
        return self.score_full(prompt, images)["scores"]

    def score_full(self, prompt: str, images: list[ImageLike]) -> dict[str, Any]:
        """{"scores": [...], "normalized": [...], "reward_version": str}."""
        data = [to_image_bytes(i) for i in images]
        if self._t.http is not None:
            return self._t.post("/v1/score", {"prompt": prompt, "images": [base64.b64encode(d).decode() for d in data]})
        from t2ialign.v1 import common_pb2, reward_pb2

        req = reward_pb2.ScoreRequest(prompts=[prompt], images=[common_pb2.ImageRef(data=d) for d in data])
        r = self._t.call(self._stub.Score, req)
        return {"scores": list(r.scores), "normalized": list(r.normalized), "reward_version": r.reward_version}

    def rank(self, prompt: str, images: list[ImageLike], k: int = 0) -> list[dict[str, Any]]:
        """The k best images (0 = all), best first: [{"index", "score", "normalized", "key"}]."""
        data = [to_image_bytes(i) for i in images]
        if self._t.http is not None:
            body = {"prompt": prompt, "images": [base64.b64encode(d).decode() for d in data], "k": k}
            return self._t.post("/v1/rank", body)["ranked"]
        from t2ialign.v1 import common_pb2, reward_pb2

        req = reward_pb2.RankRequest(prompt=prompt, images=[common_pb2.ImageRef(data=d) for d in data], k=k)
        r = self._t.call(self._stub.Rank, req)
        return [{"index": x.index, "score": x.score, "normalized": x.normalized, "key": x.key} for x in r.ranked]

    def close(self) -> None:
        self._t.close()


class GeneratorClient:
    """Generation with serve-time reward filtering, from the REST gateway or the gRPC GeneratorService."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300.0, app: str = "generator"):
        self._t = _Transport(url, api_key, app, timeout)
        if self._t.grpc is not None:
            from t2ialign.v1 import generator_pb2_grpc

            self._stub = generator_pb2_grpc.GeneratorServiceStub(self._t.grpc)

    def generate(
        self,
        prompt: str,
        num_images: int = 1,
        seed: int = 0,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        best_of_n: int = 0,
        min_reward: float | None = None,
        return_images: bool = False,
        round: str | None = None,
    ) -> dict[str, Any]:
        """{"images": [{"key", "reward", "normalized_reward", "unet_version", "index", "png"}], "unet_version",
        "reward_version", "num_generated", "seed"}; "png" holds bytes when return_images, else b""."""
        body = {
            "prompt": prompt,
            "num_images": num_images,
            "seed": seed,
            "num_inference_steps": num_inference_steps,
            "guidance_scale": guidance_scale,
            "best_of_n": best_of_n,
            "min_reward": min_reward,
            "return_images": return_images,
            "round": round,
        }
        if self._t.http is not None:
            r = self._t.post("/v1/generate", {k: v for k, v in body.items() if v is not None})
            for im in r["images"]:
                im["png"] = base64.b64decode(im.pop("png_base64", ""))
            return r
        from t2ialign.v1 import generator_pb2

        r = self._t.call(
            self._stub.Generate,
            generator_pb2.GenerateRequest(
                **{k: v for k, v in body.items() if v is not None and k != "round"}, round=round or ""
            ),
        )
        images = [
            {
                "key": x.image.key,
                "reward": x.reward,
                "normalized_reward": x.normalized_reward,
                "unet_version": x.unet_version,
                "index": x.index,
                "png": x.image.data,
            }
            for x in r.images
        ]
        return {
            "images": images,
            "unet_version": r.unet_version,
            "reward_version": r.reward_version,
            "num_generated": r.num_generated,
            "seed": r.seed,
        }

    def model_info(self) -> dict[str, Any]:
        if self._t.http is not None:
            r = self._t.http.get("/v1/models", headers={"Authorization": f"Bearer {self._t.api_key}"})
            if r.status_code >= 400:
                raise ClientError(f"HTTP_{r.status_code}", r.text[:2000], r.status_code)
            return r.json()["generator"]
        from t2ialign.v1 import generator_pb2

        r = self._t.call(self._stub.ModelInfo, generator_pb2.ModelInfoRequest())
        return {
            "backend": r.backend,
            "unet_version": r.unet.version,
            "resolution": r.resolution,
            "last_load_error": r.last_load_error,
            "replica_id": r.replica_id,
        }

    def close(self) -> None:
        self._t.close()


class TrainerClient:
    """Training jobs (admin key): the gateway's /v1/admin/jobs routes or the gRPC TrainerService.

    Jobs come back as dicts: the gateway's JSON, or the proto Job as JSON (field names as in the proto)."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0, app: str = "trainer"):
        self._t = _Transport(url, api_key, app, timeout)
        if self._t.grpc is not None:
            from t2ialign.v1 import trainer_pb2_grpc

            self._stub = trainer_pb2_grpc.TrainerServiceStub(self._t.grpc)

    @staticmethod
    def _job(job: Any) -> dict[str, Any]:
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(job, preserving_proto_field_name=True)

    def list(self, kind: str = "", state: str = "", page_size: int = 0, page_token: str = "") -> dict[str, Any]:
        """{"jobs": [...], "next_page_token": str}; kind "reward"/"finetune", state "queued", "running", ..."""
        if self._t.http is not None:
            query = {"kind": kind, "state": state, "page_size": page_size, "page_token": page_token}
            return self._t.get("/v1/admin/jobs", {k: v for k, v in query.items() if v})
        from t2ialign.v1 import trainer_pb2

        req = trainer_pb2.ListJobsRequest(
            kind=trainer_pb2.JobKind.Value(f"JOB_KIND_{kind.upper()}") if kind else 0,
            state=trainer_pb2.JobState.Value(f"JOB_STATE_{state.upper()}") if state else 0,
            page_size=page_size,
            page_token=page_token,
        )
        r = self._t.call(self._stub.ListJobs, req)
        return {"jobs": [self._job(j) for j in r.jobs], "next_page_token": r.next_page_token}

    def get(self, job_id: str) -> dict[str, Any]:
        if self._t.http is not None:
            return self._t.get(f"/v1/admin/jobs/{job_id}")
        from t2ialign.v1 import trainer_pb2

        return self._job(self._t.call(self._stub.GetJob, trainer_pb2.GetJobRequest(job_id=job_id)).job)

    def cancel(self, job_id: str) -> dict[str, Any]:
        if self._t.http is not None:
            return self._t.post(f"/v1/admin/jobs/{job_id}/cancel", {})
        from t2ialign.v1 import trainer_pb2

        return self._job(self._t.call(self._stub.CancelJob, trainer_pb2.CancelJobRequest(job_id=job_id)).job)

    def close(self) -> None:
        self._t.close()
