"""Step 1 of Lee et al. 2023 (§3.1, docs/METHOD.md): collect feedback on the current generator's samples.

K images per prompt are generated, shown to raters three at a time, and marked good (1) or bad (0);
raters skip some (None). With `raters=None` the samples stay unlabeled: the paper's extra model samples
that r_phi scores for fine-tuning (Eq. 3).

Storage format (docs/ARCHITECTURE.md "Storage"; the coordinator and the labeling page write the same):
    images/<round>/<image-id>.png     PNG; object metadata: prompt, seed, sample-index, unet-version, round,
                                      num-inference-steps, guidance-scale. The image is exactly
                                      pipe(prompt, num_images=K, seed=seed, ...)[sample-index].
    feedback/<round>/<label-id>.json  {"label_id", "round_id", "image_key", "rating", "rater_id"}: the
                                      proto `Label` (coordinator.proto) as JSON; rating 1.0 good, 0.0 bad.
A skip writes no record here (a skip is the absence of a label); the coordinator stores a person's skip
with "choice": "skip" and rating null, which `load_feedback` ignores. Ids are deterministic, so writing the same
feedback again is harmless: an existing object with identical content is accepted, a different one is an error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
from diffusers import UNet2DConditionModel

from t2ialign.common.png import decode_png, encode_png
from t2ialign.models.toy_pipeline import ToyPipeline
from t2ialign.store import KeyExistsError, ObjectStore, feedback_key, image_key, validate_id
from t2ialign.toyworld.grammar import PromptSpec
from t2ialign.toyworld.raters import SimulatedRaters

SCHEMA = "t2ialign.feedback.v1"


@dataclass
class FeedbackSet:
    """Images with their prompts and labels (1 good, 0 bad, None skipped or unlabeled)."""

    images: np.ndarray  # (N, H, W, 3) uint8
    prompts: list[str]
    labels: list[int | None]
    image_ids: list[str]
    round_id: str
    metadata: list[dict[str, str]] = field(default_factory=list)  # per image: seed, unet-version, ... (may be empty)

    def __post_init__(self) -> None:
        n = len(self.images)
        if not (len(self.prompts) == len(self.labels) == len(self.image_ids) == n):
            raise ValueError(
                f"FeedbackSet needs one prompt, label and id per image: {n} images, {len(self.prompts)} prompts, "
                f"{len(self.labels)} labels, {len(self.image_ids)} ids"
            )
        if self.metadata and len(self.metadata) != n:
            raise ValueError(f"metadata has {len(self.metadata)} entries for {n} images; give one per image or none")
        if n and (self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3):
            raise ValueError(f"images must be (N, H, W, 3) uint8, got {self.images.dtype} {self.images.shape}")
        if any(y not in (0, 1, None) for y in self.labels):
            raise ValueError("labels must be 1 (good), 0 (bad) or None (skipped / unlabeled)")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: list[int] | np.ndarray) -> FeedbackSet:
        index = [int(i) for i in index]
        return FeedbackSet(
            images=self.images[index] if index else self.images[:0],
            prompts=[self.prompts[i] for i in index],
            labels=[self.labels[i] for i in index],
            image_ids=[self.image_ids[i] for i in index],
            round_id=self.round_id,
            metadata=[self.metadata[i] for i in index] if self.metadata else [],
        )

    def labeled(self) -> FeedbackSet:
        """Only the images that carry a label (skips dropped)."""
        return self.subset([i for i, y in enumerate(self.labels) if y is not None])

    @property
    def good_rate(self) -> float:
        ys = [y for y in self.labels if y is not None]
        return float(np.mean(ys)) if ys else float("nan")

    @staticmethod
    def concat(sets: list[FeedbackSet], round_id: str | None = None) -> FeedbackSet:
        """Join several sets (e.g. all rounds so far); the round id is the last set's unless given."""
        if not sets:
            raise ValueError("concat needs at least one FeedbackSet")
        keep_meta = all(s.metadata for s in sets)
        return FeedbackSet(
            images=np.concatenate([s.images for s in sets]),
            prompts=[p for s in sets for p in s.prompts],
            labels=[y for s in sets for y in s.labels],
            image_ids=[i for s in sets for i in s.image_ids],
            round_id=round_id or sets[-1].round_id,
            metadata=[m for s in sets for m in s.metadata] if keep_meta else [],
        )


