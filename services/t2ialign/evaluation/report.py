"""The reproduction report: markdown tables, an HTML page with image grids and plots, and target checks.

Everything is drawn from the `results` dict that `reproduce.py` builds (also saved as results.json), plus
the raw images and scores in a `ReportData`, so that the report can be re-rendered without re-running.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from t2ialign.evaluation.report_figures import SCORERS, ReportData, model_labels, pct, save_grids, save_plots
from t2ialign.toyworld.grammar import CATEGORIES

# Lee et al. 2023: ablation (FID on MS-COCO, mean reward on the test prompts).
PAPER_ABLATION: dict[str, tuple[float, float]] = {
    "base": (13.97, 0.43),
    "labeled_only": (26.59, 0.69),
    "plus_unlabeled": (21.02, 0.79),
    "finetuned": (16.76, 0.79),
}
Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def check_targets(results: dict) -> dict[str, dict]:
    """The issue's targets, each {"value", "target", "met"}."""
    h, m = results["headline"], results["models"]
    rm, panel = h["reward_model"], h["panel"]

    def count_rate(model: str) -> float:
        return float(np.mean([m[model]["alignment"][s]["count"] for s in ("seen", "unseen")]))

    base_count, ft_count = count_rate("base"), count_rate("finetuned")
    ft_all, bo_all = m["finetuned"]["alignment_overall"]["all"], m["best_of_16"]["alignment_overall"]["all"]
    return {
        "reward beats CLIP score on unseen prompts": {
            "value": f"{pct(rm['unseen_accuracy'])} vs {pct(rm['clip_score_unseen_accuracy'])}",
            "target": ">",
            "met": rm["unseen_accuracy"] > rm["clip_score_unseen_accuracy"],
        },
        "L_pc improves unseen accuracy": {
            "value": f"{pct(rm['unseen_accuracy'])} vs {pct(rm['unseen_accuracy_without_pc'])} without",
            "target": ">",
            "met": rm["unseen_accuracy"] > rm["unseen_accuracy_without_pc"],
        },
        "unseen reward accuracy >= 90%": {
            "value": pct(rm["unseen_accuracy"]),
            "target": ">= 90%",
            "met": rm["unseen_accuracy"] >= 0.9,
        },
        "panel: won >= 50%": {"value": pct(panel["win"]), "target": ">= 50%", "met": panel["win"] >= 0.5},
        "panel: lost <= 5%": {"value": pct(panel["lose"]), "target": "<= 5%", "met": panel["lose"] <= 0.05},
        "count alignment doubles or +25 points": {
            "value": f"{pct(base_count)} -> {pct(ft_count)}",
            "target": "x2 or +25 pts",
            "met": ft_count > base_count and (ft_count >= 2 * base_count or ft_count - base_count >= 0.25),
        },
        "fidelity distance <= 1.2x base": {
            "value": _f(h["fidelity_ratio"], 2),
            "target": "<= 1.2",
            "met": h["fidelity_ratio"] <= 1.2,
        },
        "diversity >= 0.85x base": {
            "value": _f(h["diversity_ratio"], 2),
            "target": ">= 0.85",
            "met": h["diversity_ratio"] >= 0.85,
        },
        "fine-tuned alignment >= best-of-16": {
            "value": f"{pct(ft_all)} vs {pct(bo_all)}",
            "target": ">=",
            "met": ft_all >= bo_all,
        },
    }


