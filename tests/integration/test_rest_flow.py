"""A provisioner's whole flow over HTTP: create from config text, poll, list instances, run a job, delete, poll.

This is what a platform team's service does with ParallelCluster's API (one cluster per project, handed out and
taken back): here against `paracluster api serve` and real local clusters, with httpx. ParaCluster's own Slurm and
node-count endpoints are checked on the same cluster.
"""

from __future__ import annotations

import json

from cluster_support import private_cli, residue, wait_for
from rest_support import SMALL, api_server, wait_for_status, wait_until_gone


def test_create_poll_use_and_delete_a_cluster_over_http(tmp_path):
    with private_cli(tmp_path) as cli, api_server(cli) as server:
        http = server.client
        created = http.post("/v3/clusters", json={"clusterName": "pclflow", "clusterConfiguration": SMALL})
        assert created.status_code == 202, created.text
        assert created.json()["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"

        described = wait_for_status(server, "pclflow", "CREATE_COMPLETE")
        head = described["headNode"]
        assert head["state"] == "running" and head["privateIpAddress"].startswith("10.")
        assert [c["clusterName"] for c in http.get("/v3/clusters").json()["clusters"]] == ["pclflow"]

        instances = http.get("/v3/clusters/pclflow/instances").json()["instances"]
        assert sorted((i["nodeType"], i.get("queueName")) for i in instances) == \
            [("ComputeNode", "work"), ("HeadNode", None)]
        assert all(i["state"] == "running" for i in instances)

        # The job goes through the head node, as a user of the handed-out cluster would run it.
        ran = cli.ssh("pclflow", "srun -N1 hostname")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.strip() == "work-st-c5-1"
        submitted = cli.ssh("pclflow", "sbatch --parsable -p work -w work-st-c5-1 --wrap 'sleep 60'")
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip()

        def running_job():
            slurm = http.get("/paracluster/v1/clusters/pclflow/slurm").json()
            jobs = {job["jobId"]: job for job in slurm["jobs"]}
            return slurm if jobs.get(job_id, {}).get("state") == "RUNNING" else None

        slurm = wait_for(running_job, timeout=60, what=f"job {job_id} to run")
        nodes = {node["nodeName"]: node for node in slurm["nodes"]}
        assert nodes["work-st-c5-1"]["category"] == "allocated"
        assert nodes["work-dy-c5-1"]["category"] == "powered down"
        assert {node["queueName"] for node in slurm["nodes"]} == {"work"}
        assert "accounting" not in slurm  # no Database in SMALL: sacct has nothing to say
        counts = http.get("/paracluster/v1/clusters/pclflow/nodecounts").json()["samples"]
        assert counts[-1]["queues"] == {"work": {"pending": 0, "running": 1}}
        cli.ssh("pclflow", f"scancel {job_id}")

        deleted = http.delete("/v3/clusters/pclflow")
        assert deleted.status_code == 202 and deleted.json()["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
        wait_until_gone(server, "pclflow")
        assert http.get("/v3/clusters").json() == {"clusters": []}
        assert http.get("/paracluster/v1/clusters/pclflow/slurm").status_code == 404
        assert not any(residue(cli.state_dir, "pclflow").values()), json.dumps(residue(cli.state_dir, "pclflow"))
