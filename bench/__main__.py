"""``python -m bench`` (``make bench``): every benchmark, one after the other;
``python -m bench online`` runs one."""
import sys

from bench import citus, house, ingest, online, rollout, security, serve, site, small_writes, sources, training

BENCHMARKS = {"ingest": ingest.main, "online": online.main, "training": training.main, "sources": sources.main,
              "security": security.main, "small_writes": small_writes.main, "rollout": rollout.main,
              "house": house.main, "serve": serve.main, "site": site.main, "citus": citus.main}

if __name__ == "__main__":
    for name in sys.argv[1:] or BENCHMARKS:
        BENCHMARKS[name]()
