"""Neural-network building blocks: one module per idea."""
