"""Configuration: the ParallelCluster 3 file formats, loading, the view of a checked config, and validation."""
