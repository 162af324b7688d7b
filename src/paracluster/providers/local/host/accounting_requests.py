"""The host service's accounting requests: databases and standalone slurmdbds, and JWTs for slurmrestd."""

from __future__ import annotations

import logging
import re

from paracluster.errors import BadRequestError, ClusterError, ConflictError
from paracluster.providers.local.standins import database, standalone
from paracluster.providers.local.nodes import instances

LOG = logging.getLogger("paracluster.local")
_TOKEN = re.compile(r"SLURM_JWT=(\S+)")
_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


def _users_of(service, key: str, value: str) -> list[str]:
    """Clusters (not yet deleted) whose accounting record names this database or slurmdbd."""
    return [r.name for r in service.store.records() if (r.accounting or {}).get(key) == value]


def list_databases(service) -> dict:
    state = service.store.root
    servers = [database.DatabaseServer.by_id(state, db_id) for db_id in database.list_ids(state)]
    return {"databases": [s.describe(_users_of(service, "databaseId", s.id)) for s in servers]}


def delete_database(service, uri: str) -> dict:
    server = database.find(service.store.root, uri)
    users = _users_of(service, "databaseId", server.id)
    dbds = [d.id for d in standalone.list_all(service.store.root) if d.database_id == server.id]
    if dbds:
        raise ConflictError(f"the database {uri} is used by standalone slurmdbd(s) {', '.join(dbds)}; delete them "
                            "first with `paracluster slurmdbd delete`")
    server.delete(users)
    return {"message": f"Deleted database {server.host}:{server.port} and its data."}


def reconnect(service, name: str) -> None:
    """After a host service restart: restart the cluster's database or slurmdbd if it stopped, rejoin the network."""
    from paracluster.providers.local.standins import accounting

    with service.lock(name):
        record = service.store.load(name)
        if not record or record.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return
        try:
            accounting.connect_accounting(record, service.plan(name).config, service.store.root)
        except ClusterError as err:
            LOG.error("accounting of %s: %s", name, err)


def cluster_token(service, record, user: str | None, lifespan: int | None) -> dict:
    """A JWT for slurmrestd from `scontrol token` on the head node (as root, which may mint one for any user)."""
    from paracluster.providers.local.standins.accounting import slurmrestd_url

    name = record.name
    head = record.head
    if record.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE") or head is None or not head.instance:
        raise ConflictError(f"cluster '{name}' is {record.status}; tokens are available once it is created")
    user = user or (record.default_user.name if record.default_user else None)
    if not _USER.match(user or ""):
        raise BadRequestError(f"--user '{user}' is not a valid user name")
    if lifespan is not None and not 1 <= lifespan <= 365 * 86400:
        raise BadRequestError(f"--lifespan {lifespan} is out of range; give seconds from 1 to 31536000")
    argv = ["scontrol", "token", f"username={user}"] + ([f"lifespan={lifespan}"] if lifespan else [])
    result = instances.node_exec(head.instance.pid, argv, timeout=30)
    found = _TOKEN.search(result.stdout)
    if not found:
        reason = (result.stderr.strip().splitlines() or ["no token in scontrol's answer"])[-1]
        raise ClusterError(f"failed to get a token for user '{user}' on cluster '{name}': {reason}")
    return {"user": user, "token": found.group(1), "slurmrestdUrl": slurmrestd_url(record)}


def create_slurmdbd(service, host: str, port: int, database_uri: str, database_user: str, password_secret_arn: str,
                    munge_key_secret_arn: str, database_name: str | None = None) -> dict:
    dbd = standalone.Slurmdbd(service.store.root, host, port)
    with dbd.lock():
        dbd.create(database_uri, database_user, password_secret_arn, munge_key_secret_arn, database_name)
    return dbd.describe([])


def list_slurmdbds(service) -> dict:
    return {"slurmdbds": [d.describe(_users_of(service, "slurmdbd", d.id))
                          for d in standalone.list_all(service.store.root)]}


def delete_slurmdbd(service, host: str, port: int) -> dict:
    dbd = standalone.find(service.store.root, host, port)
    users = _users_of(service, "slurmdbd", dbd.id)
    if users:
        raise ConflictError(f"slurmdbd {host}:{port} is used by cluster(s) {', '.join(users)}; delete them first")
    with dbd.lock():
        dbd.delete()
    return {"message": f"Deleted slurmdbd {host}:{port}."}
