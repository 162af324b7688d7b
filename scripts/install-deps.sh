#!/usr/bin/env bash
# Install what ParaCluster needs on a Debian/Ubuntu machine, idempotently: system packages that are missing
# (nothing is reinstalled), then a virtual environment with the project and its test dependencies.
# Usage: scripts/install-deps.sh [VENV_DIR]   (run as root; safe to run again)
set -euo pipefail

VENV="${1:-.venv}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# System packages by purpose.
PACKAGES=(
    python3 python3-venv python3-pip            # ParaCluster itself (nodes run the system python3)
    slurm-wlm slurm-client munge                # the real Slurm and munge daemons of the local provider
    openmpi-bin libopenmpi-dev                  # MPI in the nodes (Debian's OpenMPI has PMIx: srun --mpi=pmix)
    openssh-server openssh-client               # sshd on head nodes, ssh for `paracluster ssh`
    iproute2 util-linux procps                  # ip (bridges, veths, netns), nsenter, ps
    mount e2fsprogs                             # losetup, mount; mkfs.ext4 and resize2fs for EBS volumes
    btrfs-progs                                 # EBS RAID and striped instance store where there is no md/dm
    lvm2                                        # instance store striping with LVM where device-mapper exists
    haproxy                                     # the login pools' load balancer
    mariadb-server slurmdbd slurm-wlm-mysql-plugin   # Slurm accounting: a real database and slurmdbd
    slurmrestd slurm-wlm-jwt-plugin             # Slurm's REST API with JWT authentication (auth/jwt)
    chromium                                    # the dashboard's tests and bench (playwright drives it; no download)
    systemd                                     # PID 1 of every local node (systemctl, journald, the units)
    sudo                                        # in the nodes, as on every AMI: the default user's sudo, sudoers.d
    curl                                        # in the nodes: site scripts read IMDS with curl, as on every AMI
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages such as mariadb-server and slurmdbd start their system services on install; ParaCluster runs its
    # own instances, so keep the system ones off with a temporary policy-rc.d (unless one is there already).
    policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [[ -n "$policy" ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
fi

# Every local node runs systemd, whose manager and journald each hold inotify instances: 128 per user (the kernel's
# default) would stop a burst at a few dozen nodes. Raise the limits as container hosts do (never lower them), now and
# at every boot (/etc/sysctl.d).
raise_sysctl() {
    local key="$1" wanted="$2" current
    current="$(sysctl -n "$key")"
    if ((current < wanted)); then
        sysctl -q -w "$key=$wanted"
        echo "install-deps: raised $key from $current to $wanted"
    fi
    mkdir -p /etc/sysctl.d
    grep -qs "^$key = " /etc/sysctl.d/60-paracluster.conf || echo "$key = $wanted" >> /etc/sysctl.d/60-paracluster.conf
}
raise_sysctl fs.inotify.max_user_instances 8192
raise_sysctl fs.inotify.max_user_watches 524288
# The kernel's ARP table is one for all network namespaces: a 1,000-node cluster needs an entry per node in the head
# node's namespace and one in each node's, and the default limit (gc_thresh3 = 1024) drops the rest, so messages to
# nodes are lost (a 280-node job's cancel took 91 s instead of 1.2 s). Raise the limits as large hosts do.
raise_sysctl net.ipv4.neigh.default.gc_thresh1 4096
raise_sysctl net.ipv4.neigh.default.gc_thresh2 8192
raise_sysctl net.ipv4.neigh.default.gc_thresh3 16384

# Prefer a python3 >= 3.11 from PATH (pyenv or the distribution's).
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "install-deps: $PYTHON is older than 3.11; install Python 3.11+ or set PYTHON=/path/to/python3.11" >&2
    exit 1
}

stamp="$VENV/.installed"
if [[ ! -f "$stamp" || "$ROOT/pyproject.toml" -nt "$stamp" ]]; then
    echo "install-deps: preparing virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
    touch "$stamp"
fi

# The nodes' AWS CLI and boto3 (current ones from PyPI; Debian 12's predate endpoint settings), installed once per
# pinned set under /opt/paracluster/sdk, which every node sees (src/paracluster/providers/local/standins/awsapi/nodesdk.py).
"$VENV/bin/python" -m paracluster.providers.local.standins.awsapi.nodesdk
