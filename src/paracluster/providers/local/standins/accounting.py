"""Slurm accounting and the REST API of a local cluster: secrets, database, slurmdbd and slurmrestd on the head node.

Host side: resolve the secrets the config names (before anything is created), start the cluster's database (or
find its standalone slurmdbd) and join it to the cluster network, write slurmdbd's files (0600, owner slurm) and the
JWT key. Node side it adds services to the head node's spec: slurmdbd and the accounting bootstrap before
slurmctld, slurmrestd after it.
"""

from __future__ import annotations

import base64
import binascii
import os
import pwd
import secrets as random
from pathlib import Path

from paracluster.errors import ClusterError
from paracluster.plan.identity import ec2_short_hostname
from paracluster.plan.spec import JWT_KEY, SLURMRESTD_PORT
from paracluster.providers.local.standins import database, secrets
from paracluster.providers.local.host.state import ClusterState
from paracluster.slurm import slurmdbd

REST_USER = "slurmrestd"
DATABASE = "Scheduling/SlurmSettings/Database/PasswordSecretArn"
MUNGE = "Scheduling/SlurmSettings/MungeKeySecretArn"


def check_secrets(state_dir: Path, config) -> None:
    """Fail (NotFoundError) when a secret the config names is not in the local store."""
    settings = config.scheduling.slurm_settings
    if settings.database.present:
        secrets.get(state_dir, settings.database.password_secret_arn, DATABASE)
    if settings.munge_key_secret_arn:
        munge_key(state_dir, settings.munge_key_secret_arn)


def munge_key(state_dir: Path, arn: str) -> bytes:
    """The munge key a MungeKeySecretArn holds: base64 text, as ParallelCluster stores it."""
    text = secrets.get(state_dir, arn, MUNGE)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ClusterError(f"the secret {arn} that {MUNGE} names is not base64; store a munge key with "
                           f"`base64 -w0 munge.key | paracluster secrets put {arn}`") from None
    if not 32 <= len(key) <= 1024:
        raise ClusterError(f"the munge key in secret {arn} has {len(key)} bytes; munge needs 32 to 1024")
    return key


def hosts_entries(record: ClusterState, config, state_dir: Path) -> list[str]:
    """/etc/hosts lines for the database or standalone slurmdbd the cluster reaches on its own network."""
    settings = config.scheduling.slurm_settings
    if record.network is None:
        return []
    address = database.attachment_address(record.network.subnet)
    if settings.database.present:
        return [f"{address} {database.parse_uri(settings.database.uri)[0]}"]
    if settings.external_slurmdbd.present:
        return [f"{address} {settings.external_slurmdbd.host}"]
    return []


def connect_accounting(record: ClusterState, config, state_dir: Path) -> None:
    """Start the cluster's database (or check its standalone slurmdbd) and join it to the cluster network."""
    from paracluster.providers.local.standins import standalone

    settings = config.scheduling.slurm_settings
    if settings.database.present:
        server = database.DatabaseServer(state_dir, settings.database.uri)
        password = secrets.get(state_dir, settings.database.password_secret_arn, DATABASE)
        with server.lock():
            server.ensure_running()
            server.ensure_user(settings.database.user_name, password)
            address = server.namespace.attach(record)
        record.accounting = {"databaseId": server.id, "address": address}
    elif settings.external_slurmdbd.present:
        dbd = standalone.find(state_dir, settings.external_slurmdbd.host, settings.external_slurmdbd.port)
        with dbd.lock():
            user = record.default_user
            if user and not user.host and dbd.know_user(user):
                # slurmdbd maps the user names of its database to uids when it starts: a new user needs a restart,
                # or its jobs are recorded under uid 0.
                dbd.stop()
            dbd.ensure_running()
            address = dbd.namespace().attach(record)
        record.accounting = {"slurmdbd": dbd.id, "address": address}


def disconnect_accounting(record: ClusterState) -> None:
    database.detach(record)


def _write_private(path: Path, content: bytes, owner: str = "slurm", mode: int = 0o600) -> None:
    entry = pwd.getpwnam(owner)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)
    os.chown(temporary, entry.pw_uid, entry.pw_gid)
    temporary.chmod(mode)
    os.replace(temporary, path)


def ensure_jwt_key(cluster_dir: Path) -> None:
    """The cluster's HS256 key for slurmrestd's JWTs (made once, root only on the host)."""
    jwt = cluster_dir / "jwt"
    jwt.mkdir(mode=0o700, exist_ok=True)
    if not (jwt / "jwt_hs256.key").exists():
        _write_private(jwt / "jwt_hs256.key", random.token_bytes(32), mode=0o400)


def write_files(record: ClusterState, config, conf_dir: Path, state_dir: Path) -> None:
    """slurmdbd.conf, its include and the bootstrap script into /opt/slurm/etc."""
    settings = config.scheduling.slurm_settings
    if not settings.database.present:
        return
    host, port = database.parse_uri(settings.database.uri)
    inp = slurmdbd.SlurmdbdInput(
        dbd_host=ec2_short_hostname(record.head.address), storage_host=host, storage_port=port,
        storage_loc=slurmdbd.storage_loc(settings.database.database_name, record.name),
        storage_user=settings.database.user_name,
        storage_pass=secrets.get(state_dir, settings.database.password_secret_arn, DATABASE),
        conf_dir="/etc/slurm", log_file="/var/log/slurm/slurmdbd.log", pid_file="/run/slurm/slurmdbd.pid",
        jwt_key=JWT_KEY,
    )
    # ParallelCluster keeps slurmdbd.conf if it exists (user edits survive); ours is rendered from the config only.
    _write_private(conf_dir / "slurmdbd.conf", slurmdbd.slurmdbd_conf(inp).encode())
    _write_private(conf_dir / slurmdbd.SETTINGS_FILE, slurmdbd.settings_conf(inp).encode())
    script = conf_dir / "pcluster" / "scripts" / "accounting_bootstrap"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(slurmdbd.bootstrap_script(record.name, ["slurm", record.default_user.name]))
    script.chmod(0o755)


def slurmrestd_url(record: ClusterState) -> str | None:
    head = record.head
    if head is None or not record.slurmrestd:
        return None
    return f"http://{head.address}:{SLURMRESTD_PORT}"
