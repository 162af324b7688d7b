#!/bin/bash
# Compute nodes, OnNodeStart: runs before shared storage and the scheduler are configured (only /home is
# mounted yet, as in ParallelCluster); record what the node is.
set -euo pipefail
. /etc/parallelcluster/cfnconfig
echo "$(hostname) starting in queue ${cfn_scheduler_queue_name} with ${cfn_instance_slots} slots" >> /home/site-bootstrap.log
