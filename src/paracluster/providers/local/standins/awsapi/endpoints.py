"""A cluster's S3 and Secrets Manager endpoints: each its own process on the host's address of the cluster bridge."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from paracluster.providers.local.standins.awsapi import process

SERVICES = ("s3", "secretsmanager")  # each the name of its server module in this package


def start(service: str, state_dir: Path, address: str, port: int = 0) -> dict:
    """Start (or keep) `service`'s server on address:port; {"pid", "address", "port"}.

    Port 0 lets the kernel choose the first time and keeps that port across restarts, so URLs given to nodes stay
    valid.
    """
    return process.start(service, f"{service}-{address}", state_dir, address, port)


def stop(service: str, state_dir: Path, address: str) -> None:
    process.stop(state_dir, f"{service}-{address}")


def start_cluster_endpoints(state_dir: Path, address: str) -> dict[str, str]:
    """Start (or keep) every service on `address` (the cluster bridge's host address): {service: URL}.

    The servers start side by side: each spends its start-up importing Python modules.
    """
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        records = dict(zip(SERVICES, pool.map(lambda service: start(service, state_dir, address), SERVICES)))
    return {service: f"http://{address}:{records[service]['port']}" for service in SERVICES}


def stop_cluster_endpoints(state_dir: Path, address: str) -> None:
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        list(pool.map(lambda service: stop(service, state_dir, address), SERVICES))
