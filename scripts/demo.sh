#!/usr/bin/env bash
# `make demo`: show ParaCluster on an example config. Usage: scripts/demo.sh PATH_TO_PARACLUSTER
set -uo pipefail
PARACLUSTER="${1:-paracluster}"
cd "$(dirname "$0")/.."

echo "== paracluster version"
"$PARACLUSTER" version
echo
echo "== validating examples/basic.yaml (create-cluster --dryrun true; exit code 1 is pcluster's dry-run answer)"
"$PARACLUSTER" create-cluster --cluster-name demo --cluster-configuration examples/basic.yaml --dryrun true
echo
broken="$(mktemp --suffix=.yaml)"
trap 'rm -f "$broken"' EXIT
echo "== a misspelt key: the schema check names the YAML path and line, and suggests the key"
sed -e 's/Scheduler: slurm/Schedular: slurm/' examples/basic.yaml > "$broken"
"$PARACLUSTER" create-cluster --cluster-name demo --cluster-configuration "$broken" --dryrun true
echo
echo "== a valid schema with semantic problems: every validator finding at once"
sed -e 's/Name: compute/Name: Compute_Queue/' -e 's/MinCount: 2/MinCount: 5/' examples/basic.yaml > "$broken"
"$PARACLUSTER" create-cluster --cluster-name demo --cluster-configuration "$broken" --dryrun true
echo
echo "The local provider (a real Slurm cluster in Linux namespaces on this machine) arrives with the next issue;"
echo "until then ParaCluster validates configurations exactly as ParallelCluster does, and more."
exit 0
