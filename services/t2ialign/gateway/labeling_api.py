"""The labeling page and its API (docs/LABELING.md); assignment and metrics live in coordinator/labeling.py.

Pages (static files, no build step): GET /label (raters), GET /label/admin (admins); /label/static/<file>.
API: GET /v1/label/next (rater scope: the caller's next task, with image URLs), GET /v1/label/image/<round>/<id>.png
(a signed URL from /next, or a rater/admin key), GET /v1/label/image?key=images/<round>/<id>.png (a rater/admin
key), GET /v1/admin/label/stats (and one round's: GET /v1/admin/feedback/summary?round=),
GET /v1/admin/feedback/export (JSONL).
Labels are sent to POST /v1/feedback (rounds_api.py). Image URLs are signed like an S3 presigned URL, because an
<img> cannot send an Authorization header; images never travel inline as base64.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.params import Depends
from fastapi.responses import FileResponse, Response, StreamingResponse

from t2ialign.gateway.rounds_api import RoundBackend
from t2ialign.serving.auth import ApiKeys, Caller
from t2ialign.serving.errors import NotFound, PermissionDenied, check

STATIC = Path(__file__).parent / "static"
PAGES = {"label": "label.html", "admin": "admin.html"}
ASSETS = {"label.js", "label.css", "admin.js"}
URL_TTL_S = 3600  # signed image URLs are good for one to two hours (rounded, so a browser can cache them)


class ImageSigner:
    """HMAC-signed image URLs; the secret derives from the configured keys, so every gateway replica agrees."""

    def __init__(self, api_keys: ApiKeys):
        material = "\n".join(sorted(api_keys.keys)).encode()
        self.secret = hashlib.sha256(b"t2ialign-image-url\n" + material).digest()

    def _sig(self, key: str, exp: int) -> str:
        return hmac.new(self.secret, f"{key}|{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, key: str) -> str:
        exp = (int(time.time()) // URL_TTL_S + 2) * URL_TTL_S
        return f"/v1/label/{key.replace('images/', 'image/', 1)}?exp={exp}&sig={self._sig(key, exp)}"

    def valid(self, key: str, exp: int, sig: str) -> bool:
        return exp >= time.time() and hmac.compare_digest(self._sig(key, exp), sig)


def add_label_routes(app: FastAPI, backend: RoundBackend, api_keys: ApiKeys, admin: Depends, rater: Depends) -> None:
    signer = ImageSigner(api_keys)

    def page(name: str) -> FileResponse:
        return FileResponse(STATIC / PAGES[name], media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/label", include_in_schema=False)
    async def label_page() -> FileResponse:
        return page("label")

    @app.get("/label/admin", include_in_schema=False)
    async def admin_page() -> FileResponse:
        return page("admin")

    @app.get("/label/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFound(f"no asset {name!r}")
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    @app.get("/v1/label/next", tags=["labeling"])
    async def next_task(
        round: str = Query("", max_length=64, description="Round id; empty = the newest people round labeling"),
        exclude: str = Query("", max_length=4096, description="Comma-separated task ids the page already holds"),
        caller: Caller = rater,
    ) -> dict[str, Any]:
        """The caller's next task: one prompt and up to three images (signed URLs), or done=true."""
        out = await backend.label_next(round, caller.identity, [x for x in exclude.split(",") if x])
        if out["task"]:
            out["task"]["images"] = [{"key": k, "url": signer.url(k)} for k in out["task"]["keys"]]
        return out

    @app.get("/v1/label/image", tags=["labeling"])
    async def image_by_key(key: str = Query(max_length=300), caller: Caller = rater) -> Response:
        """The PNG at object-store key images/<round>/<id>.png, for a rater or admin key (nothing outside images/)."""
        parts = key.split("/")
        check(
            len(parts) == 3 and parts[0] == "images" and parts[2].endswith(".png") and ".." not in parts,
            f"key {key!r} is not an image key; use images/<round>/<id>.png",
        )
        png = await backend.label_image(key)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/v1/label/image/{round_id}/{name}", tags=["labeling"])
    async def image(round_id: str, name: str, request: Request, exp: int = 0, sig: str = "") -> Response:
        """The PNG of images/<round>/<name>, for a signed URL from /v1/label/next or a rater/admin key."""
        key = f"images/{round_id}/{name}"
        check(name.endswith(".png") and "/" not in name, f"{name!r} is not an image name; use <id>.png")
        if not (sig and signer.valid(key, exp, sig)):
            if sig and not request.headers.get("authorization"):
                raise PermissionDenied("this image URL has expired or its signature is wrong; ask /v1/label/next")
            api_keys.caller(request.headers.get("authorization"), "rater")
        png = await backend.label_image(key)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/v1/admin/label/stats", tags=["admin"], dependencies=[admin])
    async def stats(
        round: str = Query("", max_length=64, description="Round id; empty = the newest people rounds"),
        limit: int = Query(20, ge=1, le=1000),
    ) -> dict[str, Any]:
        """Per round: labels, agreement on overlapped images (Cohen's kappa), gold accuracy and pace per rater."""
        return {"rounds": await backend.label_stats(round, limit)}

    @app.get("/v1/admin/feedback/summary", tags=["admin"], dependencies=[admin])
    async def summary(round: str = Query(min_length=1, max_length=64)) -> dict[str, Any]:
        """One round's entry of /v1/admin/label/stats: labels, Cohen's kappa, gold accuracy and pace per rater."""
        return (await backend.label_stats(round, 1))[0]

    @app.get("/v1/admin/feedback/export", tags=["admin"], dependencies=[admin])
    async def export(round: str = Query(min_length=1, max_length=64)) -> StreamingResponse:
        """Every label of the round as JSONL (application/x-ndjson), one label per line, oldest first."""
        labels = await backend.label_export(round)
        lines = (json.dumps(x, sort_keys=True) + "\n" for x in labels)
        headers = {"Content-Disposition": f'attachment; filename="feedback-{round}.jsonl"'}
        return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)
