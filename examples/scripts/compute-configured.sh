#!/bin/bash
# Compute nodes, OnNodeConfigured: runs after munge and storage, before slurmd; $1 names the queue's flavour.
set -euo pipefail
test -d /fsx && test -d /projects
echo "$(hostname) configured as $1 (scratch: $(df -h --output=size /scratch 2>/dev/null | tail -1 | tr -d ' '))" \
    >> /home/site-bootstrap.log
