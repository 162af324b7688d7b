#!/usr/bin/env bash
# `make demo`: create a local cluster from examples/basic.yaml, run a 2-node MPI job with sbatch and
# `srun --mpi=pmix`, print its output, and delete the cluster. Usage: scripts/demo.sh PATH_TO_PARACLUSTER
set -euo pipefail
PARACLUSTER="${1:-paracluster}"
NAME="${DEMO_CLUSTER_NAME:-demo}"
cd "$(dirname "$0")/.."

cleanup() { "$PARACLUSTER" delete-cluster --cluster-name "$NAME" --wait >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== validating examples/basic.yaml (pcluster answers a successful dry run with exit code 1)"
"$PARACLUSTER" create-cluster --cluster-name "$NAME" --cluster-configuration examples/basic.yaml --dryrun true || true

echo "== creating cluster $NAME: a head node and two static compute nodes, real Slurm in Linux namespaces"
"$PARACLUSTER" create-cluster --cluster-name "$NAME" --cluster-configuration examples/basic.yaml --wait \
    --query '{status: clusterStatus, headNode: headNode.privateIpAddress}'

echo "== sinfo on the head node (over ssh, as the cluster's default user)"
"$PARACLUSTER" ssh --cluster-name "$NAME" -- sinfo

echo "== a 2-node MPI job: sbatch with srun --mpi=pmix (the job has a 2-minute time limit)"
"$PARACLUSTER" ssh --cluster-name "$NAME" -- 'cat > mpi_hello.c' < examples/jobs/mpi_hello.c
"$PARACLUSTER" ssh --cluster-name "$NAME" -- 'cat > mpi_hello.sbatch' < examples/jobs/mpi_hello.sbatch
"$PARACLUSTER" ssh --cluster-name "$NAME" -- \
    'mpicc -o mpi_hello mpi_hello.c && job=$(sbatch --parsable --wait mpi_hello.sbatch) && cat mpi-hello-$job.out'

echo "== deleting cluster $NAME"
trap - EXIT
"$PARACLUSTER" delete-cluster --cluster-name "$NAME" --wait
