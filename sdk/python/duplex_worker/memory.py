"""Process memory figures (Linux ``/proc``; 0 elsewhere)."""

from __future__ import annotations


def resident_bytes() -> int:
    """Resident set size of this process in bytes."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
