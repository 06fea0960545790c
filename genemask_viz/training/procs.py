"""Is the process a run recorded still the same process? (pid reuse safe)

A pid alone is not enough: after a reboot or a container restart an unrelated
process can get the same pid, and a dead run would read as alive forever. So a
run records, next to its pid, the process's start time (Linux: field 22 of
``/proc/<pid>/stat``, clock ticks since boot) and the boot id
(``/proc/sys/kernel/random/boot_id``). Where ``/proc`` is absent these are
``None`` and only the pid is compared.
"""

from __future__ import annotations

import os

__all__ = ["boot_id", "process_start", "process_identity", "pid_alive", "identity_proven"]

_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` from field 3 (state) on; None when unreadable.
    (Split after the last ``)``: the command name may hold spaces and parentheses.)"""
    try:
        with open(f"/proc/{int(pid)}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, ValueError, TypeError, OverflowError):
        return None


def boot_id() -> str | None:
    """This boot's id, or None where the kernel does not expose it."""
    try:
        with open(_BOOT_ID_FILE) as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def process_start(pid) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (stat field 22), or None."""
    fields = _stat_fields(pid) if pid else None
    try:
        return int(fields[22 - 3]) if fields else None
    except (IndexError, ValueError, TypeError):
        return None


def process_identity(pid) -> dict:
    """``{"pid_start", "boot_id"}`` to record with ``pid`` (values None when unknown)."""
    start = process_start(pid) if pid else None
    return {"pid_start": start, "boot_id": boot_id() if start is not None else None}


def pid_alive(pid, pid_start=None, boot=None) -> bool:
    """True when a process ``pid`` exists, is not a zombie, and, where recorded, has the
    same start time (``pid_start``) and runs in the same boot (``boot``). Anything but a
    positive integer pid (a tampered status file: -1 would address every process) is not."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    if boot is not None:
        now = boot_id()
        if now is not None and now != boot:
            return False  # recorded in an earlier boot: that process is gone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except (OverflowError, ValueError, TypeError):
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc: the pid is all there is to compare
    if fields[0] == "Z":  # a zombie (ended, not yet reaped by its parent) counts as ended
        return False
    if pid_start is not None:
        try:
            return int(fields[22 - 3]) == int(pid_start)
        except (IndexError, ValueError, TypeError, OverflowError):
            return True
    return True


def identity_proven(pid, pid_start=None, boot=None) -> bool:
    """True only when ``pid`` is provably the process that was recorded: it is alive, a start
    time was recorded and ``/proc`` shows the same one, and (where recorded) the boot is
    the same. A process may be signalled only then: a pid alone (an old status file, no
    ``/proc``) may since belong to an unrelated process."""
    if not pid or pid_start is None or not pid_alive(pid, pid_start, boot):
        return False
    now = process_start(pid)
    try:
        return now is not None and now == int(pid_start)
    except (TypeError, ValueError, OverflowError):
        return False
