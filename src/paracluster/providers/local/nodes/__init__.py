"""Local nodes: their networks, boot, PID 1, instance store disks and specs, and the node code they run."""