def image_id(
    unet_version: str, prompt: str, seed: int, sample_index: int, steps: int, guidance: float, dtype: str = "float32"
) -> str:
    """Deterministic id of one generated image: the same recipe gives the same id (idempotent writes).
    A reduced compute dtype draws other pixels, so it is part of the recipe (float32 ids are as before)."""
    key = f"{unet_version}|{prompt}|{seed}|{sample_index}|{steps}|{guidance:g}"
    key += "" if dtype == "float32" else f"|{dtype}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def label_id(round_id: str, image_id: str, rater_id: str) -> str:
    """Deterministic label id: one rater's label on one image (re-sending it is idempotent)."""
    return hashlib.sha256(f"{round_id}/{image_id}/{rater_id}".encode()).hexdigest()[:24]


def prompt_seed(seed: int, prompt_index: int) -> int:
    """Seed of prompt i's generator call; spaced so that rounds seeded 0, 1, 2 ... never share noise."""
    return (seed * 1_000_003 + prompt_index) % (2**31)


def collect_feedback(
    pipe: ToyPipeline,
    prompts: list[PromptSpec],
    images_per_prompt: int,
    raters: SimulatedRaters | None,
    seed: int,
    round_id: str,
    store: ObjectStore | None = None,
    unet: UNet2DConditionModel | None = None,
    num_inference_steps: int = 20,
    guidance_scale: float = 4.0,
    unet_version: str = "base",
    rater_id: str = "simulated",
    progress: bool = False,
) -> FeedbackSet:
    """Generate `images_per_prompt` images per prompt with the current UNet and rate them (None: unlabeled).

    Each prompt's K images come from one call, pipe(prompt, num_images=K, seed=prompt_seed(seed, i)), and
    are rated together, three at a time, so a rater's group of three always shows one prompt (as in the paper).
    Writes everything to `store` when given (see `save_feedback`).
    """
    # 1. Check inputs.
    validate_id(round_id, "round id")
    if not prompts:
        raise ValueError("prompts is empty; give at least one PromptSpec")
    if not 1 <= images_per_prompt <= 4096:
        raise ValueError(f"images_per_prompt must be in 1..4096, got {images_per_prompt}")
    # 2. Generate and rate, prompt by prompt.
    images, texts, labels, ids, meta = [], [], [], [], []
    dtype = pipe.precision.name
    iterator = enumerate(prompts)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(prompts), desc=f"collect {round_id}")
    for i, spec in iterator:
        s = prompt_seed(seed, i)
        imgs = pipe(
            spec.text,
            num_images=images_per_prompt,
            seed=s,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            unet=unet,
        )
        ys = raters.rate(imgs, [spec] * len(imgs)) if raters is not None else [None] * len(imgs)
        for k, (img, y) in enumerate(zip(imgs, ys, strict=True)):
            images.append(img)
            texts.append(spec.text)
            labels.append(y)
            ids.append(image_id(unet_version, spec.text, s, k, num_inference_steps, guidance_scale, dtype))
            meta.append(
                {
                    "prompt": spec.text,
                    "seed": str(s),
                    "sample-index": str(k),
                    "num-images": str(images_per_prompt),
                    "unet-version": unet_version,
                    "round": round_id,
                    "num-inference-steps": str(num_inference_steps),
                    "guidance-scale": f"{guidance_scale:g}",
                    "dtype": dtype,
                }
            )
            if raters is not None:
                meta[-1]["rater"] = rater_id
    fs = FeedbackSet(np.stack(images), texts, labels, ids, round_id, meta)
    # 3. Persist.
    if store is not None:
        save_feedback(fs, store, rater_id=rater_id)
    return fs


