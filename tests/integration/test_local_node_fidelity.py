"""Nodes that ParallelCluster site scripts accept, on one real local cluster: systemd as PID 1 on every node type,
ParallelCluster's /opt/slurm layout with prolog.d, an account database like an AMI's, and sudo.

The head node's OnNodeConfigured sequence is the kind published deployments run: it adds a group and a user with
fixed ids, a sudoers.d rule, a unit of its own (enabled and started), edits /opt/slurm/etc/slurm.conf and restarts
slurmctld and sshd with systemctl, drops a prolog into /opt/slurm/etc/scripts/prolog.d, then copies a bucket prefix
with `aws s3 cp --recursive`, reads a secret with the AWS CLI and the instance id from IMDS with curl (the AWS side is
tested further in test_local_node_aws.py). Every job has a time limit.
"""

from __future__ import annotations

import textwrap

import pytest
from cluster_support import HEADER, cluster_record, node_exec, wait_for

NAME = "fidelity"

SITE_SCRIPT = """\
#!/bin/bash
set -euxo pipefail
groupadd -g 2000 research
useradd -u 2001 -g research -M -d /home/alice -s /bin/bash alice
echo 'alice ALL=(root) NOPASSWD: /usr/bin/systemctl' > /etc/sudoers.d/50-alice
chmod 0440 /etc/sudoers.d/50-alice
visudo -c
sudo --user=slurm whoami > /root/whoami-slurm
cat > /etc/systemd/system/site-heartbeat.service <<'EOF'
[Unit]
Description=A site's own daemon
[Service]
ExecStart=/bin/sh -c 'while true; do date +%s > /run/site-heartbeat; sleep 1; done'
[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now site-heartbeat.service
sed -i 's/^SlurmctldDebug=.*/SlurmctldDebug=debug/' /opt/slurm/etc/slurm.conf
systemctl restart slurmctld.service
systemctl restart sshd.service
/opt/slurm/bin/scontrol ping
cat > /opt/slurm/etc/scripts/prolog.d/50_site <<'EOF'
#!/bin/sh
echo "$SLURM_JOB_ID $(hostname)" >> /home/prolog.log
EOF
chmod 0755 /opt/slurm/etc/scripts/prolog.d/50_site
"""

AWS_SCRIPT = """\
#!/bin/bash
set -euo pipefail
aws s3 cp --only-show-errors --recursive s3://fidelity-site/bootstrap/ /opt/site/
aws secretsmanager get-secret-value --secret-id fidelity/license --query SecretString --output text > /opt/site/license
IMDS=http://169.254.169.254/latest
TOKEN=$(curl -sf -X PUT $IMDS/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" $IMDS/meta-data/instance-id > /opt/site/instance-id
"""
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fidelity/license-AbC123"


@pytest.fixture(scope="module")
def cluster(cli):
    script, aws_script = cli.tmp / "site.sh", cli.tmp / "site-aws.sh"
    script.write_text(SITE_SCRIPT)
    aws_script.write_text(AWS_SCRIPT)
    data = cli.tmp / "fidelity-data"
    (data / "sub").mkdir(parents=True, exist_ok=True)
    (data / "sub" / "b.txt").write_text("beta\n")
    (cli.tmp / "fidelity-license").write_text("license-key-42")
    for args in (("s3", "cp", str(data), "s3://fidelity-site/bootstrap/"),
                 ("secrets", "put", SECRET, "--value-file", str(cli.tmp / "fidelity-license"))):
        result = cli.run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
    config = HEADER + textwrap.dedent(f"""\
      CustomActions:
        OnNodeConfigured:
          Sequence:
            - Script: {script}
            - Script: {aws_script}
    LoginNodes:
      Pools:
        - Name: users
          InstanceType: c5.large
          Count: 1
          Networking:
            SubnetIds: [subnet-0123456789abcdef0]
    Scheduling:
      Scheduler: slurm
      SlurmQueues:
        - Name: work
          ComputeResources:
            - Name: c5
              InstanceType: c5.large
              MinCount: 1
              MaxCount: 2
          Networking:
            SubnetIds: [subnet-0123456789abcdef0]
    """)
    described = cli.create(NAME, config)
    assert described["clusterStatus"] == "CREATE_COMPLETE", described
    yield NAME
    cli.json("delete-cluster", "-n", NAME, "--wait")


def _in(cli, node: str, command: str, user: str | None = None) -> str:
    result = node_exec(cli, NAME, node, command, user=user)
    assert result.returncode == 0, f"{node}: {command}: {result.stdout}{result.stderr}"
    return result.stdout.strip()


