"""Slurm configuration for ParaCluster clusters: node plan, hostlists and the pure slurm.conf renderer."""
