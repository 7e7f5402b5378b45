"""A fork server for test suites that start one emulator per test.

Starting an emulator costs about two seconds of CPU: the interpreter, moto, the
patches, and the Flask app of every service.  The end-to-end suite starts about
130 of them on a two-core CI machine, so that start-up was a third of its time.
The zygote pays it once: it loads everything, then forks a ready emulator per
request, which serves as ``server.py`` does.

Protocol, one JSON object per line:

    stdin   {"args": ["--port", "0", "--port-file", P, ...], "stderr": LOG_PATH}
    stdout  {"pid": N}                  (or {"error": "..."})

``args`` are ``server.py``'s own.  The emulator's stderr goes to ``stderr``;
its stdin and stdout are /dev/null.  The caller stops an emulator by killing its
pid; the zygote reaps it.  When stdin closes (the test process ended, however it
ended) the zygote exits, and the kernel kills every emulator it forked
(``PR_SET_PDEATHSIG``), so nothing outlives the suite.  The zygote keeps no list
of pids to kill itself: a pid reaped long ago may by then name another process.

The zygote stays single-threaded, so each fork starts from a consistent copy:
moto's backends for the default account exist but are empty, exactly as a fresh
process would make them on its first request.
"""
from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import sys
from collections.abc import Callable

# The services medtech and its tests call, so none is loaded on a first request.
PRELOADED = ("ec2", "kms", "logs", "kinesis", "secretsmanager", "rds", "elasticache", "iam",
             "sns", "cloudwatch", "backup", "resourcegroupstaggingapi", "s3", "sts",
             "securityhub", "config", "guardduty", "cloudtrail", "moto_api")

_PR_SET_PDEATHSIG = 1


def preload() -> None:
    """Everything a fresh emulator would otherwise load on its first requests: each service's
    app and botocore model, the REST routes and CBOR model the fronts derive from them, and
    moto's IAM backend in every partition (moto makes all six, with the AWS managed policies,
    on the first request that looks up an access key)."""
    from moto.core import utils
    from moto.iam.models import get_account_id_from

    from . import app
    from .behaviour_front import _rest_routes
    from .cbor_front import service_model

    app.prepare_dispatcher(PRELOADED)
    for service in PRELOADED:
        if service != "moto_api":
            utils._load_service_model(service, "service-2")
            _rest_routes(service)
    service_model("cloudwatch")
    get_account_id_from("")


def serve(run_emulator: Callable[[list[str]], int]) -> int:
    """Answer fork requests on stdin until it closes; ``run_emulator`` is ``server.main``."""
    preload()
    # Children are reaped by the kernel; a killed emulator leaves no zombie.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    replies = sys.stdout
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
            args = [str(a) for a in request["args"]]
            stderr_path = str(request["stderr"])
        except (ValueError, KeyError, TypeError) as exc:
            replies.write(json.dumps({"error": f"bad request: {exc}"}) + "\n")
            replies.flush()
            continue
        pid = os.fork()
        if pid == 0:
            _become_emulator(run_emulator, args, stderr_path)
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
    return 0


def _become_emulator(run_emulator: Callable[[list[str]], int], args: list[str],
                     stderr_path: str) -> None:
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Die with the zygote, however it ends; exit if it ended before this line.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:
            os._exit(1)
        null = os.open(os.devnull, os.O_RDWR)
        log = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process owns fd 0
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        # Each emulator draws its own ids, as separate processes did.
        _reseed()
        status = run_emulator(args)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, never return into the zygote's loop
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def _reseed() -> None:
    from moto.moto_api._internal import mock_random

    random.seed()
    mock_random.seed()
