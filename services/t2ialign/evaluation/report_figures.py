"""The reproduction report's figures: image grids (base | fine-tuned | best-of-16) and plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from t2ialign.evaluation.grids import save_grid
from t2ialign.toyworld.grammar import CATEGORIES

MODEL_LABELS: dict[str, str] = {
    "base": "base model",
    "labeled_only": "labeled only",
    "plus_unlabeled": "+ unlabeled",
    "finetuned": "+ pre-training loss (full method)",
    "best_of_16": "best-of-16 by reward (base model)",
}
SCORERS: dict[str, str] = {
    "reward": "r_phi (with L_pc)",
    "reward_without_pc": "r_phi without L_pc",
    "clip_score": "CLIP score",
}


def model_labels(results: dict) -> dict[str, str]:
    """A label for each evaluated model, in evaluation order; chained rounds name theirs by round."""
    n_rounds = len(results.get("rounds") or [])
    labels = {}
    for n in results["models"]:
        if n.startswith("round_"):
            labels[n] = f"after round {n.removeprefix('round_')}"
        elif n == "finetuned" and n_rounds:
            labels[n] = f"after round {n_rounds} (fine-tuned)"
        elif n in MODEL_LABELS:
            labels[n] = MODEL_LABELS[n]
    return labels


@dataclass
class ReportData:
    """Raw material for grids and plots (not saved in results.json)."""

    prompts: list  # PromptSpec per evaluation prompt
    splits: list[str]  # "seen" / "unseen" per prompt
    images: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (P, K, H, W, 3)
    matches: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (P, K) oracle verdicts
    test_scores: dict[str, np.ndarray] = field(default_factory=dict)  # scorer -> (N,) held-out scores
    test_labels: np.ndarray | None = None  # (N,) oracle labels of the held-out images
    test_splits: list[str] = field(default_factory=list)


def pct(x: float | None) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


def save_grids(data: ReportData, out_dir: Path, rows_per_grid: int = 8) -> list[tuple[str, str]]:
    """One PNG per split x category: base | fine-tuned | best-of-16, one prompt a row."""
    order = [m for m in ("base", "finetuned", "best_of_16") if m in data.images]
    first = data.images[order[0]]
    gap = np.full((1, *first.shape[2:]), 255, np.uint8)
    made = []
    for split in ("seen", "unseen"):
        for cat in CATEGORIES:
            idx = [
                i
                for i, (p, s) in enumerate(zip(data.prompts, data.splits, strict=True))
                if s == split and p.category == cat
            ][:rows_per_grid]
            if not idx:
                continue
            rows, labels = [], []
            for i in idx:
                parts = []
                for m in order:
                    parts += [data.images[m][i], gap]
                rows.append(np.concatenate(parts[:-1]))
                counts = "/".join(str(int(data.matches[m][i].sum())) for m in order)
                labels.append(f"{data.prompts[i].text} [{counts}]")
            rel = f"grids/{split}_{cat}.png"
            save_grid(rows, labels, out_dir / rel)
            made.append((rel, f"{split} prompts, {cat}: oracle-accepted images per set ({'/'.join(order)})"))
    return made


def save_plots(results: dict, data: ReportData, out_dir: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    made = []
    ra = results["reward_model"]["accuracy"]
    if data.test_labels is not None and data.test_scores:
        fig, axes = plt.subplots(2, len(SCORERS), figsize=(4 * len(SCORERS), 6), squeeze=False)
        splits, y = np.asarray(data.test_splits), data.test_labels.astype(bool)
        for r, split in enumerate(("seen", "unseen")):
            for c, (key, label) in enumerate(SCORERS.items()):
                ax, s = axes[r, c], data.test_scores[key][splits == split]
                yy = y[splits == split]
                bins = np.linspace(s.min(), s.max() + 1e-9, 30) if len(s) else 10
                ax.hist(s[yy], bins=bins, alpha=0.6, label="oracle: good", color="tab:green")
                ax.hist(s[~yy], bins=bins, alpha=0.6, label="oracle: bad", color="tab:red")
                ax.axvline(ra["thresholds"][key], color="k", ls="--", lw=1)
                ax.set_title(f"{label}, {split}: acc {pct(ra[split][key]['accuracy'])}", fontsize=9)
                if r == 0 and c == 0:
                    ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "plots/reward_scores.png", dpi=90)
        plt.close(fig)
        made.append(("plots/reward_scores.png", "Scores on held-out images by oracle verdict (dashed: threshold)"))
    m, labels = results["models"], model_labels(results)
    names = list(labels)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
    for ax, split in zip(axes, ("seen", "unseen"), strict=True):
        x = np.arange(len(CATEGORIES))
        w = 0.8 / len(names)
        for j, n in enumerate(names):
            ax.bar(x + j * w, [m[n]["alignment"][split][c] for c in CATEGORIES], w, label=labels[n])
        ax.set_xticks(x + 0.4 - w / 2, CATEGORIES)
        ax.set_title(f"oracle alignment, {split} prompts")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "plots/alignment.png", dpi=90)
    plt.close(fig)
    made.append(("plots/alignment.png", "Oracle alignment per category"))
    fig, ax = plt.subplots(figsize=(5, 4))
    for n in names:
        ax.scatter(m[n]["fidelity"]["all"], m[n]["mean_reward"]["all"])
        ax.annotate(labels[n], (m[n]["fidelity"]["all"], m[n]["mean_reward"]["all"]), fontsize=7)
    ax.set_xlabel("Fréchet distance to clean renders (lower is better)")
    ax.set_ylabel("mean reward r_phi")
    ax.set_title("Ablation (paper: FID vs mean reward)")
    fig.tight_layout()
    fig.savefig(out_dir / "plots/ablation.png", dpi=90)
    plt.close(fig)
    made.append(("plots/ablation.png", "Ablation: fidelity against mean reward"))
    return made
