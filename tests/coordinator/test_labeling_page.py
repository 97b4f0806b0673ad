"""The labeling page in real headless chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser
download) against the real local Ray Serve: a people round is labeled with clicks, with the keyboard, across a
reload and while offline; every label is stored exactly once with the key's identity; the labels fill the round,
which trains, passes the (tiny) gate and is promoted. Bad input to the label API changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from t2ialign.store import get_pointer

from .conftest import ADMIN_KEY, RATER_KEYS, USER_KEY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
PROMPTS = ["a red circle", "two blue squares", "a yellow diamond", "three crosses", "a green ring"]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def start_people_round(cluster, round_id: str, prompts: list[str], labels_to_train: int) -> dict:
    body = {
        "prompts": prompts,
        "num_images": 3,
        "seed": 4,
        "raters": "people",
        "labels_to_train": labels_to_train,
        "auto_promote": True,
        "round_id": round_id,
    }
    r = httpx.post(f"{cluster.http}/v1/admin/rounds", json=body, headers=bearer(ADMIN_KEY), timeout=60)
    assert r.status_code == 200, r.text
    return wait_state(cluster, round_id, {"LABELING"}, 300)


def wait_state(cluster, round_id: str, states: set[str], timeout_s: float) -> dict:
    t0 = time.time()
    while True:
        r = httpx.get(f"{cluster.http}/v1/admin/rounds/{round_id}", headers=bearer(ADMIN_KEY), timeout=60).json()
        if r["state"] in states:
            return r
        assert r["state"] != "FAILED" and time.time() - t0 < timeout_s, (r["state"], r["error"])
        time.sleep(0.5)


def next_task(cluster, key: str, round_id: str, exclude: str = "") -> httpx.Response:
    q = {"round": round_id, "exclude": exclude}
    return httpx.get(f"{cluster.http}/v1/label/next", params=q, headers=bearer(key), timeout=60)


def post(cluster, key: str | None, round_id: str, labels: list[dict]) -> httpx.Response:
    headers = bearer(key) if key else {}
    body = {"round_id": round_id, "labels": labels}
    return httpx.post(f"{cluster.http}/v1/feedback", json=body, headers=headers, timeout=60)


def stored(cluster, round_id: str) -> list[dict]:
    return [json.loads(cluster.store.get_bytes(k)) for k in cluster.store.list(f"feedback/{round_id}/")]


def test_bad_input_to_the_label_api_gets_a_clear_4xx_and_changes_nothing(cluster) -> None:
    start_people_round(cluster, "r-label-bad", PROMPTS[:1], 1000)
    alice = RATER_KEYS["alice"]
    task = next_task(cluster, alice, "r-label-bad").json()["task"]
    key = task["keys"][0]
    first = post(cluster, alice, "r-label-bad", [{"label_id": "a1", "image_key": key, "choice": "good"}])
    assert first.status_code == 200, first.text
    before = stored(cluster, "r-label-bad")
    cases = [
        (alice, [{"label_id": "a2", "image_key": "images/r-label-bad/nope.png", "choice": "good"}], 404, "NOT_FOUND"),
        (alice, [{"label_id": "a2", "image_key": key, "choice": "maybe"}], 422, "INVALID_ARGUMENT"),
        ("wrong-key-00000", [{"label_id": "a2", "image_key": key, "choice": "good"}], 401, "UNAUTHENTICATED"),
        (None, [{"label_id": "a2", "image_key": key, "choice": "good"}], 401, "UNAUTHENTICATED"),
        (alice, [{"label_id": "a1", "image_key": key, "choice": "bad"}], 400, "INVALID_ARGUMENT"),  # immutable
    ]
    for k, labels, status, code in cases:
        r = post(cluster, k, "r-label-bad", labels)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
        assert r.json()["error"]["message"]
    assert stored(cluster, "r-label-bad") == before and before[0]["rater_id"] == "alice"
    # A rater key labels and nothing else; user keys get no labeling queue.
    for method, path in [
        ("GET", "/v1/models"),
        ("POST", "/v1/generate"),
        ("GET", "/v1/admin/status"),
        ("GET", "/v1/admin/feedback/export?round=r-label-bad"),
        ("GET", "/v1/admin/label/stats"),
        ("GET", "/v1/admin/feedback/summary?round=r-label-bad"),
    ]:
        r = httpx.request(
            method, cluster.http + path, headers=bearer(alice), json={"prompt": "a yellow diamond"}, timeout=60
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "PERMISSION_DENIED", (path, r.text)
    assert next_task(cluster, USER_KEY, "r-label-bad").status_code == 403
    assert next_task(cluster, alice, "nope").status_code == 404
    # Images: the signed URL from /next works without a key; a forged one does not.
    url = cluster.http + task["images"][0]["url"]
    r = httpx.get(url, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    assert httpx.get(url[:-3] + "000", timeout=60).status_code == 403
    assert httpx.get(url.split("?")[0], timeout=60).status_code == 401
    assert httpx.get(url.split("?")[0], headers=bearer(alice), timeout=60).status_code == 200
    by_key = f"{cluster.http}/v1/label/image"
    r = httpx.get(by_key, params={"key": key}, headers=bearer(alice), timeout=60)
    assert r.status_code == 200 and r.content[:4] == b"\x89PNG"
    for bad, status in [("rounds/r-label-bad/prompts.json", 400), ("images/../pointers/x.png", 400), (key, 401)]:
        r = httpx.get(by_key, params={"key": bad}, headers=bearer(alice) if status != 401 else {}, timeout=60)
        assert r.status_code == status, (bad, r.text)
    assert httpx.get(by_key, params={"key": "images/r-label-bad/nope.png"}, headers=bearer(alice)).status_code == 404


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); the labeling page is not tested")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def cards(page) -> list[str]:
    return page.eval_on_selector_all("[data-image-key]", "els => els.map(e => e.dataset.imageKey)")


def wait_new_batch(page, old: list[str]) -> list[str]:
    page.wait_for_function(
        "old => { const k = [...document.querySelectorAll('[data-image-key]')].map(e => e.dataset.imageKey);"
        " return k.length > 0 && k[0] !== old[0]; }",
        arg=old,
        timeout=60_000,
    )
    return cards(page)


def wait_pending(page, n: int, timeout_s: float = 60) -> None:
    page.wait_for_function(
        "n => document.querySelector('[data-pending]').textContent === String(n)", arg=n, timeout=timeout_s * 1000
    )


def test_people_label_in_the_browser_and_their_round_trains_and_promotes(cluster, browser) -> None:
    t0 = time.time()
    rid = "r-label"
    start_people_round(cluster, rid, PROMPTS, labels_to_train=14)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{cluster.http}/label?round={rid}#key={RATER_KEYS['alice']}")
    page.wait_for_selector("[data-image-key]")
    given: dict[str, str] = {}

    def click(i: int, choice: str) -> None:
        keys = cards(page)
        page.locator(f'[data-image-key="{keys[i]}"] [data-label="{choice}"]').click()
        given[keys[i]] = choice

    # 1. A batch with clicks.
    batch = cards(page)
    assert len(batch) == 3
    for i, c in enumerate(["good", "bad", "good"]):
        click(i, c)
    # 2. A batch with the keyboard: 1 good, 2 bad, 3 skip on the focused card; U undoes.
    batch = wait_new_batch(page, batch)
    for k in ["1", "2", "u", "1", "2"]:
        page.keyboard.press(k)
    given.update(zip(batch, ["good", "good", "bad"], strict=True))
    # 3. Reload mid-batch: the choice already made survives.
    batch = wait_new_batch(page, batch)
    click(0, "skip")
    page.reload()
    page.wait_for_selector("[data-image-key]")
    assert cards(page) == batch
    assert page.locator(f'[data-image-key="{batch[0]}"] [data-label="skip"]').get_attribute("aria-pressed") == "true"
    click(1, "bad")
    click(2, "good")
    batch = wait_new_batch(page, batch)
    wait_pending(page, 0)
    # 4. Offline: labels wait in localStorage, counted as pending, and go out when the page is back online.
    context.set_offline(True)
    for k in ["1", "1", "2"]:
        page.keyboard.press(k)
    given.update(zip(batch, ["good", "good", "bad"], strict=True))
    wait_new_batch(page, batch)
    time.sleep(1.5)  # a send or two fail meanwhile
    assert page.locator("[data-pending]").text_content() == "3"
    context.set_offline(False)
    wait_pending(page, 0)
    page_s = time.time() - t0

    # Every label given in the page is in the store exactly once, with alice's identity from her key.
    mine = [x for x in stored(cluster, rid) if x["rater_id"] == "alice"]
    assert sorted(x["image_key"] for x in mine) == sorted(given) and len(given) == 12
    assert all(x["label_id"] == f"alice.{x['image_key'].split('/')[-1][:-4]}" for x in mine)  # deterministic ids
    assert {x["image_key"]: x["choice"] for x in mine} == given

    # A tablet in portrait: two cards a row, nothing wider than the screen, touch-sized buttons.
    page.set_viewport_size({"width": 768, "height": 1024})
    boxes = [page.locator(f'[data-image-key="{k}"]').bounding_box() for k in cards(page)]
    assert boxes[0]["y"] == boxes[1]["y"] < boxes[2]["y"] and all(b["x"] + b["width"] <= 768 for b in boxes)
    assert all(
        b["height"] >= 40
        for b in page.locator("[data-label]").evaluate_all("e => e.map(x => x.getBoundingClientRect().toJSON())")
    )

    if os.environ.get("T2IALIGN_SCREENSHOTS"):  # docs/labeling.png: bob's first batch
        shoot(cluster, "label", RATER_KEYS["bob"], rid)
    context.close()

    # Bob labels his queue through the API (overlap and gold tasks among what alice had); the rater_id he sends
    # is replaced by his key's identity. Alice finishes what she still holds. That fills the round.
    for who in ("bob", "alice"):
        while not (out := next_task(cluster, RATER_KEYS[who], rid).json())["done"]:
            labels = [
                {"label_id": f"api-{who}-{k.split('/')[-1][:-4]}", "image_key": k, "choice": "good", "rater_id": "x"}
                for k in out["task"]["keys"]
            ]
            assert post(cluster, RATER_KEYS[who], rid, labels).status_code == 200
    labels = stored(cluster, rid)
    assert {x["rater_id"] for x in labels} <= {"alice", "bob"}
    assert len({(x["rater_id"], x["image_key"]) for x in labels}) == len(labels)  # nobody labeled an image twice
    r = wait_state(cluster, rid, {"PROMOTED", "REJECTED"}, 600)
    assert r["state"] == "PROMOTED", r["error"]
    assert get_pointer(cluster.store, "unet-serving") == r["candidate_unet"]["version"]

    # The admin's view and the export.
    s = httpx.get(f"{cluster.http}/v1/admin/label/stats", params={"round": rid}, headers=bearer(ADMIN_KEY), timeout=60)
    s = s.json()["rounds"][0]
    assert s["num_labels"] == len(labels) and {x["rater_id"] for x in s["raters"]} == {"alice", "bob"}
    gold = json.loads(cluster.store.get_bytes(f"rounds/{rid}/labeling/gold.json"))["answers"]
    assert s["num_gold_images"] == len(gold)
    e = httpx.get(f"{cluster.http}/v1/admin/feedback/export", params={"round": rid}, headers=bearer(ADMIN_KEY))
    assert e.status_code == 200 and e.headers["content-type"].startswith("application/x-ndjson")
    one = httpx.get(f"{cluster.http}/v1/admin/feedback/summary", params={"round": rid}, headers=bearer(ADMIN_KEY))
    assert one.status_code == 200 and one.json()["num_labels"] == len(labels)
    rows = [json.loads(line) for line in e.text.splitlines()]
    assert sorted(x["label_id"] for x in rows) == sorted(x["label_id"] for x in labels)
    if os.environ.get("T2IALIGN_SCREENSHOTS"):
        shoot(cluster, "admin", ADMIN_KEY, rid)
    print(f"\nlabeling page part: {page_s:.1f} s; whole round: {time.time() - t0:.1f} s")


def shoot(cluster, which: str, key: str, rid: str) -> None:
    out = Path(os.environ["T2IALIGN_SCREENSHOTS"])
    name = "labeling.png" if which == "label" else "labeling-admin.png"
    cmd = [sys.executable, str(ROOT / "scripts/screenshot_labeling.py"), "--url", cluster.http, "--page", which]
    cmd += ["--key", key, "--round", rid, "--out", str(out / name)]
    subprocess.run(cmd, check=True, timeout=120)
