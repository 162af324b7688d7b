"""`paracluster diagnose`: checks on every node of a cluster, judged by pure functions over gathered facts."""
