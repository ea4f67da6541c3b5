"""Pictures of numbers, as inline SVG drawn by matplotlib: histograms with a comparison
overlaid (drift: the version before; skew: history against online) and the ingest and
quarantine timeline."""
from __future__ import annotations

import datetime as dt
import io
from typing import Any, Sequence

BLUE, ORANGE, RED, GREY = "#3b6ea8", "#e08a2c", "#c0392b", "#888888"


def _figure(width: float = 4.2, height: float = 1.9) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=96)
    # Fixed margins, not a layout engine: the engine measured half of each chart's time.
    figure.subplots_adjust(left=0.16, right=0.98, top=0.95, bottom=0.2)
    return figure


def _svg(figure: Any, gid: str) -> str:
    import matplotlib

    figure.set_gid(gid)
    out = io.StringIO()
    # Text stays text (searchable, selectable, and a test can read it); ids are stable.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": gid, "font.size": 8}):
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def histogram(name: str, main: dict[str, Any] | None, other: dict[str, Any] | None, *,
              main_label: str, other_label: str) -> str | None:
    """A feature's histogram (``fs.feature_stats.histogram``: numeric bins or top values)
    as shares of its rows, with ``other`` overlaid; None without statistics."""
    if not main or not main.get("histogram"):
        return None
    if not (main["histogram"].get("values") or main["histogram"].get("counts")):
        return None  # every value NULL: nothing to draw
    figure = _figure()
    axes = figure.add_subplot()
    hist = main["histogram"]
    if hist.get("kind") == "top":
        values = list(hist.get("values", {}))
        _bars(axes, values, hist, BLUE, main_label, -0.2)
        if other and other.get("histogram", {}).get("kind") == "top":
            _bars(axes, values, other["histogram"], ORANGE, other_label, 0.2)
        axes.set_xticks(range(len(values)), values, rotation=45 if len(values) > 6 else 0)
    else:
        _steps(axes, hist, BLUE, main_label)
        if other and other.get("histogram", {}).get("kind") == "bins":
            _steps(axes, other["histogram"], ORANGE, other_label)
    _tidy(axes, "share of rows", numeric_x=hist.get("kind") != "top")
    return _svg(figure, f"histogram-{name}")


def _tidy(axes: Any, ylabel: str, *, numeric_x: bool = False) -> None:
    from matplotlib.ticker import MaxNLocator

    # Few ticks: laying out tick labels is most of what drawing a small chart costs.
    axes.yaxis.set_major_locator(MaxNLocator(3))
    if numeric_x:
        axes.xaxis.set_major_locator(MaxNLocator(4))
    axes.set_ylabel(ylabel)
    axes.legend(loc="upper right", frameon=False)
    axes.spines[["top", "right"]].set_visible(False)


def _steps(axes: Any, hist: dict[str, Any], color: str, label: str) -> None:
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    total = sum(counts) or 1
    if len(edges) == len(counts) + 1:
        axes.stairs([c / total for c in counts], edges, color=color, label=label, fill=color == BLUE, alpha=0.6)


def _bars(axes: Any, values: Sequence[str], hist: dict[str, Any], color: str, label: str, shift: float) -> None:
    counts = hist.get("values", {})
    total = (sum(counts.values()) + hist.get("other", 0)) or 1
    axes.bar([i + shift for i in range(len(values))], [counts.get(v, 0) / total for v in values], width=0.4,
             color=color, label=label, alpha=0.8)


def timeline(name: str, days: list[dict[str, Any]]) -> str | None:
    """Rows inserted and quarantined per day (the ingest log); None without batches."""
    if not days:
        return None
    figure = _figure(6.0, 1.9)
    figure.subplots_adjust(bottom=0.28)
    axes = figure.add_subplot()
    # Every day from the first with batches to the last (at least a week), labelled by
    # date: a time axis would draw one day as a slab and label hours.
    by_day = {dt.datetime.fromisoformat(d["day"]).date(): d for d in days}
    last = max(by_day)
    span = [last - dt.timedelta(days=i) for i in range(max((last - min(by_day)).days + 1, 7))][::-1]
    labels = [day.strftime("%b %d") for day in span]
    inserted = [by_day[day]["inserted"] if day in by_day else 0 for day in span]
    quarantined = [by_day[day]["quarantined"] if day in by_day else 0 for day in span]
    axes.bar(labels, inserted, width=0.6, color=BLUE, label="inserted")
    axes.bar(labels, quarantined, width=0.6, bottom=inserted, color=RED, label="quarantined")
    _tidy(axes, "rows per day")
    axes.set_xticks(range(0, len(labels), max(1, len(labels) // 7)))
    axes.tick_params(axis="x", labelrotation=30)
    return _svg(figure, f"timeline-{name}")
