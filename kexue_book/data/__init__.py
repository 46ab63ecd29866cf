"""Data loading: safe random state and sharding in ``DataLoader`` worker processes."""
