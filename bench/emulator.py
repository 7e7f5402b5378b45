#!/usr/bin/env python3
"""The medtech test emulator (tests/emulator/server.py, unchanged CLI) plus a request log.

    .venv/bin/python bench/emulator.py --port 0 --port-file F --behaviour '{"time_scale": 0.01}'

Same options, output and signals as ``scripts/emulator``. It adds one WSGI middleware, placed
outermost through the emulator's documented ``EmulatorServer(extra=[...])`` hook, that notes
every AWS request: arrival and response times (epoch seconds, the clock of the stats timeline), the operation
as ``service:Operation`` (the same identification the latency layer uses), the ids it names (for
S3, the object as ``bucket/key``: which calls were the lock's) and the HTTP status. Parameter
values other than resource ids are not kept.

    GET  /_bench/requests         {"requests": [{"t", "done", "op", "ids", "status"}, ...]}
    POST /_bench/requests/reset   clears the log

The benchmark uses it to count the polls of each waited resource and the gaps between them,
which the per-operation counts of ``/_medtech/stats`` cannot give.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR_DIR = os.path.join(ROOT, "tests", "emulator")
if EMULATOR_DIR not in sys.path:
    sys.path.insert(0, EMULATOR_DIR)

PREFIX = "/_bench/"

# Request parameters naming a modeled (waited) resource, or a subnet or security group (which
# lingering ENIs hold). Query protocols number list members (``NatGatewayId.1``); JSON
# protocols give the value directly.
ID_PARAMS = ("DBInstanceIdentifier", "ReplicationGroupId", "CacheClusterId", "NatGatewayId",
             "VpcEndpointId", "StreamName", "StreamARN", "SubnetId", "GroupId")


# EC2 filters that name resources by id (``Filter.1.Name=vpc-endpoint-id``,
# ``Filter.1.Value.1=vpce-...``): a describe filtered so names them too.
ID_FILTERS = ("vpc-endpoint-id", "nat-gateway-id", "subnet-id", "group-id")


def _ids(params: dict) -> list[str]:
    found = []
    for key, value in params.items():
        base = key.split(".", 1)[0]
        if base in ID_PARAMS and isinstance(value, str):
            found.append(value)
        elif base in ID_PARAMS and isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
        elif base == "Filter" and ".Value." in key and isinstance(value, str):
            number = key.split(".")[1]
            if params.get(f"Filter.{number}.Name") in ID_FILTERS:
                found.append(value)
    return found


class RequestLog:
    """WSGI middleware: notes every AWS request, answers ``/_bench/*``."""

    def __init__(self, app):
        from medtech_emulator.behaviour_front import identify

        self.app = app
        self.identify = identify
        self.lock = threading.Lock()
        self.entries: list[dict] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path.startswith(PREFIX):
            return self._control(environ, start_response, path)
        if path.startswith(("/_medtech/", "/moto-api/")):
            return self.app(environ, start_response)
        arrived = time.time()
        request = self.identify(environ)  # reads the body and rewinds it for the next layer
        ids = _ids(request.params)
        if request.protocol == "s3" and request.params.get("Key"):
            ids = [f"{request.params['Bucket']}/{request.params['Key']}"]
        entry = {"t": arrived, "op": request.name, "ids": ids, "status": None}

        def recording_start_response(status, headers, exc_info=None):
            try:
                entry["status"] = int(str(status).split()[0])
            except ValueError:
                pass
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        with self.lock:
            self.entries.append(entry)
        result = self.app(environ, recording_start_response)
        # The latency layer answers with a finished body, so the response is ready here.
        entry["done"] = time.time()
        return result

    def _control(self, environ, start_response, path):
        route = path[len(PREFIX):].strip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if route == "requests" and method == "GET":
            with self.lock:
                payload = {"requests": list(self.entries)}
            code = "200 OK"
        elif route == "requests/reset" and method == "POST":
            with self.lock:
                self.entries = []
            payload, code = {"reset": True}, "200 OK"
        else:
            payload, code = {"error": f"no such endpoint: {method} {path}"}, "404 Not Found"
        body = json.dumps(payload).encode("utf-8")
        start_response(code, [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
        return [body]


def main() -> int:
    import server  # tests/emulator/server.py: its CLI, port file, behaviour and signals
    from medtech_emulator import app

    base = app.EmulatorServer

    class LoggedServer(base):
        def __init__(self, *args, **kwargs):
            kwargs["extra"] = [RequestLog, *(kwargs.get("extra") or [])]
            super().__init__(*args, **kwargs)

    app.EmulatorServer = LoggedServer
    return server.main()


if __name__ == "__main__":
    sys.exit(main())
