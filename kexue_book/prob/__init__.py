"""Probability and geometry: one module per idea."""
