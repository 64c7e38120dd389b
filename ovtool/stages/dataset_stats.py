"""Image (Datumaro) datasets in the dataset stage: what `stats` and `validate` put in run.json and report.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ovtool.recipe.sections.dataset import DatasetSection
from ovtool.results import Metric, Plot, StageResult, Table

if TYPE_CHECKING:
    from ovtool.backends.datumaro.datumaro_stats import Stats


def image_stats(dataset: Any, section: DatasetSection, result: StageResult) -> None:
    from ovtool.backends.datumaro import datumaro_stats as ops

    stats = ops.compute_stats(dataset, image_stats=section.image_stats)
    total = sum(stats.items_per_subset.values())
    result.metrics |= {
        "items": Metric(total, "items"),
        "annotations": Metric(sum(stats.annotations_per_type.values()), "annotations"),
        "labels_used": Metric(len(stats.annotations_per_label), "labels"),
        "unannotated_items": Metric(stats.unannotated_items, "items"),
    }
    if stats.image_sizes:
        heights = [h for h, _ in stats.image_sizes]
        widths = [w for _, w in stats.image_sizes]
        result.metrics["image_height_mean"] = Metric(round(sum(heights) / len(heights), 1), "px")
        result.metrics["image_width_mean"] = Metric(round(sum(widths) / len(widths), 1), "px")
    result.details |= {
        "items_per_subset": stats.items_per_subset, "items_per_label": stats.items_per_label,
        "annotations_per_type": stats.annotations_per_type, "annotations_per_label": stats.annotations_per_label,
        "image_sizes": _size_summary(stats.image_sizes), "box_sizes": _size_summary(stats.box_sizes),
        "datumaro": stats.datumaro,
    }  # fmt: skip
    subsets = sorted(stats.items_per_subset)
    labels = sorted({name for counts in stats.items_per_label.values() for name in counts})
    rows = [[s, stats.items_per_subset[s]] for s in subsets]
    result.tables.append(Table("Items per subset", ["subset", "items"], rows))
    if labels:
        rows = [[name, *[stats.items_per_label.get(s, {}).get(name, 0) for s in subsets],
                 stats.annotations_per_label.get(name, 0)] for name in labels]  # fmt: skip
        result.tables.append(Table("Items per label", ["label", *subsets, "annotations"], rows))
    rows = sorted([k, v] for k, v in stats.annotations_per_type.items())
    result.tables.append(Table("Annotations per type", ["type", "count"], rows))
    result.plots = [Plot(title, png) for title, png in stats_plots(stats)]
    result.summary = (f"{total} items in {len(subsets)} subsets, {len(labels)} labels, "
                      f"{sum(stats.annotations_per_type.values())} annotations")  # fmt: skip


def _size_summary(sizes: list[tuple[Any, Any]]) -> dict[str, Any]:
    """min/mean/max of each dimension (the full lists go into the plots, not run.json)."""
    if not sizes:
        return {"count": 0}
    out: dict[str, Any] = {"count": len(sizes)}
    for index, name in enumerate(("first", "second")):
        values = [s[index] for s in sizes]
        out[name] = {"min": min(values), "mean": round(sum(values) / len(values), 2), "max": max(values)}
    return out


def stats_plots(stats: Stats) -> list[tuple[str, bytes]]:
    """(title, png) figures: items per label and subset, image sizes, box sizes."""
    from ovtool.plotting import png, pyplot

    plt = pyplot()

    figures: list[tuple[str, bytes]] = []
    labels = sorted({name for counts in stats.items_per_label.values() for name in counts})
    if labels:
        fig, ax = plt.subplots(figsize=(max(6, len(labels) * 0.5), 4))
        bottom = [0] * len(labels)
        for subset, counts in sorted(stats.items_per_label.items()):
            values = [counts.get(name, 0) for name in labels]
            ax.bar(labels, values, bottom=bottom, label=subset)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("items")
        ax.legend(title="subset")
        ax.tick_params(axis="x", rotation=60)
        figures.append(("Items per label and subset", png(fig)))
    for title, points, xlabel, ylabel in (
        ("Image sizes", [(w, h) for h, w in stats.image_sizes], "width (px)", "height (px)"),
        ("Box sizes", stats.box_sizes, "box width (px)", "box height (px)"),
    ):
        if points:
            fig, ax = plt.subplots(figsize=(5, 4))
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=8, alpha=0.5)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            figures.append((title, png(fig)))
    return figures


def image_validate(dataset: Any, section: DatasetSection, result: StageResult) -> None:
    from ovtool.backends.datumaro import datumaro_stats as ops

    task = section.task or ops.guess_task(dataset)
    report = ops.validate(dataset, task)
    findings = report.get("validation_reports", [])
    summary = report.get("summary", {})
    errors = [f for f in findings if f.get("severity") == "error"]
    result.details |= {"task": task, "summary": summary, "findings": findings, "statistics": report.get("statistics")}
    result.metrics |= {k: Metric(summary.get(k, 0), "findings") for k in ("errors", "warnings", "infos")}
    order = {"error": 0, "warning": 1, "info": 2}
    rows = [[f.get("severity"), f.get("anomaly_type"), f.get("description"), f.get("item_id", ""), f.get("subset", "")]
            for f in sorted(findings, key=lambda f: order.get(f.get("severity", ""), 3))]  # fmt: skip
    result.tables.append(Table("Findings", ["severity", "type", "description", "item", "subset"], rows))
    result.summary = (f"validate ({task}): {summary.get('errors', 0)} errors, {summary.get('warnings', 0)} warnings, "
                      f"{summary.get('infos', 0)} infos")  # fmt: skip
    if errors:
        kinds = sorted({f.get("anomaly_type", "?") for f in errors})
        result.check_failures.append(f"validation found {len(errors)} errors ({', '.join(kinds)}); see report.md")
