"""A private PostgreSQL server that a test may stop and start (the shared one must stay up)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests_support import free_port


@dataclass
class PrivatePostgres:
    bin_dir: str
    data_dir: str
    socket_dir: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/cti"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, timeout=60)

    def start(self) -> None:
        self._as_postgres(
            f"{self.bin_dir}/pg_ctl", "-D", self.data_dir, "-w", "-t", "30", "-l",
            f"{self.data_dir}/server.log", "-o",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are terminated, the server comes back at once."""
        self._as_postgres(f"{self.bin_dir}/pg_ctl", "-D", self.data_dir, "-w", "-t", "30", "-m",
                          "fast", "-l", f"{self.data_dir}/server.log", "restart")

    def stop(self) -> None:
        self._as_postgres(f"{self.bin_dir}/pg_ctl", "-D", self.data_dir, "-w", "-m", "fast", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found or shutil.which("runuser") is None or os.geteuid() != 0:
        if os.environ.get("CTI_REQUIRE_POSTGRES") == "1":
            pytest.fail("initdb/runuser (root) needed for the private PostgreSQL server")
        pytest.skip("no PostgreSQL server binaries to start a private server")
    bin_dir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="cti-pg-")
    shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(bin_dir, f"{root}/data", root, free_port())
    try:
        server._as_postgres(f"{bin_dir}/initdb", "-D", server.data_dir, "-A", "trust", "-U",
                            "postgres", "--no-sync")
        server.start()
        server._as_postgres(f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(server.port),
                            "-U", "postgres", "cti")
        yield server
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{bin_dir}/pg_ctl", "-D",
                        server.data_dir, "-m", "immediate", "stop"], capture_output=True, timeout=60,
                       check=False)
        shutil.rmtree(root, ignore_errors=True)
