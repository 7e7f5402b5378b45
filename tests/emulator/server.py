#!/usr/bin/env python3
"""medtech test emulator: moto server (in-process) with medtech's patches.

Usage:
    server.py [--host 127.0.0.1] [--port N] [--port-file PATH] [--log-requests]
              [--behaviour '<json>' | --behaviour @file.json]
    server.py --fork-server     (one ready emulator per request on stdin; zygote.py)

--port 0 (the default) picks a free port.  Once the socket accepts
connections the bound port is written atomically to --port-file (if given)
and one line is printed to stdout:

    medtech-emulator listening on http://127.0.0.1:PORT

SIGTERM / SIGINT stop the server cleanly (exit status 0; the port file is
removed).  State lives in memory only; POST /moto-api/reset wipes it.

--behaviour (else the environment variable MEDTECH_EMULATOR_BEHAVIOUR, same
forms) switches on the latency and fault layer, e.g.
    --behaviour '{"time_scale": 0.01, "fault_rate": 0.05, "seed": 7}'
GET/POST /_medtech/behaviour read/replace it at run time; GET /_medtech/stats
reports what it did.  Without it the emulator is instant and fault-free.
See tests/emulator/README.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


class _Stop(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="medtech-emulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--port-file", help="write the bound port here once accepting connections")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    parser.add_argument("--fork-server", action="store_true",
                        help="serve fork requests on stdin instead (for test suites; see "
                             "medtech_emulator/zygote.py)")
    parser.add_argument("--behaviour", metavar="JSON|@FILE",
                        help="latency/fault behaviour as JSON or @path to a JSON file "
                             "(default: $MEDTECH_EMULATOR_BEHAVIOUR, else everything off)")
    args = parser.parse_args(argv)

    # Fake credentials for moto's own internal calls; never real ones.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    if args.fork_server:
        from medtech_emulator import zygote

        return zygote.serve(main)

    from medtech_emulator.behaviour import BehaviourError, resolve

    try:
        behaviour = resolve(args.behaviour, os.environ)
    except BehaviourError as exc:
        print(f"medtech-emulator: invalid behaviour: {exc}", file=sys.stderr)
        return 2

    from medtech_emulator.app import EmulatorServer, write_port_file

    def stop(signum, frame):  # noqa: ARG001
        raise _Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    server = EmulatorServer(args.host, args.port, log_requests=args.log_requests,
                            behaviour=behaviour)
    try:
        if args.port_file:
            write_port_file(args.port_file, server.port)
        print(f"medtech-emulator listening on http://{args.host}:{server.port}", flush=True)
        server.serve_forever()
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.close()
        if args.port_file:
            try:
                with open(args.port_file, encoding="ascii") as handle:
                    if handle.read().strip() == str(server.port):
                        os.remove(args.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
