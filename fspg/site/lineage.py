"""The lineage graph as a clickable SVG: sources on the left, then tables and entities,
feature views, services and training sets, models on the right. networkx places the
nodes in those layers; matplotlib draws them, each node a link to its page and each node
and edge an element with an id (``node:KIND:NAME``, ``edge:KIND:NAME->KIND:NAME``)."""
from __future__ import annotations

from typing import Any, Callable

LAYERS = {"source_database": 0, "table": 1, "entity": 1, "feature_view": 2, "feature_service": 3, "training_set": 3,
          "model": 4}
COLORS = {"source_database": "#8e7cc3", "table": "#b4a7d6", "entity": "#cccccc", "feature_view": "#9fc5e8",
          "feature_service": "#b6d7a8", "training_set": "#ffe599", "model": "#f6b26b"}


def graph(edges: list[dict[str, Any]]) -> Any:
    """The lineage edges as a networkx DiGraph of (kind, name) nodes, each with its layer."""
    import networkx as nx

    g = nx.DiGraph()
    for e in edges:
        source, target = (e["source_kind"], e["source"]), (e["target_kind"], e["target"])
        for kind, name in (source, target):
            g.add_node((kind, name), layer=LAYERS.get(kind, 1), kind=kind, name=name)
        g.add_edge(source, target)
    return g


def svg(edges: list[dict[str, Any]], link: Callable[[str, str], str | None], *, gid: str = "lineage") -> str | None:
    """The graph as SVG; ``link(kind, name)`` gives a node's page (None: no link). None without edges."""
    import networkx as nx

    from fspg.site.charts import _figure, _svg

    g = graph(edges)
    if not g:
        return None
    positions = nx.multipartite_layout(g, subset_key="layer", align="vertical", scale=1.0)
    per_layer: dict[int, int] = {}
    for node in g:
        per_layer[g.nodes[node]["layer"]] = per_layer.get(g.nodes[node]["layer"], 0) + 1
    figure = _figure(11.0, max(2.5, 0.42 * max(per_layer.values())))
    axes = figure.add_subplot()
    axes.set_axis_off()
    for source, target in g.edges:
        arrow = axes.annotate("", xy=positions[target], xytext=positions[source],
                              arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 0.8,
                                          "shrinkA": 28, "shrinkB": 28})
        arrow.arrow_patch.set_gid(f"edge:{source[0]}:{source[1]}->{target[0]}:{target[1]}")
    for (kind, name), (x, y) in positions.items():
        text = axes.text(x, y, name, ha="center", va="center", fontsize=7,
                         bbox={"boxstyle": "round,pad=0.3", "facecolor": COLORS.get(kind, "#eeeeee"), "edgecolor": "#555555",
                               "linewidth": 0.6})
        text.set_gid(f"node:{kind}:{name}")
        url = link(kind, name)
        if url:
            text.set_url(url)
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    axes.set_xlim(min(xs) - 0.25, max(xs) + 0.25)
    axes.set_ylim(min(ys) - 0.15, max(ys) + 0.15)
    # matplotlib opens links in a new tab; a catalog's links stay in the page's tab.
    return _svg(figure, gid).replace(' target="_blank"', "")
