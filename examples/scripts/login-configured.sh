#!/bin/bash
# Login nodes, OnNodeConfigured: greet users with where things are.
set -euo pipefail
cat > /etc/motd <<MOTD
Research cluster login node $(hostname).
  /projects  project space (kept when the cluster is deleted)
  /fsx       reference data, imported from s3://research-data/reference
  /apps      software, snapshotted when the cluster is deleted
Submit with sbatch; see queues with sinfo.
MOTD
echo "$(hostname) login node configured" >> /home/site-bootstrap.log
