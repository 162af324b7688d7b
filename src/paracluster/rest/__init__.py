"""ParaCluster's REST server: ParallelCluster's /v3 API on `api`, ParaCluster's own /paracluster/v1, the dashboard."""
