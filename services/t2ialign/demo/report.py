"""The demo's results as people read them: a before/after table on the terminal, and report.html with
before_after.png, a grid whose blocks name the UNet version they show and whose every image carries the
oracle's verdict (a green frame and "ok" for a match, red and "no" for a miss)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from t2ialign.toyworld.grammar import parse_prompt
from t2ialign.toyworld.oracle import Oracle

SCALE, PAD, LABEL_W, HEADER_H = 3, 6, 230, 34
GREEN, RED = (34, 160, 70), (210, 40, 40)


def judge(images: list[np.ndarray], prompts: list[str]) -> list[list[bool]]:
    """The oracle's verdict on each image of each prompt (images: one (K, H, W, 3) array per prompt)."""
    oracle = Oracle()
    return [
        [bool(oracle.judge(im, parse_prompt(p)).match) for im in row] for row, p in zip(images, prompts, strict=True)
    ]


def before_after_grid(prompts: list[str], blocks: list[dict[str, Any]], path: Path) -> Path:
    """blocks: [{"title", "images": [(K, H, W, 3) per prompt], "verdicts": [[bool] per prompt]}], side by side."""
    k = max(len(r) for b in blocks for r in b["images"])
    h, w = (d * SCALE for d in blocks[0]["images"][0].shape[1:3])
    cell_w, cell_h = w + PAD, h + PAD + 14
    block_w = k * cell_w + 2 * PAD
    canvas = Image.new("RGB", (LABEL_W + len(blocks) * block_w, HEADER_H + len(prompts) * cell_h + PAD), "white")
    draw = ImageDraw.Draw(canvas)
    for b, block in enumerate(blocks):
        x0 = LABEL_W + b * block_w + PAD
        ok = sum(map(sum, block["verdicts"]))
        total = sum(map(len, block["verdicts"]))
        draw.text((x0, 4), block["title"], fill="black")
        draw.text((x0, 18), f"oracle: {ok}/{total} match", fill="black")
        for r, (row, verdicts) in enumerate(zip(block["images"], block["verdicts"], strict=True)):
            y = HEADER_H + r * cell_h
            for c, (img, match) in enumerate(zip(row, verdicts, strict=True)):
                x = x0 + c * cell_w
                color = GREEN if match else RED
                draw.rectangle([x - 2, y - 2, x + w + 1, y + h + 1], outline=color, width=2)
                canvas.paste(Image.fromarray(img).resize((w, h), Image.Resampling.NEAREST), (x, y))
                draw.text((x + 2, y + h + 2), "ok" if match else "no", fill=color)
    for r, p in enumerate(prompts):
        draw.text((6, HEADER_H + r * cell_h + h // 2 - 6), p, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def table_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, before, after) rows: alignment overall and per split and category, then the rest."""
    before, after = summary["before"], summary["after"]
    rows = [("oracle alignment, all held-out prompts", _pct(before["alignment"]), _pct(after["alignment"]))]
    for split in ("seen", "unseen"):
        for cat, rate in before.get(split, {}).items():
            rows.append((f"  {split} / {cat}", _pct(rate), _pct(after[split].get(cat))))
    rows.append(
        ("fidelity (Fréchet distance, lower is better)", f"{before['fidelity']:.4f}", f"{after['fidelity']:.4f}")
    )
    rows.append(("diversity", f"{before['diversity']:.4f}", f"{after['diversity']:.4f}"))
    if before.get("mean_reward") is not None:
        rows.append(("mean reward (the round's r_phi)", f"{before['mean_reward']:.3f}", f"{after['mean_reward']:.3f}"))
    return rows


def print_table(summary: dict[str, Any], say: Any = print) -> None:
    rows = table_rows(summary)
    say(f"\n  {'':<46} {'before':>10} {'after':>10}")
    say(f"  {'UNet':<46} {summary['unet_version_before'][:10]:>10} {summary['unet_version_after'][:10]:>10}")
    for name, b, a in rows:
        say(f"  {name:<46} {b:>10} {a:>10}")
    p = summary["panel"]
    say(f"  panel (after vs before): won {_pct(p['win'])}, lost {_pct(p['lose'])}, tied {_pct(p['tie'])}")
    say(f"  gate: {summary['gate_reason']}; promoted: {summary['promoted']}")
    swap = summary["swap"]
    say(
        f"  Generate calls during the swap: {swap['calls']}, failed {swap['failed']}; versions in order: "
        + ", ".join(f"{v} x{n}" for v, n in swap["versions_in_order"])
    )


def write_report(summary: dict[str, Any], grid: Path | None, out_dir: Path) -> Path:
    """report.html beside summary.json and the grid."""
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(n)}</td><td>{esc(b)}</td><td>{esc(a)}</td></tr>" for n, b, a in table_rows(summary))
    p, swap = summary["panel"], summary["swap"]
    checks = "".join(
        f"<li>{esc(name)}: {'held' if ok else 'did not hold'}</li>" for name, ok in summary.get("checks", {}).items()
    )
    versions = ", ".join(f"{esc(v)} &times;{n}" for v, n in swap["versions_in_order"])
    img = f'<p><img src="{esc(grid.name)}" alt="before and after grids"></p>' if grid else ""
    page = f"""<!doctype html><meta charset="utf-8"><title>t2ialign demo: round {esc(summary["round_id"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto}}td,th{{padding:2px 12px}}
td+td,th+th{{text-align:right}}img{{max-width:100%}}</style>
<h1>One round of the loop, through the services</h1>
<p>Round <b>{esc(summary["round_id"])}</b> in {summary["seconds"]:.0f} s: the serving UNet
<code>{esc(summary["unet_version_before"])}</code> generated the round's images, the simulated raters labelled them,
the trainer trained r_phi and fine-tuned the UNet into <code>{esc(summary["unet_version_after"])}</code>, and the
evaluation gate compared the two on held-out prompts (seen and unseen objects) before promotion.</p>
<h2>Before and after (the gate's measurement)</h2>
<table><tr><th></th><th>before</th><th>after</th></tr>{rows}</table>
<p>Panel of nine simulated raters, after against before: won {_pct(p["win"])}, lost {_pct(p["lose"])},
tied {_pct(p["tie"])}.</p>
<p>Gate: {esc(summary["gate_reason"])}; promoted: <b>{summary["promoted"]}</b>.</p><ul>{checks}</ul>
<h2>The hot-swap</h2><p>{swap["calls"]} Generate calls ran through the promotion; {swap["failed"]} failed.
Answering versions, in order: {versions}.</p>
<h2>Images: the same prompts and seeds before and after</h2>
<p>Each block names the UNet it shows; each image is framed by the oracle's verdict (green: matches the prompt).</p>
{img}"""
    path = out_dir / "report.html"
    path.write_text(page)
    return path
