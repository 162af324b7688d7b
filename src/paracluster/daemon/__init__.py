"""The cluster manager daemon (ParallelCluster's clustermgtd): observe, plan, act."""
