"""A PostgreSQL server of a test's own, to stop, restart, freeze (SIGSTOP) and thaw.

The shared test server (DIGEST_TEST_POSTGRES_URL) serves every other test at the same time, so
a test that takes its database away starts a throwaway cluster (initdb ~1.5 s, start ~0.2 s).
As root (CI) the cluster belongs to the postgres user, as in .ci/run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from support.helpers import free_port


def server_binaries() -> Path | None:
    """Where initdb and pg_ctl are (PATH first, then Debian's versioned folders)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


class Cluster:
    """A throwaway PostgreSQL cluster on a free loopback port."""

    def __init__(self) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl)")
        self.bin = binaries
        # Not under pytest's tmp_path: its parents are private to this user, not postgres's.
        root = Path(tempfile.mkdtemp(prefix="digest-test-pg-"))
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to postgres
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
            shutil.chown(root, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        root.chmod(0o755)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True)

    @property
    def url(self) -> str:
        """The cluster's `postgres` database."""
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        """A database of the cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        # Commits reach the WAL before they are acknowledged (synchronous_commit on): an
        # immediate stop must not lose what a test saw committed. fsync off: the OS keeps it.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        """Stop the server at once (connections are cut, as in a crash)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def _pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP the server: connections stay open and nothing answers (a hung host)."""
        pids = self._pids()
        os.kill(pids[0], signal.SIGSTOP)  # the postmaster first: it starts no backend after
        for pid in self._pids()[1:]:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT the server: it carries on where it was."""
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def close(self) -> None:
        """Thaw and stop the server, remove its files."""
        try:
            self.thaw()
            self.stop()
        except (OSError, subprocess.CalledProcessError, ValueError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
