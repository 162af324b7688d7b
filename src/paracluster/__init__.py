"""ParaCluster: AWS ParallelCluster 3 configs and CLI verbs turned into real, elastic Slurm clusters."""

__version__ = "0.1.0"
