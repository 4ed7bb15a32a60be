"""This machine: subprocesses, the cache folder, GPUs (NVML), memory, the reaper, errors."""
