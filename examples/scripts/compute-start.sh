#!/bin/bash
# Compute nodes, OnNodeStart: runs before the scheduler is configured; record what the node is.
set -euo pipefail
. /etc/parallelcluster/cfnconfig
echo "$(hostname) starting in queue ${cfn_scheduler_queue_name} with ${cfn_instance_slots} slots" >> /projects/bootstrap.log
