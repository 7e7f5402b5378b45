"""The fork server (``server.py --fork-server``, medtech_emulator/zygote.py) the end-to-end
suite starts its emulators from: each fork is a whole emulator of its own, and none
outlives the server's stdin."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
from botocore.config import Config

from conftest import REGION, SERVER, START_TIMEOUT


def _fork(server: subprocess.Popen, tmp_path, name: str) -> tuple[int, int]:
    port_file = tmp_path / f"{name}.port"
    request = {"args": ["--port", "0", "--port-file", str(port_file)],
               "stderr": str(tmp_path / f"{name}.log")}
    server.stdin.write(json.dumps(request) + "\n")
    server.stdin.flush()
    pid = json.loads(server.stdout.readline())["pid"]
    started = time.monotonic()
    while not (port_file.exists() and port_file.read_text().strip()):
        assert time.monotonic() - started < START_TIMEOUT, (tmp_path / f"{name}.log").read_text()
        time.sleep(0.02)
    return pid, int(port_file.read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_forks_are_separate_emulators_and_die_with_the_server(tmp_path):
    server = subprocess.Popen([sys.executable, SERVER, "--fork-server"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        (pid_a, port_a), (pid_b, port_b) = (_fork(server, tmp_path, n) for n in ("a", "b"))
        assert pid_a != pid_b and port_a != port_b

        def s3(port: int):
            return boto3.client("s3", region_name=REGION, endpoint_url=f"http://127.0.0.1:{port}",
                                config=Config(retries={"max_attempts": 1}))

        # Each draws its own ids (moto's random is reseeded in every fork): the same first
        # request to two fresh emulators.
        ids = [boto3.client("ec2", region_name=REGION, endpoint_url=f"http://127.0.0.1:{p}")
               .create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"] for p in (port_a, port_b)]
        assert ids[0] != ids[1], ids
        s3(port_a).create_bucket(Bucket="only-in-a")
        assert [b["Name"] for b in s3(port_a).list_buckets()["Buckets"]] == ["only-in-a"]
        assert s3(port_b).list_buckets()["Buckets"] == []

        server.stdin.close()
        assert server.wait(timeout=10) == 0
        deadline = time.monotonic() + 10
        while (_alive(pid_a) or _alive(pid_b)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid_a) and not _alive(pid_b), "an emulator outlived its fork server"
    finally:
        server.kill()
        server.wait()
