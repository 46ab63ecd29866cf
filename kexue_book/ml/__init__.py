"""Classical machine-learning models: one module per idea."""
