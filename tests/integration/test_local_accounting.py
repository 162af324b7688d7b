"""Slurm accounting (MariaDB + slurmdbd), ExternalSlurmdbd and slurmrestd with JWT on real local clusters."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from cluster_support import BASIC, cluster_record, node_exec, stop_service

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
PASSWORD = "acct-Pa55-w0rd"
DB_URI = "acctdb.example.com:3306"
SECOND_USER, SECOND_UID = "acctuser2", 2731

# A site script that adds a second user with the same UID on every node (OnNodeConfigured), and on the head node,
# where slurmdbd runs by then, gives it an association in ParallelCluster's default account.
ADD_USER = f"""#!/bin/bash
set -e
id {SECOND_USER} >/dev/null 2>&1 || useradd -u {SECOND_UID} -M -d /tmp -s /bin/sh {SECOND_USER}
. /etc/parallelcluster/cfnconfig
# The database outlives clusters, so the association may exist already ("Nothing new added" exits 1).
if [ "$cfn_node_type" = HeadNode ]; then
    sacctmgr -n -P show assoc cluster="$stack_name" user={SECOND_USER} format=account | grep -qx pcdefault ||
        sacctmgr -i add user {SECOND_USER} account=pcdefault
fi
"""
ACTION = """  CustomActions:
    OnNodeConfigured:
      Script: s3://acct-site/add-user.sh
"""

DATABASE = BASIC.replace("  Ssh:\n", ACTION + "  Ssh:\n").replace("""      ComputeResources:""", """      CustomActions:
        OnNodeConfigured:
          Script: s3://acct-site/add-user.sh
      ComputeResources:""").replace("""  Scheduler: slurm
""", f"""  Scheduler: slurm
  SlurmSettings:
    Database:
      Uri: {DB_URI}
      UserName: clusteradmin
      PasswordSecretArn: {ARN}acctpass
