"""PrologSlurmctld: hold a job until its nodes are up, so Slurm 22.05 launches it at once.

Without it a batch job on resumed nodes starts only on slurmctld's 30-second periodic pass; when the prolog ends,
slurmctld launches the job immediately. It always exits 0: a node that never comes up is Slurm's ResumeTimeout's
business, not the prolog's.
"""

from __future__ import annotations

import os
import subprocess
import time

WAITING = ("POWERING_UP", "POWERED_DOWN", "NOT_RESPONDING", "POWER_UP")
TIMEOUT = 600.0


def nodes_ready(nodelist: str) -> bool:
    result = subprocess.run(["scontrol", "show", "nodes", nodelist, "-o"], capture_output=True, text=True,
                            timeout=30)
    if result.returncode != 0:
        return False
    for line in result.stdout.splitlines():
        state = next((field[6:] for field in line.split() if field.startswith("State=")), "")
        if any(flag in state.split("+") for flag in WAITING):
            return False
    return True


def main() -> None:
    nodelist = os.environ.get("SLURM_JOB_NODELIST", "")
    deadline = time.monotonic() + TIMEOUT
    while nodelist and time.monotonic() < deadline and not nodes_ready(nodelist):
        time.sleep(0.1)


if __name__ == "__main__":
    main()
