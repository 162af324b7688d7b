"""Injected failures of the local provider (settings local.inject_*): they act on the real launch and boot paths."""

from __future__ import annotations

import threading


class Faults:
    """Counts down the failures the settings ask for, per instance type, across all clusters of one host service."""

    def __init__(self, settings):
        self._lock = threading.Lock()
        self._bootstrap = {k: int(v) for k, v in dict(settings["local.inject_bootstrap_failures"]).items()}
        self._launch = {k: int(v) for k, v in dict(settings["local.inject_launch_failures"]).items()}

    def _take(self, table: dict, instance_type: str) -> bool:
        with self._lock:
            left = table.get(instance_type, 0)
            if left > 0:
                table[instance_type] = left - 1
                return True
            return False

    def bootstrap_failure(self, instance_type: str) -> bool:
        """Whether the next boot of a node of this type must fail its bootstrap."""
        return self._take(self._bootstrap, instance_type)

    def launch_failure(self, instance_type: str) -> bool:
        """Whether the next launch of this type must fail with InsufficientInstanceCapacity."""
        return self._take(self._launch, instance_type)