""").replace("MinCount: 2\n          MaxCount: 4", "MinCount: 2\n          MaxCount: 2")

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/mariadbd") or not os.path.exists("/usr/sbin/slurmdbd"),
                                reason="accounting tests need mariadb-server and slurmdbd (scripts/install-deps.sh)")


def _put_secret(cli, name: str, value: str) -> None:
    result = cli.run("secrets", "put", f"{ARN}{name}", input_text=value + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert value not in result.stdout + result.stderr


# Seconds a job must run for slurmctld to have sent its start to slurmdbd (its start records go every 5 s).
OUTLAST_START_RECORDS = 6


def _head(cli, name: str, command: str, user: str | None = None) -> str:
    result = node_exec(cli, name, "head", command, user)
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result.stdout


def _wait_sacct(cli, name: str, job: str, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        # slurmdbd may still be reconnecting to a restarted database: retry until the deadline.
        result = node_exec(cli, name, "head", f"sacct -a -X -n -P -S now-1days -j {job} -o jobid,user,account,state")
        out = result.stdout if result.returncode == 0 else result.stderr
        fields = out.strip().split("|") if result.returncode == 0 and out.strip() else []
        if fields and fields[3] == "COMPLETED":
            return fields
        assert not fields or fields[3] in ("PENDING", "RUNNING", "COMPLETING"), f"job {job}: {out}"
        assert time.monotonic() < deadline, f"job {job} did not complete in sacct: {out}"
        time.sleep(1)


@pytest.fixture(scope="module")
def accounting_cluster(cli, tmp_path_factory):
    _put_secret(cli, "acctpass", PASSWORD)
    script = tmp_path_factory.mktemp("acct") / "add-user.sh"
    script.write_text(ADD_USER)
    assert cli.run("s3", "cp", str(script), "s3://acct-site/add-user.sh").returncode == 0
    try:
        body = cli.create("acct-a", DATABASE)
        assert body["clusterStatus"] == "CREATE_COMPLETE", body
        yield "acct-a"
    finally:
        for name in ("acct-a", "acct-ext", "acct-wrong", "acct-nosecret"):
            cli.run("delete-cluster", "-n", name, "--wait", timeout=300)  # the tests delete them already
        cli.run("slurmdbd", "delete", "--host", "dbd.example.com")
        cli.run("databases", "delete", DB_URI)


def test_jobs_of_two_users_in_sacct_and_sreport(cli, accounting_cluster):
    name = accounting_cluster
    # The OnNodeConfigured script made the second user on every node, with the same UID.
    for node in ("head", "compute-st-c5-1", "compute-st-c5-2"):
        result = node_exec(cli, name, node, f"id -u {SECOND_USER}")
        assert result.stdout.strip() == str(SECOND_UID), result.stderr
    hour = _head(cli, name, "date +%Y-%m-%dT%H").strip()
    # slurmctld sends job starts to slurmdbd every 5 s; a job over before that is recorded from its steps only
    # (user root, name "allocation"), so the jobs whose user and account are checked outlast that period.
    submit = f"cd /tmp && sbatch --parsable -o /dev/null -t 1 --wrap 'sleep {OUTLAST_START_RECORDS}; hostname'"
    first = _head(cli, name, submit, user="ec2-user").strip()
    second = _head(cli, name, submit, user=SECOND_USER).strip()
    assert _wait_sacct(cli, name, first)[1:3] == ["ec2-user", "pcdefault"]
    assert _wait_sacct(cli, name, second)[1:3] == [SECOND_USER, "pcdefault"]
    admins = _head(cli, name, "sacctmgr -n -P show users format=user,adminlevel")
    assert "ec2-user|Administrator" in admins and "slurm|Administrator" in admins
    # sreport reads usage that slurmdbd rolls up every hour; roll up now instead of waiting for the hour to end,
    # then report on whole hours (sreport's unit) from the previous one to the next one.
    # (sreport clamps an end in the future to the current hour unless the window starts in the current hour, so the
    # window is the hour the jobs ran in.)
    window = f"start={hour}:00:00 end=$(date -d '{hour}:00:00 +1 hour' +%Y-%m-%dT%H:00:00)"
    _head(cli, name, "sacctmgr -i roll $(date -d '-1 day' +%Y-%m-%dT%H:00:00) $(date -d '+1 hour' +%Y-%m-%dT%H:00:00)")
    out = _head(cli, name, f"sreport -n -P cluster utilization {window} -t seconds")
    cluster, allocated, *_, reported = out.strip().splitlines()[-1].split("|")
    assert cluster == name and int(allocated) > 0 and int(reported) > 0, out
    users = _head(cli, name, f"sreport -n -P user topusage {window} -t seconds")
    assert {line.split("|")[1] for line in users.strip().splitlines()} >= {"ec2-user", SECOND_USER}, users


def test_history_survives_daemon_and_host_service_restarts(cli, accounting_cluster):
    name = accounting_cluster
    job = _head(cli, name, "cd /tmp && sbatch --parsable -o /dev/null -t 1 --wrap 'true'", user="ec2-user").strip()
    _wait_sacct(cli, name, job)
    # Restart slurmctld and slurmdbd on the head node (they run again daemonized, as `systemctl restart` would).
    _head(cli, name, "kill $(cat /run/slurm/slurmctld.pid) $(cat /run/slurm/slurmdbd.pid); sleep 2; "
                     "slurmdbd && sleep 1 && slurmctld")
    assert _wait_sacct(cli, name, job)[0] == job
    # Restart the host service with the database stopped: it must start the database again for the cluster.
    assert cli.json("databases", "list")["databases"][0]["clusters"] == [name]
    pid = int((cli.state_dir / "databases" / "acctdb.example.com-3306" / "server.pid").read_text())
    stop_service(cli.state_dir)
    os.kill(pid, 15)  # the server the (previous) host service started
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.2)
    cli.json("describe-cluster", "-n", name)  # starts the host service, which resumes the cluster's database
    deadline = time.monotonic() + 60
    while json.loads(cli.run("databases", "list").stdout)["databases"][0]["state"] != "running":
        assert time.monotonic() < deadline, "the database was not restarted"
        time.sleep(0.5)
    assert _wait_sacct(cli, name, job, timeout=90)[0] == job


def test_slurmrestd_with_jwt(cli, accounting_cluster):
    name = accounting_cluster
    url = cli.json("describe-cluster", "-n", name)["scheduler"]["slurmrestdUrl"]
    token = cli.json("token", "-n", name)["token"]
    headers = {"X-SLURM-USER-NAME": "ec2-user", "X-SLURM-USER-TOKEN": token, "Content-Type": "application/json"}

    def call(path, body=None, hdrs=headers):
        request = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None, headers=hdrs)
        with urllib.request.urlopen(request, timeout=20) as answer:
            return json.loads(answer.read())

    nodes = {node["name"] for node in call("/slurm/v0.0.38/nodes")["nodes"]}
    assert {"compute-st-c5-1", "compute-st-c5-2"} <= nodes
    submitted = call("/slurm/v0.0.38/job/submit", {
        "job": {"name": "rest", "time_limit": 1, "current_working_directory": "/tmp",
                "environment": {"PATH": "/usr/bin:/bin"}},
        "script": "#!/bin/sh\nhostname\n"})
    job = submitted["job_id"]
    deadline = time.monotonic() + 60
    while call(f"/slurm/v0.0.38/job/{job}")["jobs"][0]["job_state"] != "COMPLETED":
        assert time.monotonic() < deadline, "the job submitted through slurmrestd did not complete"
        time.sleep(1)
    # A forged token: slurmctld refuses the request, and slurmrestd 22.05 answers 500 with an error and no nodes.
    with pytest.raises(urllib.error.HTTPError) as refused:
        call("/slurm/v0.0.38/nodes", hdrs={"X-SLURM-USER-NAME": "ec2-user", "X-SLURM-USER-TOKEN": token[:-4] + "AAAA"})
    body = json.loads(refused.value.read())
    assert refused.value.code in (401, 403) or (refused.value.code == 500 and body["errors"] and not body["nodes"])
    # No token at all: refused before anything is asked of slurmctld.
    with pytest.raises(urllib.error.HTTPError) as refused:
        call("/slurm/v0.0.38/nodes", hdrs={})
    assert refused.value.code == 401 and refused.value.read() == b"Authentication failure"


def test_key_and_password_file_modes(cli, accounting_cluster):
    name = accounting_cluster
    cluster_dir = cli.state_dir / "clusters" / name
    etc = cluster_dir / "shared" / "opt-slurm" / "etc"
    expected = {
        cluster_dir / "munge" / "munge.key": ("munge", 0o400),
        cluster_dir / "jwt" / "jwt_hs256.key": ("slurm", 0o400),
        etc / "slurmdbd.conf": ("slurm", 0o600),
        etc / "slurm_parallelcluster_slurmdbd.conf": ("slurm", 0o600),
    }
    import pwd

    for path, (owner, mode) in expected.items():
        info = path.stat()
        assert (pwd.getpwuid(info.st_uid).pw_name, stat.S_IMODE(info.st_mode)) == (owner, mode), path
    assert stat.S_IMODE((cli.state_dir / "secrets").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (cli.state_dir / "secrets").iterdir())
    assert _head(cli, name, "stat -c '%U %a' /var/spool/slurm.state/jwt_hs256.key").split() == ["slurm", "600"]
    # The password is in slurmdbd's file only: not in describe output, logs or listings.
    outputs = [cli.run("describe-cluster", "-n", name).stdout, cli.run("secrets", "list").stdout,
               cli.run("databases", "list").stdout, (cli.state_dir / "service.log").read_text()]
    outputs += [log.read_text(errors="replace") for log in (cluster_dir / "nodes" / "head" / "logs").glob("*.log")]
    assert not [text for text in outputs if PASSWORD in text]
    assert _head(cli, name, "cat /etc/hosts").count("acctdb.example.com") == 1


def test_wrong_password_and_missing_secret_fail_the_create(cli, accounting_cluster):
    _put_secret(cli, "wrongpass", "not-the-password")
    wrong = DATABASE.replace(f"{ARN}acctpass", f"{ARN}wrongpass")
    body = _create_failing(cli, "acct-wrong", wrong)
    reason = body["failures"][0]["failureReason"]
    assert body["clusterStatus"] == "CREATE_FAILED" and "password in PasswordSecretArn" in reason, body
    assert "not-the-password" not in json.dumps(body)
    missing = DATABASE.replace(f"{ARN}acctpass", f"{ARN}nosuchsecret")
    body = _create_failing(cli, "acct-nosecret", missing)
    reason = body["failures"][0]["failureReason"]
    assert body["clusterStatus"] == "CREATE_FAILED", body
    assert reason.startswith("failed to check the secrets") and f"paracluster secrets put {ARN}nosuchsecret" in reason
    assert cluster_record(cli, "acct-nosecret").network is None  # caught before anything was created
    for name in ("acct-wrong", "acct-nosecret"):
        cli.json("delete-cluster", "-n", name, "--wait", timeout=300)


def _create_failing(cli, name: str, text: str) -> dict:
    return cli.json("create-cluster", "-n", name, "-c", str(cli.config(text)), "--wait", expect=1)


def test_external_slurmdbd(cli, accounting_cluster):
    _put_secret(cli, "acctmunge", base64.b64encode(os.urandom(1024)).decode())
    created = cli.json("slurmdbd", "create", "--host", "dbd.example.com", "--port", "6819", "--database-uri", DB_URI,
                       "--database-user", "clusteradmin", "--password-secret-arn", f"{ARN}acctpass",
                       "--munge-key-secret-arn", f"{ARN}acctmunge", timeout=180)
    assert created["state"] == "running"
    external = BASIC.replace("""  Scheduler: slurm
