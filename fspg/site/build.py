"""Writing the catalog site: one page per feature view, service, training set and model,
an index with search, and the lineage picture; every page a static file."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fspg.site import charts, lineage

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class SiteBuilt:
    """What ``fspg docs build`` wrote."""

    path: str
    pages: int
    views: int
    seconds: float


def build(catalog: dict[str, Any], out: str | Path, *,
          verify: Callable[[str, int], bool] | None = None) -> SiteBuilt:
    """Write the site for ``catalog`` (``fs.site_catalog()``) into ``out`` (made, or
    emptied of a previous site first). ``verify(name, version)`` checks a stored training
    set; without it the pages say it was not checked."""
    started = time.perf_counter()
    root = Path(out)
    for sub in ("views", "services", "training_sets", "models", "static"):
        shutil.rmtree(root / sub, ignore_errors=True)
        (root / sub).mkdir(parents=True)
    for asset in STATIC.iterdir():
        shutil.copy(asset, root / "static" / asset.name)
    env = _environment()
    now = dt.datetime.fromisoformat(catalog["generated_at"])
    views = [prepare_view(v, now) for v in catalog["views"]]
    draw_all(views, root / ".charts")
    for t in catalog["training_sets"]:
        for v in t["versions"]:
            v["verified"] = verify(t["name"], v["version"]) if verify else None
    pages = 0

    def write(path: str, template: str, title: str, **context: Any) -> None:
        nonlocal pages
        depth = path.count("/")
        html = env.get_template(template).render(title=title, root="../" * depth, catalog=catalog, **context)
        (root / path).write_text(html)
        pages += 1

    write("index.html", "index.html", "Catalog", views=views)
    for view in views:
        write(f"views/{view['name']}.html", "view.html", view["name"], view=view)
    for service in catalog["services"]:
        write(f"services/{service['name']}.html", "service.html", service["name"], service=service)
    for ts in catalog["training_sets"]:
        write(f"training_sets/{ts['name']}.html", "training_set.html", ts["name"], ts=ts)
    for model in catalog["models"]:
        write(f"models/{model['name']}.html", "model.html", model["name"], model=model)
    write("lineage.html", "lineage.html", "Lineage", svg=lineage.svg(catalog["edges"], link_from("")))
    (root / "catalog.json").write_text(json.dumps(catalog, indent=1, default=str))
    return SiteBuilt(str(root.resolve()), pages, len(views), time.perf_counter() - started)


def link_from(prefix: str) -> Callable[[str, str], str | None]:
    """Page links for lineage nodes, relative to a page ``prefix`` ("" at the top, "../" below)."""
    def link(kind: str, name: str) -> str | None:
        base, _, version = name.partition("@")
        folder = {"feature_view": "views", "feature_service": "services", "training_set": "training_sets",
                  "model": "models"}.get(kind)
        if folder is not None:
            return f"{prefix}{folder}/{base}.html" + (f"#v{version}" if version and kind != "feature_service" else "")
        if kind == "entity":
            return f"{prefix}index.html#entity-{name}"
        return None

    return link


def prepare_view(view: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A view with what its pages show computed: freshness badges, diffs, pictures."""
    versions = view["versions"] or []
    for i, version in enumerate(versions):
        version["badge"] = freshness_badge(version, now)
        version["diff"] = diff(versions[i - 1], version) if i else None
        version["timeline_svg"] = Chart("timeline", (f"{view['name']}-v{version['version']}", version["timeline"]), {})
        version["charts"] = version_charts(view["name"], version)
    current = next((v for v in versions if v["version"] == view["current_version"]), versions[-1] if versions else None)
    view["badge"] = current["badge"] if current else freshness_badge({}, now)
    view["staged"] = next((v["version"] for v in versions if v["stage"] == "staged"), None)
    view["tags"] = current["tags"] if current else {}
    words = [view["name"], view.get("owner") or "", view.get("entity") or "global", view.get("description") or ""]
    words += [f"{k} {v} {k}:{v}" for k, v in view["tags"].items()]
    view["search"] = " ".join(words).lower()
    return view


