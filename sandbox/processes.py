"""Start background processes and stop them again by their recorded PID, never by name.

A PID alone can be reused by an unrelated process after a reboot or a long time, so each record also
keeps the process's start time from /proc; a PID whose start time differs is not ours and is left alone.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path


def _start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent's wait() is missing
        return None
    return int(fields[19])


@dataclass
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int
    argv: list[str]
    log: str

    def alive(self) -> bool:
        return _start_ticks(self.pid) == self.start_ticks

    def to_dict(self) -> dict:
        return asdict(self)


def start(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> ProcessRecord:
    """Start argv detached from our session (it outlives `sandbox up`), output appended to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env, cwd=cwd,
        )
    ticks = None
    for _ in range(50):  # /proc/PID appears as soon as fork returns; be patient on a loaded machine
        ticks = _start_ticks(proc.pid)
        if ticks is not None:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    if ticks is None:
        raise ProcessExited(name, proc.returncode, log)
    # Popen objects would reap the child on garbage collection; we track by PID from here on.
    proc.returncode = 0
    return ProcessRecord(name=name, pid=proc.pid, start_ticks=ticks, argv=argv, log=str(log))


class ProcessExited(Exception):
    def __init__(self, name: str, code: int | None, log: Path):
        tail = ""
        try:
            tail = "\n".join(Path(log).read_text(errors="replace").splitlines()[-15:])
        except OSError:
            pass
        super().__init__(f"{name} exited right after starting (exit code {code}); last lines of {log}:\n{tail}")


def _reap(pid: int) -> None:
    """Our own children become zombies until waited for; other processes' are reaped by init."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(records: list[ProcessRecord], timeout: float = 10.0) -> list[str]:
    """SIGTERM every live record (in the given order), wait, then SIGKILL what is left.

    Returns the names of processes that had to be killed.
    """
    live = [r for r in records if r.alive()]
    for r in live:
        try:
            os.kill(r.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in live:
            _reap(r.pid)
        live = [r for r in live if r.alive()]
        if not live:
            return []
        time.sleep(0.05)
    for r in live:
        try:
            os.kill(r.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for r in live:
        for _ in range(100):
            _reap(r.pid)
            if not r.alive():
                break
            time.sleep(0.02)
    return [r.name for r in live]
