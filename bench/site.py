"""[F9] ``fspg docs build`` for a big catalog: 100 feature views x 20 features, each with
stored statistics of history and online (so every feature draws two histograms: skew, and
for the 20 views with a second version, drift), and an ingest timeline per version.
Reported: the first build (every chart drawn, on all cores) and a rebuild (charts whose
numbers did not change come from the cache), and the same build on one core.
"""
from __future__ import annotations

import os
import tempfile
import time

from bench.common import bench_definitions, feature_table, fresh_database, save, server

VIEWS = 100
FEATURES = 20
ROWS = 2_000
SECOND_VERSIONS = 20


def main() -> None:
    from fspg import FeatureStore
    from fspg.site import build as site

    with server() as admin, fresh_database(admin) as dsn, FeatureStore(dsn) as store:
        for i in range(VIEWS):
            name = f"view_{i:03d}"
            defs = bench_definitions(name, FEATURES, key=f"key_{i:03d}")
            defs["entities"][0]["name"] = f"entity_{i:03d}"
            defs["feature_views"][0]["entity"] = f"entity_{i:03d}"
            defs["feature_views"][0]["tags"] = {"team": f"team-{i % 7}"}
            store.apply(defs)
            store.insert_batch(name, feature_table(ROWS, FEATURES, key=f"key_{i:03d}", seed=i, days=5))
            if i < SECOND_VERSIONS:  # a second version: drift pictures against the first
                defs["feature_views"][0]["features"][0]["rules"] = {"min": 0, "max": 2}
                store.apply(defs)
                store.insert_batch(name, feature_table(ROWS, FEATURES, key=f"key_{i:03d}", seed=i + 1000, days=5))
            for source in ("history", "online"):
                store.compute_stats(name, source=source)
                if i < SECOND_VERSIONS:
                    store.compute_stats(f"{name}@1", source=source)
        result = {"views": VIEWS, "features_per_view": FEATURES, "second_versions": SECOND_VERSIONS,
                  "cores": os.cpu_count()}
        started = time.perf_counter()
        catalog = store.site_catalog()
        result["catalog_query_s"] = round(time.perf_counter() - started, 2)
        with tempfile.TemporaryDirectory() as out:
            first = site.build(catalog, out)
            again = site.build(store.site_catalog(), out)
        cpu_count = os.cpu_count
        os.cpu_count = lambda: 1  # the same build drawn in this process only
        try:
            with tempfile.TemporaryDirectory() as out:
                single = site.build(catalog, out)
        finally:
            os.cpu_count = cpu_count
        charts = sum(len(v["charts"]) + (v["timeline_svg"] is not None) for view in catalog["views"] for v in view["versions"])
        result.update({"pages": first.pages, "charts": charts, "first_build_s": round(first.seconds, 1),
                       "rebuild_s": round(again.seconds, 1), "one_core_build_s": round(single.seconds, 1),
                       "ms_per_chart_one_core": round(single.seconds * 1000 / max(charts, 1), 1)})
        save("site", result)


if __name__ == "__main__":
    main()
