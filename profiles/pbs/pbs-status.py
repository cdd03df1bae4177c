#!/usr/bin/env python3
"""Job status for Snakemake's cluster-generic executor on PBS Pro / OpenPBS.

Usage: pbs-status.py JOBID.  Prints exactly one of ``running``, ``success``, ``failed`` and
always exits 0 (a non-zero exit would abort the whole run).  From ``qstat -x -f JOBID``:
job_state F or X with Exit_status 0 is success, any other Exit_status is failed, every other
state is running; "Unknown Job Id" (the job left the history) is failed.  A qstat that does
not answer (server busy) counts as running, so the next poll asks again.
"""

import re
import subprocess
import sys


def status(job_id: str) -> str:
    try:
        out = subprocess.run(["qstat", "-x", "-f", job_id], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "running"
    text = out.stdout + out.stderr
    if "Unknown Job Id" in text:
        return "failed"
    state = re.search(r"^\s*job_state\s*=\s*(\w)", out.stdout, re.MULTILINE)
    if out.returncode != 0 or state is None:
        return "running"
    if state.group(1) not in ("F", "X"):
        return "running"
    exit_status = re.search(r"^\s*Exit_status\s*=\s*(-?\d+)", out.stdout, re.MULTILINE)
    return "success" if exit_status and int(exit_status.group(1)) == 0 else "failed"


if __name__ == "__main__":
    print(status(sys.argv[1]))
