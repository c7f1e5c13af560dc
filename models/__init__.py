"""Model specs, design matrices, the frequentist replication and the PyMC hierarchical models."""