def paper_comparison(results: dict) -> Table:
    """The paper's measurements (docs/METHOD.md) beside this run's, point by point."""
    h, m = results["headline"], results["models"]
    rm, pa = h["reward_model"], h["panel"]
    pb, pf = h["panel_best_of_16_vs_base"], h["panel_finetuned_vs_best_of_16"]
    paper_fid = PAPER_ABLATION["finetuned"][0] / PAPER_ABLATION["base"][0]

    arms = ("base", "labeled_only", "plus_unlabeled", "finetuned")  # the paper's ablation, in its order

    def measured(n: str, key: str, digits: int) -> str:
        return _f(m[n][key]["all"], digits) if n in m else "n/a"

    rows = [
        ["reward model accuracy, unseen prompts", "about 80%", pct(rm["unseen_accuracy"])],
        [
            "reward model vs CLIP score, unseen",
            "reward better",
            f"{pct(rm['unseen_accuracy'])} vs {pct(rm['clip_score_unseen_accuracy'])}",
        ],
        [
            "L_pc helps on unseen prompts",
            "yes",
            f"{pct(rm['unseen_accuracy'])} with, {pct(rm['unseen_accuracy_without_pc'])} without",
        ],
        [
            "L_pc helps on seen prompts",
            "yes",
            f"{pct(rm['seen_accuracy'])} with, {pct(rm['seen_accuracy_without_pc'])} without",
        ],
        [
            "panel, fine-tuned vs base: won / lost / tie",
            "50% / 3% / 10%",
            f"{pct(pa['win'])} / {pct(pa['lose'])} / {pct(pa['tie'])}",
        ],
        [
            "fidelity, fine-tuned / base",
            f"FID x{paper_fid:.2f} (quality dropped)",
            f"Fréchet x{_f(h['fidelity_ratio'], 2)}",
        ],
        ["diversity, fine-tuned / base", "lower (not measured)", f"x{_f(h['diversity_ratio'], 2)}"],
        [
            "mean reward: base, labeled only, + unlabeled, + pre-training",
            " / ".join(f"{PAPER_ABLATION[n][1]:.2f}" for n in arms),
            " / ".join(measured(n, "mean_reward", 2) for n in arms),
        ],
        [
            "fidelity (FID / Fréchet), same four",
            " / ".join(f"{PAPER_ABLATION[n][0]:.2f}" for n in arms),
            " / ".join(measured(n, "fidelity", 3) for n in arms),
        ],
        ["panel, best-of-16 vs base: won", "46% (vs 4 random samples)", pct(pb["win"])],
        ["panel, fine-tuned vs best-of-16: won / lost", "20% / 10%", f"{pct(pf['win'])} / {pct(pf['lose'])}"],
    ]
    return (
        "The paper's measurements beside this run",
        ["measurement", "paper (Stable Diffusion v1.5)", "this run (toy world)"],
        rows,
    )


def tables(results: dict) -> list[Table]:
    m, out = results["models"], [paper_comparison(results)]
    labels = model_labels(results)
    names = list(labels)
    for split in ("seen", "unseen"):
        rows = [
            [labels[n]]
            + [pct(m[n]["alignment"][split][c]) for c in CATEGORIES]
            + [pct(m[n]["alignment_overall"][split])]
            for n in names
        ]
        out.append((f"Oracle alignment, {split} prompts", ["model", *CATEGORIES, "all"], rows))
    rows = []
    for name, p in results["panels"].items():
        for split in ("all", "seen", "unseen"):
            s = p[split]
            rows.append([name.replace("_", " "), split, pct(s["win"]), pct(s["lose"]), pct(s["tie"])])
    out.append(
        (
            "Simulated nine-rater panel (set A vs set B; won = at least 2/3 of the votes for A)",
            ["comparison (A vs B)", "prompts", "A won", "A lost", "tie"],
            rows,
        )
    )
    base = m["base"]
    rows = []
    for n in names:
        paper, fd, div = PAPER_ABLATION.get(n), m[n]["fidelity"]["all"], m[n]["diversity"]
        rows.append(
            [
                labels[n],
                _f(fd),
                _f(fd / base["fidelity"]["all"], 2),
                _f(m[n]["mean_reward"]["all"]),
                _f(div),
                _f(div / base["diversity"], 2),
                pct(m[n]["alignment_overall"]["all"]),
                f"{paper[0]:.2f} / {paper[1]:.2f}" if paper else "-",
            ]
        )
    out.append(
        (
            "Ablation: fidelity (Fréchet distance to clean renders, toy-CLIP space), reward, diversity",
            [
                "model",
                "Fréchet dist.",
                "x base",
                "mean reward",
                "diversity",
                "x base",
                "alignment",
                "paper FID / reward",
            ],
            rows,
        )
    )
    ra = results["reward_model"]["accuracy"]
    rows = []
    for key, label in SCORERS.items():
        rows.append(
            [label]
            + [f"{pct(ra[s][key]['accuracy'])} (AUC {_f(ra[s][key]['auc'], 2)})" for s in ("seen", "unseen")]
            + [_f(ra["thresholds"][key], 3)]
        )
    rows.append(["always the training majority"] + [pct(ra[s]["majority"]) for s in ("seen", "unseen")] + ["-"])
    out.append(
        (
            f"Reward-model accuracy against the oracle on held-out generated images "
            f"(seen n={ra['seen']['n']}, unseen n={ra['unseen']['n']})",
            ["scorer", "seen", "unseen", "threshold"],
            rows,
        )
    )
    rows = [[k, v["value"], v["target"], "yes" if v["met"] else "no"] for k, v in check_targets(results).items()]
    out.append(("Targets of the issue", ["target", "measured", "aim", "met"], rows))
    return out


