"""CLI commands by group, each a thin shell over ``FeatureStore``; ``fspg.cli`` registers them."""
