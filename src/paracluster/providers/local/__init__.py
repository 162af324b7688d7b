"""The local provider: clusters whose nodes are Linux namespaces on this machine, run by a host service.

The package itself imports nothing: node-side programs (a node's booter and PID 1) live under it and start on every
node boot, so they must not pay for the CLI side's imports. `LocalProvider` is loaded on first use.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("LocalProvider", "LocalServices"):
        from paracluster.providers.local import provider

        return getattr(provider, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