def to_markdown(results: dict, tabs: list[Table], images: list[tuple[str, str]]) -> str:
    lines = [
        "# Reproduction report: Lee et al. 2023 on the toy world",
        "",
        f"Preset `{results['config']['preset']}`, seed {results['config']['seed']}, "
        f"{results['seconds']:.0f} s on {results['machine']}.",
        "",
        f"Feedback: {results['feedback']['images']} images, {results['feedback']['labeled']} labeled "
        f"({pct(results['feedback']['good_rate'])} good by the raters, "
        f"{pct(results['feedback']['oracle_good_rate'])} by the oracle); "
        f"{results['feedback']['unlabeled']} unlabeled samples.",
        "",
    ]
    if results.get("rounds"):
        lines += [
            f"Chained rounds: {len(results['rounds'])}, each rating samples of the last round's UNet "
            f"(good rate by the raters per round: "
            f"{', '.join(pct(r['good_rate']) for r in results['rounds'])}).",
            "",
        ]
    for title, header, rows in tabs:
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    lines += ["## Figures", ""] + [f"![{cap}]({path})" for path, cap in images] + [""]
    return "\n".join(lines)


def to_html(results: dict, tabs: list[Table], plots: list[tuple[str, str]], grids: list[tuple[str, str]]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>t2ialign reproduction</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
        "img{image-rendering:pixelated;max-width:100%}figure{margin:1em 0}</style></head><body>",
        "<h1>Reproduction: Lee et al. 2023 on the toy world</h1>",
        f"<p>Preset <code>{e(results['config']['preset'])}</code>, seed {results['config']['seed']}, "
        f"{results['seconds']:.0f} s on {e(results['machine'])}.</p>",
    ]
    for title, header, rows in tabs:
        parts.append(f"<h2>{e(title)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts.append("<h2>Reward-model and alignment plots</h2>")
    parts += [f"<figure><img src='{e(p)}' alt='{e(c)}'><figcaption>{e(c)}</figcaption></figure>" for p, c in plots]
    parts.append(
        "<h2>Images per prompt: base | fine-tuned | best-of-16</h2>"
        "<p>Each row: the prompt, with the oracle's accepted count per set; then 4 base images, "
        "4 from the fine-tuned model (same seeds), and the 4 best of 16 base samples by reward.</p>"
    )
    parts += [f"<figure><figcaption>{e(c)}</figcaption><img src='{e(p)}' alt='{e(c)}'></figure>" for p, c in grids]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(results: dict, data: ReportData, out_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html, grids/*.png and plots/*.png under `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tabs = tables(results)
    plots = save_plots(results, data, out_dir)
    grids = save_grids(data, out_dir)
    (out_dir / "report.md").write_text(to_markdown(results, tabs, plots + grids))
    (out_dir / "report.html").write_text(to_html(results, tabs, plots, grids))
    return {"markdown": out_dir / "report.md", "html": out_dir / "report.html"}
