"""Optimisers and training utilities: one module per idea."""
