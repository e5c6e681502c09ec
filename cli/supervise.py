"""The local stack's processes under supervisord (supervisor): each Procfile line a program that
is restarted when it exits, with its output in a log file of its own; this module writes the
configuration, starts supervisord, and reads its state over XML-RPC on a unix socket.

`Supervised.restarts()` names every process that exited since the last call (with the last
lines of its log), which `notify up` reports; supervisord has already started it again.
"""

from __future__ import annotations

import http.client
import shlex
import signal
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SUPERVISOR_ERRORS", "Restart", "Supervised", "read_procfile"]

#: What a call to supervisord may fail with (it is starting, stopping, or gone).
SUPERVISOR_ERRORS = (OSError, xmlrpc.client.Error, http.client.HTTPException)
_RPC_ERRORS = SUPERVISOR_ERRORS

#: A child must stay up this long to count as started; one that keeps failing is retried
#: (nearly) forever, every few seconds: a port in use may free up, a Redis may come back.
START_SECS = 1
START_RETRIES = 1_000_000
#: Lines of a log shown when its process exits.
TAIL_LINES = 10


def read_procfile(path: Path) -> dict[str, str]:
    """`name: command` lines; blank lines and # comments are skipped."""
    processes = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        processes[name.strip()] = command.strip()
    return processes


@dataclass(frozen=True, slots=True)
class Restart:
    """A process that exited (supervisord starts it again)."""

    name: str
    exit_status: int | None
    tail: list[str]


class Supervised:
    """supervisord running `processes` from `workdir`, its files under `data_dir`."""

    def __init__(self, processes: dict[str, str], data_dir: Path, workdir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.socket = self.data_dir / "supervisor.sock"
        self.config = self.data_dir / "supervisord.conf"
        self.names = list(processes)
        self._processes = processes
        self._workdir = workdir
        self._process: subprocess.Popen | None = None
        self._stops: dict[str, int] = {}  # name -> when it last stopped, as reported
        self.exits: dict[str, int] = {}  # name -> how many times it exited

    def _config(self, processes: dict[str, str], workdir: Path) -> str:
        def escape(text: str) -> str:  # supervisor expands %(name)s in its values
            return text.replace("%", "%%")

        lines = [
            "[unix_http_server]",
            f"file={escape(str(self.socket))}",
            "chmod=0700",
            "[supervisord]",
            "nodaemon=true",
            f"logfile={escape(str(self.logs / 'supervisord.log'))}",
            f"pidfile={escape(str(self.data_dir / 'supervisord.pid'))}",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        ]
        programs = self.data_dir / "programs"
        programs.mkdir(exist_ok=True)
        for name, command in processes.items():
            # A script per program, run by a shell as a Procfile is read ($VARIABLES expanded):
            # supervisor's own parser would cut a command at " ;" or " #".
            script = programs / f"{name}.sh"
            script.write_text(f"exec {command}\n")
            lines += [
                f"[program:{name}]",
                f"command=/bin/sh {escape(shlex.quote(str(script)))}",
                f"directory={escape(str(workdir))}",
                "autostart=true",
                "autorestart=true",
                f"startsecs={START_SECS}",
                f"startretries={START_RETRIES}",
                "stopasgroup=true",
                "killasgroup=true",
                "stopwaitsecs=20",
                "redirect_stderr=true",
                f"stdout_logfile={escape(str(self.log_of(name)))}",
                "stdout_logfile_maxbytes=20MB",
                "stdout_logfile_backups=2",
            ]
        return "\n".join(lines) + "\n"

    def _rpc(self) -> xmlrpc.client.ServerProxy:
        """A client for one call: supervisor's transport cannot recover from a failed request."""
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=_transport(f"unix://{self.socket}")
        )

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def running_elsewhere(self) -> bool:
        """Does a supervisord of an earlier `notify up` still answer on this data folder?"""
        try:
            self._rpc().supervisor.getState()
        except _RPC_ERRORS:
            return False
        return True

    def start(self, env: dict[str, str]) -> None:
        """Write the configuration, start supervisord (which starts every process) and wait
        for its socket."""
        self.config.write_text(self._config(self._processes, self._workdir))
        self.socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_stop_with_parent,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"supervisord exited at once; see {self.logs / 'supervisord.log'}"
                )
            try:
                self._rpc().supervisor.getState()
                return
            except _RPC_ERRORS:
                time.sleep(0.1)
        raise RuntimeError("supervisord did not answer on its socket within 20 s")

    def states(self) -> dict[str, str]:
        """Process name -> its state (STARTING, RUNNING, BACKOFF, EXITED, FATAL, ...)."""
        return {info["name"]: info["statename"] for info in self._info()}

    def _info(self) -> list[dict]:
        return list(self._rpc().supervisor.getAllProcessInfo())

    def restarts(self) -> list[Restart]:
        """Every process that exited since the last call (supervisord restarts it)."""
        found = []
        for info in self._info():
            name, stopped = info["name"], info["stop"]
            if stopped and stopped != self._stops.get(name, 0):
                self._stops[name] = stopped
                self.exits[name] = self.exits.get(name, 0) + 1
                found.append(Restart(name, info.get("exitstatus"), self._tail(name)))
        return found

    def _tail(self, name: str) -> list[str]:
        try:
            return self.log_of(name).read_text(errors="replace").splitlines()[-TAIL_LINES:]
        except OSError:
            return []

    def stop(self) -> None:
        """Stop every process, then supervisord."""
        if self._process is None or self._process.poll() is not None:
            return
        try:
            self._rpc().supervisor.shutdown()
        except _RPC_ERRORS:
            self._process.terminate()
        try:
            self._process.wait(60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)


def _stop_with_parent() -> None:
    """In the child, before exec: supervisord gets SIGTERM (and stops every process) if the
    `notify up` that started it dies, even by SIGKILL (Linux; elsewhere nothing is done)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _transport(url: str):
    from supervisor.xmlrpc import SupervisorTransport

    return SupervisorTransport(None, None, url)
