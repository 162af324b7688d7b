"""Cluster logs as CloudWatch Logs holds them: the agent config nodes get, log groups, streams and their events."""
