"""pytest fixtures: one emulator subprocess for the whole session, boto3 clients."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
REGION = "us-east-1"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_PROFILE", None)


# What the Rust tests allow too (tests/e2e/common.rs): start-up takes ~2 s of CPU, but up to
# 14 s of wall time was measured on 2 busy cores.
START_TIMEOUT = 60.0

# A test that skips (or xfails) is a pass to `pytest -q`, so a regression could hide as one.
# Only a documented emulator gap may skip: its reason starts with this, and the gap is listed
# in tests/emulator/README.md.  Any other skip fails the run.
GAP_PREFIX = "emulator gap: "


def start_server(tmp_dir: str, timeout: float = START_TIMEOUT, args: list[str] | None = None,
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



_undocumented_skips: list[str] = []


def _check_skip(report) -> None:
    if not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        reason = f"xfail: {report.wasxfail}"
    else:
        longrepr = report.longrepr
        reason = (longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)).removeprefix("Skipped: ")
    if not reason.startswith(GAP_PREFIX):
        _undocumented_skips.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report):
    _check_skip(report)


def pytest_collectreport(report):
    _check_skip(report)


def pytest_terminal_summary(terminalreporter):
    if _undocumented_skips:
        terminalreporter.section("skips that are not documented emulator gaps", red=True)
        for line in _undocumented_skips:
            terminalreporter.line(line)


def pytest_sessionfinish(session, exitstatus):
    if _undocumented_skips and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def control(url, method, path, doc=None, timeout=10.0):
    """One request to the emulator's control endpoints: (status, the JSON body)."""
    data = None if doc is None else json.dumps(doc).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    try:
        reply = urllib.request.urlopen(request, timeout=timeout)
        return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextlib.contextmanager
def clock_stopped(url):
    """The emulator's model clock stopped for the block: a state under way lasts however slow
    the calls are, and runs on once the block is over."""
    status, body = control(url, "POST", "/_medtech/clock", {"stopped": True})
    assert status == 200, body
    try:
        yield
    finally:
        control(url, "POST", "/_medtech/clock", {"stopped": False})