def freshness_badge(version: dict[str, Any], now: dt.datetime) -> str:
    """How old the newest event is against the TTL, as an HTML badge."""
    newest = version.get("newest_event")
    if not newest:
        return '<span class="badge unknown" data-freshness="unknown">no data</span>'
    age = now - dt.datetime.fromisoformat(newest)
    ttl = version.get("ttl_seconds")
    state = "fresh" if ttl is None or age.total_seconds() <= ttl else "stale"
    limit = f" (TTL {version['ttl']})" if ttl is not None else " (no TTL)"
    return f'<span class="badge {state}" data-freshness="{state}">{state} · {_age(age)} old{limit}</span>'


def _age(age: dt.timedelta) -> str:
    seconds = max(age.total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def diff(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from version ``base`` to ``new``: features added, removed, retyped,
    re-ruled, and the view's settings."""
    old = {f["name"]: f for f in base["features"]}
    cur = {f["name"]: f for f in new["features"]}
    lines = [{"kind": "added", "text": f"+ {n} ({cur[n]['dtype']})"} for n in cur if n not in old]
    lines += [{"kind": "removed", "text": f"- {n} ({old[n]['dtype']})"} for n in old if n not in cur]
    for name in cur.keys() & old.keys():
        if cur[name]["dtype"] != old[name]["dtype"]:
            lines.append({"kind": "changed", "text": f"~ {name}: dtype {old[name]['dtype']} -> {cur[name]['dtype']}"})
        if cur[name]["rules"] != old[name]["rules"]:
            lines.append({"kind": "changed", "text": f"~ {name}: rules {old[name]['rules']} -> {cur[name]['rules']}"})
    for setting in ("ttl", "partition", "retention"):
        if base.get(setting) != new.get(setting):
            lines.append({"kind": "changed", "text": f"~ {setting}: {base.get(setting)} -> {new.get(setting)}"})
    return {"base": base["version"], "lines": lines or [{"kind": "changed", "text": "no change to features or settings"}]}


@dataclass
class Chart:
    """A picture to draw: a function of ``fspg.site.charts`` and its arguments; ``svg``
    once drawn (None when there was nothing to draw)."""

    kind: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    svg: str | None = None

    def key(self) -> str:
        """A digest of what the picture shows: an unchanged picture is not drawn again."""
        text = json.dumps([self.kind, self.args, self.kwargs], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def __html__(self) -> str:  # Jinja2 inserts a drawn chart as markup
        return self.svg or ""


def version_charts(view: str, version: dict[str, Any]) -> list[dict[str, Any]]:
    """Per feature with statistics: history against the version before (drift), and
    history against online (skew)."""
    out = []
    for f in version["features"]:
        if not f.get("history"):
            continue
        name = f"{view}-v{version['version']}-{f['name']}"
        if f.get("previous"):
            out.append({"feature": f["name"], "title": "drift against the version before",
                        "svg": Chart("histogram", (f"{name}-drift", f["history"], {"histogram": f["previous"]}),
                                     {"main_label": f"v{version['version']}", "other_label": f"v{version['version'] - 1}"})})
        out.append({"feature": f["name"], "title": "training against serving",
                    "svg": Chart("histogram", (f"{name}-skew", f["history"], f.get("online")),
                                 {"main_label": "history (training)", "other_label": "online (serving)"})})
    return out


def draw_all(views: list[dict[str, Any]], cache: Path) -> None:
    """Draw every chart of the site: from the cache when drawn before with the same
    numbers, else on all cores (matplotlib draws a small chart in about 60 ms)."""
    pending = [v["timeline_svg"] for view in views for v in view["versions"]]
    pending += [c["svg"] for view in views for v in view["versions"] for c in v["charts"]]
    cache.mkdir(parents=True, exist_ok=True)
    todo = []
    for chart in pending:
        cached = cache / f"{chart.key()}.svg"
        if cached.exists():
            chart.svg = cached.read_text() or None
        else:
            todo.append(chart)
    if len(todo) > 20 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(os.cpu_count()) as pool:
            drawn = list(pool.map(_draw, todo, chunksize=8))
    else:
        drawn = [_draw(chart) for chart in todo]
    for chart, svg in zip(todo, drawn):
        chart.svg = svg
        (cache / f"{chart.key()}.svg").write_text(svg or "")
    for view in views:
        for v in view["versions"]:
            v["charts"] = [c for c in v["charts"] if c["svg"].svg]
            if not v["timeline_svg"].svg:
                v["timeline_svg"] = None


def _draw(chart: Chart) -> str | None:
    return getattr(charts, chart.kind)(*chart.args, **chart.kwargs)


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)
