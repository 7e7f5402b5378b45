"""pytest fixtures: one emulator subprocess for the whole session, boto3 clients."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
REGION = "us-east-1"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_PROFILE", None)


def start_server(tmp_dir: str, timeout: float = 15.0, args: list[str] | None = None,
                 env: dict[str, str] | None = None):
    """Spawn server.py on a free port; return (process, port, seconds to ready).

    Readiness protocol (what the Rust tests do too): poll --port-file until it
    holds a port number; the server writes it atomically once it accepts
    connections.  ``args`` are extra server.py options (e.g. ``--behaviour``),
    ``env`` replaces the environment.
    """
    port_file = os.path.join(tmp_dir, f"emulator-{uuid.uuid4().hex[:8]}.port")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--port-file", port_file,
                             *(args or [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited early: {proc.stderr.read()}")
        try:
            with open(port_file, encoding="ascii") as handle:
                text = handle.read().strip()
            if text:
                return proc, int(text), time.monotonic() - started, port_file
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("emulator did not become ready in time")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    proc, port, _, _ = start_server(str(tmp_path_factory.mktemp("emulator")))
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def aws(emulator):
    """aws("rds") -> a boto3 client talking to the emulator (cached per service)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=REGION)
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    clients = {}

    def client(service: str):
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=emulator, config=config)
        return clients[service]

    return client


@pytest.fixture
def uid():
    return uuid.uuid4().hex[:8]
