"""Print one line naming the machine and versions, to head a recorded benchmark run."""

from __future__ import annotations

import datetime
import os
import platform

import numpy
import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    print(f"date {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')} | "
          f"cpu {cpu_model()}, {cores} usable cores | gpu {gpu} | torch {torch.__version__} | "
          f"numpy {numpy.__version__} | python {platform.python_version()}")


if __name__ == "__main__":
    main()
