"""Peak resident memory of a command, summed over its process and every process it starts.

    python bench/peak_memory.py python -m core run --data ../shared/data/cifar10_train_10k.zip --out OUT

Samples /proc/<pid>/status's VmRSS of the whole process tree every half second while the command
runs (Linux only) and prints the command's exit status, the peak of that sum in MiB and the wall
seconds. The command's own output goes to this process's stderr.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SAMPLE_SECONDS = 0.5


def tree_rss_bytes(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants now (0 for those already gone)."""
    total, waiting = 0, [pid]
    while waiting:
        process = waiting.pop()
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{process}/task").iterdir():
                waiting += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def main(command: list[str]) -> int:
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=sys.stderr)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        time.sleep(SAMPLE_SECONDS)
    print(f"exit {process.returncode}; peak summed RSS {peak / 2**20:,.0f} MiB; {time.perf_counter() - start:,.0f} s")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
