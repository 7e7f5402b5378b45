"""The emulator's WSGI application and HTTP server.

The application is a stack of WSGI middlewares around moto's own
``DomainDispatcherApplication``::

    request ─▶ [extra middlewares, outermost first] ─▶ BehaviourFront ─▶ CborFront
            ─▶ ErrorFront ─▶ moto

* ``BehaviourFront`` (behaviour_front.py + lifecycle.py) is the latency and
  fault layer: AWS's intermediate states and lingering dependencies, seeded
  throttling / 5xx / lost responses, stats, and the ``/_medtech/*`` control
  endpoints.  With the default behaviour it passes every request through.
* ``CborFront`` (cbor_front.py) speaks Smithy RPCv2 CBOR for CloudWatch and
  hands moto the equivalent awsJson1.0 request.
* ``ErrorFront`` turns a Python exception inside moto (``NotImplementedError``
  for an operation moto lacks, or a moto bug) into an error in the wire format
  the client speaks, instead of werkzeug's HTML 500 page that SDKs cannot parse
  and keep retrying.

More middlewares can be passed in ``build_app(extra=[...])`` as callables
``wrap(app) -> app``; they see every request first, i.e. exactly what the SDK
sent.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
Middleware = Callable[[WSGIApp], WSGIApp]


class ErrorFront:
    """Render exceptions escaping moto as AWS-shaped errors.

    ``NotImplementedError`` (moto has no handler for the action) becomes HTTP
    501 with code ``NotImplemented``; any other exception becomes HTTP 500
    ``InternalFailure`` (the traceback goes to stderr).  The body format
    follows the request's protocol: EC2 XML, query XML, or JSON.
    """

    def __init__(self, app: WSGIApp):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except NotImplementedError as exc:
            return self._error(environ, start_response, 501, "NotImplemented",
                               f"medtech-emulator: not implemented by moto: {exc}")
        except Exception as exc:  # noqa: BLE001 - last line of defence
            traceback.print_exc(file=sys.stderr)
            return self._error(environ, start_response, 500, "InternalFailure",
                               f"medtech-emulator: internal error: {type(exc).__name__}: {exc}")

    @staticmethod
    def _error(environ: dict, start_response: Callable, status: int, code: str,
               message: str) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        content_type = environ.get("CONTENT_TYPE", "") or ""
        auth = environ.get("HTTP_AUTHORIZATION", "") or ""
        fault = "Receiver" if status >= 500 else "Sender"
        if content_type.startswith("application/x-www-form-urlencoded"):
            if "/ec2/aws4_request" in auth:
                body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
                        f"<RequestID>{request_id}</RequestID></Response>")
            else:
                body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>"
                        f"<Type>{fault}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
                        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
            headers = [("Content-Type", "text/xml")]
        else:
            body = json.dumps({"__type": code, "message": message})
            headers = [("Content-Type", content_type if content_type.startswith("application/x-amz-json")
                        else "application/json"),
                       ("x-amzn-ErrorType", code),
                       ("x-amzn-query-error", f"{code};{fault}")]
        data = body.encode("utf-8")
        headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(data)))]
        reason = {500: "Internal Server Error", 501: "Not Implemented"}.get(status, "Error")
        start_response(f"{status} {reason}", headers)
        return [data]


def build_app(extra: list[Middleware] | None = None, behaviour: Any = None) -> WSGIApp:
    """Build the emulator WSGI app (applies the moto patches first).

    ``extra`` middlewares wrap the stack, the first one outermost.
    ``behaviour`` (a ``behaviour.Behaviour``; default: everything off) sets the
    latency and fault layer; it can be changed at run time through
    ``POST /_medtech/behaviour``.
    """
    from . import apply_patches

    apply_patches()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from . import lifecycle
    from .behaviour_front import BehaviourFront
    from .cbor_front import CborFront

    lifecycle.install()
    global _prepared
    app: WSGIApp = _prepared or DomainDispatcherApplication(create_backend_app)
    _prepared = None
    app = ErrorFront(app)
    app = CborFront(app)
    app = BehaviourFront(app, behaviour)
    for middleware in reversed(extra or []):
        app = middleware(app)
    return app


_prepared: WSGIApp | None = None


def prepare_dispatcher(services: Iterable[str]) -> None:
    """Load moto, the patches and each service's app now, for the next :func:`build_app`.

    A fork server calls this once; every emulator it forks then starts ready.
    """
    from . import apply_patches

    apply_patches()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    global _prepared
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for service in services:
        dispatcher.app_instances[service] = dispatcher.create_app(service)
    _prepared = dispatcher


def _request_handler(log_requests: bool):
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if log_requests:
                super().log_request(code, size)

    return Handler


class EmulatorServer:
    """A threaded werkzeug HTTP server serving :func:`build_app`.

    The socket is bound and listening when the constructor returns, so
    ``port`` is final and connections are accepted (queued) from then on.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_requests: bool = False,
                 extra: list[Middleware] | None = None, behaviour: Any = None):
        from werkzeug.serving import make_server

        self.app = build_app(extra, behaviour)
        self._server = make_server(host, port, self.app, threaded=True,
                                   request_handler=_request_handler(log_requests))
        self.host = host
        self.port: int = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        """Serve from a daemon thread (for in-process use)."""
        self._thread = threading.Thread(target=self.serve_forever, name="medtech-emulator",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def close(self) -> None:
        self._server.server_close()


def write_port_file(path: str, port: int) -> None:
    """Write ``port`` to ``path`` atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{port}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