def _put_once(store: ObjectStore, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> bool:
    """Write-once put that accepts an identical existing object; True if newly written."""
    try:
        store.put_bytes(key, data, content_type, metadata)
        return True
    except KeyExistsError:
        if store.get_bytes(key) != data:
            raise KeyExistsError(f"{key!r} already exists with different content; ids must be unique") from None
        return False


def label_record(round_id: str, image_id: str, rating: float, rater_id: str) -> dict[str, object]:
    """One feedback record, the JSON form of coordinator.proto's `Label` (plus round and schema)."""
    if not 0.0 <= rating <= 1.0:
        raise ValueError(f"rating must be in [0, 1] (1 good, 0 bad), got {rating}")
    return {
        "schema": SCHEMA,
        "label_id": label_id(round_id, image_id, rater_id),
        "round_id": round_id,
        "image_key": image_key(round_id, image_id),
        "rating": float(rating),
        "rater_id": rater_id,
    }


def save_feedback(fs: FeedbackSet, store: ObjectStore, rater_id: str = "simulated") -> dict[str, int]:
    """Write images and labels in the storage format above; returns counts of objects newly written."""
    written = {"images": 0, "labels": 0}
    for n, (img, prompt, y, iid) in enumerate(zip(fs.images, fs.prompts, fs.labels, fs.image_ids, strict=True)):
        meta = dict(fs.metadata[n]) if fs.metadata else {}
        meta.setdefault("prompt", prompt)
        meta.setdefault("round", fs.round_id)
        written["images"] += _put_once(store, image_key(fs.round_id, iid), encode_png(img), "image/png", meta)
        if y is None:
            continue  # a skip (or an unlabeled sample) is the absence of a label
        rec = label_record(fs.round_id, iid, float(y), meta.get("rater") or rater_id)
        data = (json.dumps(rec, indent=2, sort_keys=True) + "\n").encode()
        written["labels"] += _put_once(
            store, feedback_key(fs.round_id, str(rec["label_id"])), data, "application/json", {}
        )
    return written


def _generation_order(m: dict) -> tuple | None:
    """(prompt, seed, index): the order of a generator service's images, which is independent of the time they
    were written (their ids are time-based, and a round has several Generate calls in flight). None if unknown."""
    try:
        return str(m["prompt"]), int(m["seed"]), int(m["index"])
    except (KeyError, TypeError, ValueError):
        return None


def _aggregate(ratings: list[float]) -> int | None:
    """Several raters on one image: majority vote; a tie counts as a skip."""
    if not ratings:
        return None
    mean = float(np.mean(ratings))
    return None if mean == 0.5 else int(mean > 0.5)


def load_feedback(store: ObjectStore, round_id: str) -> FeedbackSet:
    """Read a round back: every image under images/<round>/ with its aggregated label (None if unlabeled).

    Images that all carry prompt, seed and index (the generator service's) come in that order, so a round's
    reward model and fine-tuning see the same data order however its Generate calls interleaved; others come in
    the store's key order."""
    validate_id(round_id, "round id")
    ratings: dict[str, list[float]] = {}
    for key in store.list(f"feedback/{round_id}/"):
        rec = json.loads(store.get_bytes(key))
        if rec.get("rating") is not None:  # a stored skip ("choice": "skip", rating null) is never trained on
            ratings.setdefault(rec["image_key"], []).append(float(rec["rating"]))
    prefix = f"images/{round_id}/"
    found: list[tuple[str, dict, tuple | None]] = []  # (key, metadata, generation order)
    for key in store.list(prefix):
        if not key.endswith(".png"):
            continue
        m, record = store.metadata(key), {}
        if "prompt" not in m and "metadata-key" in m:  # written by the generator service: prompt in the JSON
            record = json.loads(store.get_bytes(m["metadata-key"]))
            m = {**m, "prompt": record["prompt"]}
        if "prompt" not in m:
            raise ValueError(f"{key!r} has no 'prompt' metadata; images must be written with their prompt")
        found.append((key, m, _generation_order({**record, **m})))
    if all(order is not None for *_, order in found):
        found.sort(key=lambda f: f[2])
    images, prompts, labels, ids, meta = [], [], [], [], []
    for key, m, _ in found:
        images.append(decode_png(store.get_bytes(key)))
        prompts.append(m["prompt"])
        labels.append(_aggregate(ratings.pop(key, [])))
        ids.append(key[len(prefix) : -len(".png")])
        meta.append(dict(m))
    if ratings:
        raise ValueError(f"feedback/{round_id}/ labels images that do not exist: {sorted(ratings)[:3]}")
    if not images:
        raise ValueError(f"no images under {prefix!r}; was round {round_id!r} collected into this store?")
    return FeedbackSet(np.stack(images), prompts, labels, ids, round_id, meta)
