"""FeatureStore's methods by area, one module each; ``fspg.client`` composes them."""
