"""Results that show themselves in Jupyter with the catalog site's pictures.

``describe``, ``compute_stats`` and ``lineage`` return these: a dict or list as before
(``result["features"]``, iteration and equality are unchanged), plus ``_repr_html_``,
which a notebook calls to draw the result.
"""
from __future__ import annotations

import html
from typing import Any

from fspg.site import charts, lineage


class Description(dict[str, Any]):
    """A feature view version as ``describe`` returns it; a table of its features in Jupyter."""

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(str(f.get('name')))}</code></td><td>{html.escape(str(f.get('dtype')))}</td>"
            f"<td>{html.escape(_rules(f.get('rules')))}</td><td>{html.escape(str(f.get('description') or ''))}</td></tr>"
            for f in self.get("features") or [])
        title = f"{self.get('name')}@{self.get('version')}"
        facts = ", ".join(f"{k}: {html.escape(str(self[k]))}" for k in ("entity", "owner", "ttl", "status") if self.get(k))
        return (f"<div><b>{html.escape(title)}</b> <span style='color:#777'>{facts}</span>"
                f"<p>{html.escape(str(self.get('description') or ''))}</p>"
                "<table><tr><th>feature</th><th>dtype</th><th>rules</th><th>description</th></tr>"
                f"{rows}</table></div>")


class Statistics(list[dict[str, Any]]):
    """Feature statistics as ``compute_stats`` returns them; their histograms in Jupyter."""

    def _repr_html_(self) -> str:
        parts = []
        for row in self:
            svg = charts.histogram(f"nb-{row.get('feature')}", row, None, main_label=str(row.get("source", "")),
                                   other_label="")
            summary = (f"{row.get('row_count', 0):,} rows, {row.get('nulls', 0):,} null"
                       + (f", mean {row['mean']:.4g}" if row.get("mean") is not None else ""))
            parts.append(f"<div style='display:inline-block;margin:4px;vertical-align:top'>"
                         f"<code>{html.escape(str(row.get('feature')))}</code> <small>{summary}</small><br>{svg or ''}</div>")
        return "<div>" + "".join(parts) + "</div>"


class Lineage(list[dict[str, Any]]):
    """Lineage rows as ``lineage`` returns them; the graph in Jupyter."""

    def _repr_html_(self) -> str:
        edges = [{"source_kind": r["parent_kind"], "source": r["parent_name"], "target_kind": r["kind"], "target": r["name"]}
                 if r["direction"] == "down" else
                 {"source_kind": r["kind"], "source": r["name"], "target_kind": r["parent_kind"], "target": r["parent_name"]}
                 for r in self if r.get("parent_kind")]
        svg = lineage.svg(edges, lambda kind, name: None, gid="lineage-notebook")
        return f"<div class='fspg-lineage'>{svg or '<i>no lineage</i>'}</div>"


def _rules(rules: Any) -> str:
    if not rules:
        return ""
    return ", ".join(f"{k}: {v}" for k, v in dict(rules).items())
