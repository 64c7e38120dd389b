"""Per-layer pictures of a pruned encoder (as in the JPQD article): heads and FFN neurons kept vs pruned."""

from __future__ import annotations

from typing import Any

from ovtool.plotting import png, pyplot


def layer_bars(rows: list[list[Any]], title: str) -> bytes:
    """PNG with three panels from structured.layer_table rows: heads, FFN neurons, parameters per layer."""
    plt = pyplot()

    layers = [r[0] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, kept, pruned, name in ((axes[0], 1, 2, "attention heads"), (axes[1], 3, 4, "FFN neurons")):
        ax.bar(layers, [r[kept] for r in rows], label="kept", color="#2b7bba")
        ax.bar(layers, [r[pruned] for r in rows], bottom=[r[kept] for r in rows], label="pruned", color="#e0e0e0",
               edgecolor="#999999")  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel("layer")
        ax.set_xticks(layers)
        ax.legend(fontsize=8)
    axes[2].bar(layers, [r[5] / 1e6 for r in rows], color="#4a9c5d")
    axes[2].set_title("parameters per layer (M)")
    axes[2].set_xlabel("layer")
    axes[2].set_xticks(layers)
    fig.suptitle(title)
    return png(fig)


def curve(history: list[dict[str, float]], title: str) -> bytes:
    """PNG of validation accuracy over training steps."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([h["step"] for h in history], [h["eval_accuracy"] for h in history], marker="o")
    ax.set_xlabel("step")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    return png(fig)


def bars(labels: list[str], values: list[float], title: str) -> bytes:
    """PNG of one horizontal bar per label (sparsity per tensor)."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.18 * len(labels))))
    ax.barh(range(len(labels)), values, color="#2b7bba")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([label[-48:] for label in labels], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(title)
    return png(fig)