""", f"""  Scheduler: slurm
  SlurmSettings:
    ExternalSlurmdbd:
      Host: dbd.example.com
      Port: 6819
    MungeKeySecretArn: {ARN}acctmunge
""").replace("MinCount: 2", "MinCount: 1")
    try:
        body = cli.create("acct-ext", external)
        assert body["clusterStatus"] == "CREATE_COMPLETE", body
        job = _head(cli, "acct-ext", f"cd /tmp && sbatch --parsable -o /dev/null -t 1 --wrap "
                    f"'sleep {OUTLAST_START_RECORDS}; hostname'", user="ec2-user").strip()
        # The job is in the standalone slurmdbd's records with its user; no account: as in ParallelCluster, nothing
        # creates accounts or users in an external slurmdbd (its administrator does).
        assert _wait_sacct(cli, "acct-ext", job) == [job, "ec2-user", "", "COMPLETED"]
        assert cli.run("slurmdbd", "delete", "--host", "dbd.example.com").returncode == 1  # in use
    finally:
        cli.run("delete-cluster", "-n", "acct-ext", "--wait", timeout=300)
        cli.json("slurmdbd", "delete", "--host", "dbd.example.com")


def test_database_outlives_the_cluster_until_deleted(cli, accounting_cluster):
    refused = cli.run("databases", "delete", DB_URI)
    assert refused.returncode == 1 and "acct-a" in refused.stdout
    veth = f"pcld{cluster_record(cli, accounting_cluster).network.index}"
    assert os.path.exists(f"/sys/class/net/{veth}")
    cli.json("delete-cluster", "-n", accounting_cluster, "--wait", timeout=300)
    assert not os.path.exists(f"/sys/class/net/{veth}")
    listed = cli.json("databases", "list")["databases"]
    assert listed and listed[0]["clusters"] == [] and listed[0]["state"] == "running"
    namespace, pid = listed[0]["namespace"], int((cli.state_dir / "databases" / "acctdb.example.com-3306" /
                                                  "server.pid").read_text())
    cli.json("databases", "delete", DB_URI)
    assert cli.json("databases", "list")["databases"] == []
    assert not os.path.exists(f"/run/netns/{namespace}") and not os.path.exists(f"/proc/{pid}")


def test_slurmrestd_can_be_turned_off(tmp_path):
    from cluster_support import private_cli

    with private_cli(tmp_path, PARACLUSTER_SLURMRESTD="false") as runner:
        body = runner.create("acct-norest", BASIC.replace("MinCount: 2", "MinCount: 0"))
        assert body["clusterStatus"] == "CREATE_COMPLETE"
        assert "slurmrestdUrl" not in body["scheduler"]
        record = cluster_record(runner, "acct-norest")
        pid = record.nodes["head"].instance.pid
        assert subprocess.run(["nsenter", "-t", str(pid), "-p", "-m", "--", "pgrep", "-x", "slurmrestd"],
                              capture_output=True).returncode == 1
