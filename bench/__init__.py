"""fspg benchmarks: ``make bench`` runs them all; each prints ratios against a baseline
measured side by side in the same run, on the same server."""
