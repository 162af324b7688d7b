"""The AWS CLI and boto3 of the nodes, and the node-side settings that point them at the cluster's stand-ins.

Debian 12's awscli (2.9) and python3-botocore (1.29) predate endpoint settings by environment variable, so nodes get
current ones from PyPI: `install_sdk()` puts awscli (v1, which honours AWS_ENDPOINT_URL_<SERVICE> and `services`
sections like CLI v2) and boto3 into /opt/paracluster/sdk/aws-<digest>, with the nodes' own python3, once per
pinned set (beside /opt/paracluster/lib, whose old code copies host services remove). The nodes' root is an overlay of the host's, so that directory is there in every node; `node_files()`
lists what makes it used there with no flag: /usr/local/bin/aws, a .pth file that puts the SDK on python3's path,
and /etc/paracluster/aws.env with the region and endpoint URLs (also given to login shells and systemd units). The
.pth file also loads aws.env into any Python process that did not inherit those variables (sudo, cron, `env -i`),
without overriding what a process set itself.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from pathlib import Path

from paracluster.errors import ClusterError
from paracluster.providers.local.host import commands as hostcmd
from paracluster.providers.local.nodes.runtime import RUNTIME_ROOT, node_python

SDK_ROOT = RUNTIME_ROOT.parent / "sdk"

# awscli 1.46 carries its own botocore; boto3 and botocore are pinned together. urllib3 stays 1.26 (Debian 12's
# line) because the SDK directory comes first on the nodes' path and Debian's python3-requests rejects urllib3 2.
REQUIREMENTS = ("awscli==1.46.3", "boto3==1.44.8", "botocore==1.44.8", "urllib3==1.26.20")
ENV_FILE = "/etc/paracluster/aws.env"
PROFILE_FILE = "/etc/profile.d/paracluster-aws.sh"
SYSTEMD_FILE = "/etc/systemd/system.conf.d/paracluster-aws.conf"
WRAPPER = "/usr/local/bin/aws"
HOOK_MODULE = "paracluster_aws_env"
PTH_NAME = "paracluster-aws-sdk.pth"
# The environment variable of each stand-in's service (botocore: AWS_ENDPOINT_URL_ + service id, upper case, '_').
ENDPOINT_VARIABLES = {"s3": "AWS_ENDPOINT_URL_S3", "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER"}

# Runs at every start of the nodes' python3 (from the .pth file): must be quick, quiet and never fail.
HOOK_SOURCE = f'''"""Loads {ENV_FILE} (KEY=VALUE lines) into os.environ without overriding variables already set."""
import os

try:
    with open("{ENV_FILE}") as _lines:
        for _line in _lines:
            _key, _sep, _value = _line.strip().partition("=")
            if _sep and _key.startswith("AWS_"):
                os.environ.setdefault(_key, _value)
except OSError:
    pass
'''


@functools.cache
def _site_packages(python: str) -> str:
    """The first system site directory of the nodes' python3 (/usr/local/lib/python3.X/dist-packages on Debian)."""
    result = hostcmd.run([python, "-c", "import site; print(site.getsitepackages()[0])"], timeout=30)
    if result.returncode != 0:
        raise ClusterError(f"failed to ask {python} for its site directory: {result.stderr.strip()[-200:]}")
    return result.stdout.strip()


@functools.cache
def _python_version(python: str) -> str:
    result = hostcmd.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], timeout=30)
    return result.stdout.strip()


def sdk_dir(python: str | None = None) -> Path:
    """Where the SDK for the nodes' python3 lives, keyed by the pins, the hook and the Python version."""
    python = python or node_python()
    digest = hashlib.sha256("\n".join([*REQUIREMENTS, HOOK_SOURCE, _python_version(python)]).encode())
    return SDK_ROOT / f"aws-{digest.hexdigest()[:12]}"