def test_systemd_runs_every_node_type_with_parallelclusters_units(cli, cluster):
    units = {
        "head": {"munge.service", "slurmctld.service", "sshd.service", "paracluster-clustermgtd.service"},
        "login-users-1": {"munge.service", "sshd.service"},
        "work-st-c5-1": {"munge.service", "slurmd.service"},
    }
    for node, expected in units.items():
        assert _in(cli, node, "cat /proc/1/comm") == "systemd"
        assert _in(cli, node, "systemctl is-system-running --wait") == "running"
        running = set(_in(cli, node, "systemctl list-units --type=service --state=running --no-legend --plain "
                                     "| cut -d' ' -f1").split())
        assert expected <= running, (node, running)
    # ssh.service is sshd.service, as on Debian and Ubuntu.
    assert _in(cli, "head", "systemctl show -p Id ssh.service") == "Id=sshd.service"


def test_the_site_script_changed_what_it_meant_to(cli, cluster):
    assert _in(cli, "head", "systemctl is-enabled site-heartbeat.service") == "enabled"
    assert _in(cli, "head", "systemctl is-active site-heartbeat.service") == "active"
    assert _in(cli, "head", "cat /root/whoami-slurm") == "slurm"
    assert "SlurmctldDebug          = debug" in _in(cli, "head", "scontrol show config")
    assert _in(cli, "head", "getent group research").startswith("research:x:2000:")
    assert _in(cli, "head", "sudo -n systemctl is-active slurmctld", user="alice") == "active"
    head = cluster_record(cli, NAME).nodes["head"].instance.instance_id
    assert _in(cli, "head", "cat /opt/site/sub/b.txt /opt/site/license /opt/site/instance-id").split() == \
        ["beta", "license-key-42", head]


def test_a_job_runs_the_site_prolog_on_a_static_and_a_dynamic_node(cli, cluster):
    for node in ("work-st-c5-1", "work-dy-c5-1"):
        job = cli.ssh(NAME, f"srun -t 1 -p work -w {node} hostname", timeout=120)
        assert job.returncode == 0 and job.stdout.strip() == node, job.stderr
    log = _in(cli, "head", "cat /home/prolog.log")
    assert {line.split()[1] for line in log.splitlines()} == {"work-st-c5-1", "work-dy-c5-1"}
    assert _in(cli, "work-dy-c5-1", "systemctl is-system-running --wait") == "running"


def test_parallelclusters_slurm_layout(cli, cluster):
    for node in ("head", "work-st-c5-1", "login-users-1"):
        assert "work" in _in(cli, node, "/opt/slurm/bin/sinfo -h -o %P")
    assert _in(cli, "head", "test -x /opt/slurm/sbin/slurmrestd && test -d /opt/slurm/lib/slurm && echo ok") == "ok"
    assert _in(cli, "head", "bash -lc 'command -v sbatch'")
    assert _in(cli, "head", "ls /opt/slurm/etc/scripts/epilog.d") == "90_pcluster_noop"


def test_accounts_are_an_amis_and_the_default_user_has_sudo(cli, cluster):
    record = cluster_record(cli, NAME)
    user = record.default_user.name
    for node in ("head", "work-st-c5-1", "login-users-1"):
        assert _in(cli, node, f"id -u {user}; id -g {user}").split() == ["1000", "1000"]
        assert _in(cli, node, "sudo -n id -u", user=user) == "0"
        people = [line.split(":") for line in _in(cli, node, "getent passwd").splitlines()]
        people = [fields[0] for fields in people if 1000 <= int(fields[2]) < 60000]
        assert set(people) <= {user, "alice"}, (node, people)  # none of the host's people


def test_a_node_stops_cleanly_and_leaves_no_cgroup(cli, cluster):
    from pathlib import Path

    from paracluster.providers.local.nodes import cgroups

    node_dir = cli.state_dir / "clusters" / NAME / "nodes" / "work-dy-c5-1"
    groups = [Path(f"{hierarchy}/{cgroups.node_group(str(node_dir))}")
              for hierarchy in cgroups.hierarchies(cgroups.layout())]
    assert any(group.is_dir() for group in groups)
    cli.ssh(NAME, "sudo scontrol update nodename=work-dy-c5-1 state=power_down_force reason=test", timeout=60)
    wait_for(lambda: not any(group.is_dir() for group in groups), timeout=60, what="the node's cgroups to go")