def install_sdk(python: str | None = None, timeout: float = 900) -> Path:
    """Install the pinned AWS CLI and boto3 for the nodes' python3 (pip from PyPI), or nothing if present; its dir."""
    python = python or node_python()
    target = sdk_dir(python)
    if (target / ".complete").exists():
        return target
    for directory in (SDK_ROOT.parent, SDK_ROOT):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o755)
    staging = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    argv = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location",
            "--no-cache-dir", "--target", str(staging), *REQUIREMENTS]
    # umask 022: every node user (and the slurm user) must be able to read the SDK and run its scripts. pip keeps
    # the caller's environment: proxies and pip's own settings (index, certificates) come from there.
    result = hostcmd.run(argv, timeout=timeout, umask=0o022, env=dict(os.environ))
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise ClusterError(f"failed to install the nodes' AWS CLI and boto3 with `{' '.join(argv)}`: {tail}")
    hook = staging / f"{HOOK_MODULE}.py"
    hook.write_text(HOOK_SOURCE)
    hook.chmod(0o644)
    (staging / ".complete").touch()
    try:
        os.rename(staging, target)
    except OSError:  # another process installed it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def node_environment(region: str, endpoints: dict[str, str]) -> dict[str, str]:
    """The variables that point the AWS CLI and SDKs of a node at the stand-ins: {"s3": URL, ...} -> env."""
    unknown = sorted(set(endpoints) - set(ENDPOINT_VARIABLES))
    if unknown:
        raise ValueError(f"no endpoint variable for service(s) {', '.join(unknown)}")
    # AWS_DEFAULT_REGION for the CLI and botocore, AWS_REGION for the other SDKs; CLI v2 would read the region
    # from IMDS, which CLI v1 and boto3 do not.
    env = {"AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    env.update({ENDPOINT_VARIABLES[service]: url for service, url in sorted(endpoints.items())})
    return env


def node_files(region: str, endpoints: dict[str, str], python: str | None = None) -> list[dict]:
    """Files for the node spec's `files` ({"path", "content", "mode"}): the aws command, the python path hook, the
    environment file, and the same variables for login shells (profile.d) and for systemd's units (its manager's
    DefaultEnvironment, read once systemd is the nodes' PID 1). The SDK directory itself is not copied: the node
    sees the host's."""
    python = python or node_python()
    sdk = sdk_dir(python)
    env = node_environment(region, endpoints)
    wrapper = (f"#!/bin/sh\n# The AWS CLI of ParaCluster's nodes ({REQUIREMENTS[0]} from PyPI, in {sdk}).\n"
               f"PYTHONPATH={sdk}${{PYTHONPATH:+:$PYTHONPATH}} exec {python} -m awscli \"$@\"\n")
    pth = f"{sdk}\nimport {HOOK_MODULE}\n"
    env_text = "# The AWS stand-ins of this ParaCluster cluster (read by the AWS CLI, boto3 and login sessions).\n"
    env_text += "".join(f"{key}={value}\n" for key, value in env.items())
    profile = "# The AWS stand-ins of this ParaCluster cluster, for login shells.\n"
    profile += "".join(f"export {key}={value}\n" for key, value in env.items())
    systemd = "# The AWS stand-ins of this ParaCluster cluster, for every unit (systemd nodes).\n[Manager]\n"
    systemd += "DefaultEnvironment=" + " ".join(f"{key}={value}" for key, value in env.items()) + "\n"
    return [
        {"path": WRAPPER, "content": wrapper, "mode": 0o755},
        {"path": f"{_site_packages(python)}/{PTH_NAME}", "content": pth, "mode": 0o644},
        {"path": ENV_FILE, "content": env_text, "mode": 0o644},
        {"path": PROFILE_FILE, "content": profile, "mode": 0o644},
        {"path": SYSTEMD_FILE, "content": systemd, "mode": 0o644},
    ]


if __name__ == "__main__":
    # scripts/install-deps.sh runs this (as root) so that clusters need no PyPI access at create time.
    print(f"install-deps: nodes' AWS CLI and boto3 in {install_sdk()}")
