"""WSGI front for the latency and fault layer, plus its control endpoints.

Stack position (app.py)::

    request -> [extra] -> BehaviourFront -> CborFront -> ErrorFront -> moto

It sees exactly what the SDK sent, so it can answer in the client's own wire
format: EC2 query XML, query XML (RDS, ElastiCache, IAM, SNS, STS, CloudWatch
query), JSON 1.0/1.1 (KMS, Logs, Kinesis, Secrets Manager), Smithy RPCv2
CBOR (CloudWatch through the CBOR front) and S3's REST XML.

Per request
-----------
1. ``/_medtech/*`` is answered here (behaviour, stats, crowd, what a resource's
   credentials are: credentials.py); ``/moto-api/*`` passes
   through untouched (never a fault); after ``/moto-api/reset`` the model
   forgets its resources.
2. The service comes from the SigV4 credential scope (else the JSON target
   prefix, else the CBOR path), the operation from ``Action=`` (query),
   ``X-Amz-Target`` (JSON), the CBOR path, or for S3 (path style) from the
   method, the path (bucket or object) and the query's subresource.  The body
   is read once and handed on unchanged.
3. With ``call_latency`` (or the service's ``service_latency``) > 0 the request
   first waits that long (real seconds, never scaled): the round trip every
   AWS call costs, so that a client's cost in calls shows in its wall time.
4. With the default behaviour the request goes straight to the next layer
   (only counted).  Otherwise: the latency model's due transitions run
   (lifecycle.Model.tick), a fault may be drawn, and the response of a
   Describe/List request is committed to the timeline once it is known to
   reach the client.

Faults (independent of ``time_scale``), drawn with ``random.Random(seed)``:

* ``throttle`` -- not applied; EC2 ``RequestLimitExceeded`` (503), query
  services ``Throttling`` (400), JSON/CBOR services ``ThrottlingException``
  (400; CloudWatch's ``x-amzn-query-error: Throttling;Sender``), S3
  ``SlowDown`` (503).
* ``server_error`` -- not applied; HTTP 500, EC2 and S3 ``InternalError``,
  others ``InternalFailure``.
* ``lost_response`` -- moto applies the request, then the client gets the
  same 500 as ``server_error``: the response was "lost".

Each injected fault carries the header ``x-medtech-fault: <kind>``.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from . import credentials
from .behaviour import FAULT_KINDS, Behaviour, BehaviourError
from .crowd import CrowdError, crowd
from .lifecycle import FINAL, MODEL, Model

CONTROL_PREFIX = "/_medtech/"
CREDENTIAL_ROUTES = ("credentials/check", "secrets/backdate")
MOTO_API_PREFIX = "/moto-api/"

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
_CBOR_PATH = re.compile(r"^/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)/?$")
# JSON target prefixes -> SigV4 signing names (for unsigned requests only).
_TARGET_SERVICES = {"Kinesis_20131202": "kinesis", "TrentService": "kms", "Logs_20140328": "logs",
                    "secretsmanager": "secretsmanager", "GraniteServiceVersion20100801": "monitoring"}
_CBOR_SERVICES = {"GraniteServiceVersion20100801": "monitoring"}

# S3 (REST, path style): the operation of a bucket or object request is its method plus the
# query's subresource (``GET /bucket?versioning``); none means the plain object or bucket call.
# The Rust SDK also names most object operations in ``x-id=`` (botocore does not), which wins.
_S3_BUCKET_SUBRESOURCES = {
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "encryption": ("GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption"),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "publicAccessBlock": ("GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls",
                          "DeleteBucketOwnershipControls"),
    "lifecycle": ("GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration",
                  "DeleteBucketLifecycle"),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "location": ("GetBucketLocation", None, None),
    "versions": ("ListObjectVersions", None, None),
    "uploads": ("ListMultipartUploads", None, None),
}
_S3_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "attributes": ("GetObjectAttributes", None, None),
    "uploadId": ("ListParts", "UploadPart", "AbortMultipartUpload"),
}
_S3_PLAIN = {  # method -> (bucket operation, object operation)
    "GET": ("ListObjects", "GetObject"),
    "HEAD": ("HeadBucket", "HeadObject"),
    "PUT": ("CreateBucket", "PutObject"),
    "DELETE": ("DeleteBucket", "DeleteObject"),
}

# The request parameter naming the resource an operation acts on, in order of
# preference: faults in a row are counted per operation + this target.
TARGET_PARAMS = (
    "DBInstanceIdentifier", "ReplicationGroupId", "CacheClusterId", "CacheSubnetGroupName",
    "DBSubnetGroupName", "DBParameterGroupName", "StreamName", "StreamARN", "NatGatewayId",
    "VpcEndpointId", "VpcEndpointIds", "FlowLogId", "FlowLogIds", "SubnetId", "GroupId",
    "GroupName", "AllocationId", "PublicIp", "InternetGatewayId", "RouteTableId", "VpcId",
    "RoleName", "PolicyArn", "PolicyName", "KeyId", "TargetKeyId", "AliasName", "logGroupName",
    "logGroupNamePrefix", "SecretId", "Name", "TopicArn", "AlarmName", "AlarmNames",
    "ResourceARN", "ResourceName", "ResourceArn", "ResourceId", "ResourceIds", "selectionId",
    "backupPlanId", "backupVaultName", "resourceArn",
)


@dataclass
class Request:
    protocol: str | None  # "ec2", "query", "json", "rest-json", "cbor", "s3" or None (not an AWS API call we know)
    service: str | None
    operation: str | None
    region: str
    access_key: str | None
    params: dict = field(default_factory=dict)
    target: str = ""
    content_type: str = ""

    @property
    def name(self) -> str | None:
        if not self.operation:
            return None
        return f"{self.service or '?'}:{self.operation}"


# =============================================================== identification
def _read_body(environ: dict) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return stream.read(length)
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _rewind(environ: dict, body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    if body or environ.get("CONTENT_LENGTH"):
        environ["CONTENT_LENGTH"] = str(len(body))


def identify(environ: dict) -> Request:
    """Service, operation, region and parameters of an AWS API request."""
    path = environ.get("PATH_INFO") or "/"
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    scope = _SCOPE.search(auth)
    access_key, region, service = scope.groups() if scope else (None, None, None)
    region = region or "us-east-1"
    if service == "s3":
        return _s3_request(environ, path, region, access_key)
    target = (environ.get("HTTP_X_AMZ_TARGET") or "").strip()
    content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    cbor = _CBOR_PATH.match(path)
    method = environ.get("REQUEST_METHOD", "GET")

    if cbor and method == "POST" and (environ.get("HTTP_SMITHY_PROTOCOL") or "").strip() == "rpc-v2-cbor":
        body = _read_body(environ)
        _rewind(environ, body)
        params: dict = {}
        try:
            import cbor2

            raw = body
            if (environ.get("HTTP_CONTENT_ENCODING") or "").strip().lower() == "gzip":
                raw = gzip.decompress(raw)
            decoded = cbor2.loads(raw) if raw else {}
            params = decoded if isinstance(decoded, dict) else {}
        except Exception:  # noqa: BLE001 - the CBOR front reports bad bodies
            params = {}
        return _finish(Request("cbor", service or _CBOR_SERVICES.get(cbor["service"], cbor["service"]),
                               cbor["operation"], region, access_key, params))
    if target:
        body = _read_body(environ)
        _rewind(environ, body)
        prefix, _, operation = target.rpartition(".")
        try:
            decoded = json.loads(body) if body.strip() else {}
        except ValueError:
            decoded = {}
        return _finish(Request("json", service or _TARGET_SERVICES.get(prefix, prefix.lower() or None),
                               operation or None, region, access_key,
                               decoded if isinstance(decoded, dict) else {},
                               content_type=content_type))
    query = environ.get("QUERY_STRING") or ""
    if content_type == "application/x-www-form-urlencoded" or "Action=" in query:
        body = b""
        if content_type == "application/x-www-form-urlencoded":
            body = _read_body(environ)
            _rewind(environ, body)
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            pass
        operation = params.get("Action")
        return _finish(Request("ec2" if service == "ec2" else "query", service, operation, region,
                               access_key, params))
    rest = _rest_request(environ, path, method, service, region, access_key, content_type)
    return rest or Request(None, service, None, region, access_key)


# A REST service's operations as routes: (method, path pattern, required query keys, name).
_REST_ROUTES: dict[str, list[tuple[str, re.Pattern, tuple[str, ...], str]]] = {}
_REST_LOCK = threading.Lock()


def _rest_routes(service: str) -> list[tuple[str, re.Pattern, tuple[str, ...], str]]:
    """The routes of `service` from botocore's model (empty unless it speaks rest-json or
    rest-xml), most specific first: literal text before labels, a `{label+}` last."""
    with _REST_LOCK:
        if service in _REST_ROUTES:
            return _REST_ROUTES[service]
        routes = []
        try:
            import botocore.session

            model = botocore.session.get_session().get_service_model(service)
        except Exception:  # noqa: BLE001 - an unknown service is one we do not name
            model = None
        if model is not None and model.protocol in ("rest-json", "rest-xml"):
            for name in model.operation_names:
                http = model.operation_model(name).http
                uri, _, query = http["requestUri"].partition("?")
                pattern, literal = "", 0
                for piece in re.split(r"(\{[^}]+\})", uri.rstrip("/")):
                    if piece.startswith("{"):
                        label = re.sub(r"\W", "_", piece.strip("{}+"))
                        pattern += f"(?P<{label}>.+)" if piece.endswith("+}") else f"(?P<{label}>[^/]+)"
                    else:
                        pattern += re.escape(piece)
                        literal += len(piece)
                keys = tuple(k.partition("=")[0] for k in query.split("&") if k)
                greedy = "+}" in uri
                routes.append((http["method"], re.compile(f"^{pattern}/?$"), keys, name, literal, greedy))
            routes.sort(key=lambda r: (-len(r[2]), r[5], -r[4]))
        _REST_ROUTES[service] = [r[:4] for r in routes]
        return _REST_ROUTES[service]


def _rest_request(environ: dict, path: str, method: str, service: str | None, region: str,
                  access_key: str | None, content_type: str) -> Request | None:
    """A REST-JSON call (AWS Backup, GuardDuty, Security Hub) named by the method and path
    botocore's model gives each operation, with its path labels, query and body as params."""
    if not service:
        return None
    query = dict(parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True))
    for verb, pattern, keys, name in _rest_routes(service):
        match = pattern.match(path) if verb == method else None
        if match is None or any(k not in query for k in keys):
            continue
        params: dict = {**query, **match.groupdict()}
        if method in ("POST", "PUT", "PATCH"):
            body = _read_body(environ)
            _rewind(environ, body)
            try:
                decoded = json.loads(body) if body.strip() else {}
            except ValueError:
                decoded = {}
            if isinstance(decoded, dict):
                params.update(decoded)
        return _finish(Request("rest-json", service, name, region, access_key, params,
                               content_type=content_type))
    return None


def _s3_request(environ: dict, path: str, region: str, access_key: str | None) -> Request:
    # WSGI hands the path over percent-decoded, as latin-1; object keys are UTF-8.
    path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    bucket, _, key = path.lstrip("/").partition("/")
    query = dict(parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True))
    method = environ.get("REQUEST_METHOD", "GET").upper()
    params = {"Bucket": bucket, **({"Key": key} if key else {})}
    request = Request("s3", "s3", _s3_operation(method, bucket, key, query, environ), region,
                      access_key, params)
    # Faults in a row are counted per object (the lock and the state are two keys of one bucket).
    request.target = f"Key={bucket}/{key}" if key else f"Bucket={bucket}" if bucket else ""
    return request


def _s3_operation(method: str, bucket: str, key: str, query: dict, environ: dict) -> str | None:
    if query.get("x-id"):
        return query["x-id"]
    if not bucket:
        return "ListBuckets" if method == "GET" else None
    if method == "POST":
        if "delete" in query:
            return "DeleteObjects"
        if key and "uploads" in query:
            return "CreateMultipartUpload"
        if key and "uploadId" in query:
            return "CompleteMultipartUpload"
        return None
    slot = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}.get(method)
    if slot is None:
        return None
    table = _S3_OBJECT_SUBRESOURCES if key else _S3_BUCKET_SUBRESOURCES
    for subresource, operations in table.items():
        if subresource in query and method != "HEAD":
            return operations[slot]
    if not key and method == "GET" and query.get("list-type") == "2":
        return "ListObjectsV2"
    if key and method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return "CopyObject"
    return _S3_PLAIN[method][1 if key else 0]


def _finish(request: Request) -> Request:
    for name in TARGET_PARAMS:
        for key, value in request.params.items():
            if key == name or key.startswith(name + "."):
                request.target = f"{name}={value if isinstance(value, str) else json.dumps(value, default=str)}"
                return request
    return request


def account_of(environ: dict, access_key: str | None) -> str:
    """The moto account a request acts in (the same resolution moto uses)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key or "AKIAEXAMPLE")


# =================================================================== errors
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}


def render_error(start_response: Callable, request: Request, status: int, code: str,
                 message: str, fault: str | None = None) -> Iterable[bytes]:
    """An AWS error in the request's own protocol."""
    request_id = str(uuid.uuid4())
    sender = "Receiver" if status >= 500 else "Sender"
    headers: list[tuple[str, str]] = []
    if request.protocol == "s3":
        # S3's errors are a bare <Error> document; the request id is also a header of its own.
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                f"</Error>").encode("utf-8")
        headers += [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    elif request.protocol == "ec2":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                f"<Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>").encode("utf-8")
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif request.protocol == "query":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>"
                f"<Type>{sender}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode("utf-8")
        headers.append(("Content-Type", "text/xml"))
    elif request.protocol == "cbor":
        import cbor2

        from .cbor_front import SERVICES, service_model, smithy_namespace

        namespace = smithy_namespace(service_model(SERVICES["GraniteServiceVersion20100801"]))
        json_code = "ThrottlingException" if code == "Throttling" else code
        body = cbor2.dumps({"__type": f"{namespace}#{json_code}", "message": message})
        headers += [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor"),
                    ("x-amzn-query-error", f"{code};{sender}")]
    else:
        body = json.dumps({"__type": code, "message": message}).encode("utf-8")
        content_type = (request.content_type if request.content_type.startswith("application/x-amz-json")
                        else "application/json" if request.protocol == "rest-json"
                        else "application/x-amz-json-1.1")
        headers += [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
    headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
    if fault:
        headers.append(("x-medtech-fault", fault))
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [body]


def fault_error(kind: str, request: Request) -> tuple[int, str, str]:
    """(status, code, message) of an injected fault for this protocol."""
    if kind == "throttle":
        if request.protocol == "s3":
            return 503, "SlowDown", "Please reduce your request rate."
        if request.protocol == "ec2":
            return 503, "RequestLimitExceeded", "Request limit exceeded."
        if request.protocol == "query":
            return 400, "Throttling", "Rate exceeded"
        if request.protocol == "cbor":
            return 400, "Throttling", "Rate exceeded"
        return 400, "ThrottlingException", "Rate exceeded"
    code = "InternalError" if request.protocol in ("ec2", "s3") else "InternalFailure"
    return 500, code, "We encountered an internal error. Please try again."


# =================================================================== faults
# The user-agent app id of the tests' own SDK clients (tests/e2e/common.rs). They read back what
# medtech did; a fault on their reads would test the SDK's retries, not medtech, and is never drawn.
OBSERVER_APP = "app/medtech-test-observer"


def is_observer(environ: dict) -> bool:
    agents = (environ.get("HTTP_USER_AGENT") or "") + " " + (environ.get("HTTP_X_AMZ_USER_AGENT") or "")
    return OBSERVER_APP in agents


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(0)
        self.streaks: dict[tuple, int] = {}

    def reset(self, behaviour: Behaviour) -> None:
        with self.lock:
            self.rng = random.Random(behaviour.seed)
            self.streaks.clear()

    def decide(self, behaviour: Behaviour, request: Request) -> str | None:
        if not behaviour.faulty or not request.operation:
            return None
        ops = behaviour.fault_operations
        if (ops is not None and request.operation not in ops and request.name not in ops
                and f"{request.service}:*" not in ops):
            return None
        with self.lock:
            # Always two draws, so the sequence depends only on the seed and the request order.
            roll = self.rng.random()
            kind = behaviour.faults[self.rng.randrange(len(behaviour.faults))]
            key = (request.service, request.operation, request.target)
            if roll >= behaviour.fault_rate:
                self.streaks.pop(key, None)
                return None
            streak = self.streaks.get(key, 0)
            if streak >= behaviour.max_consecutive_faults:
                self.streaks.pop(key, None)  # this one goes through
                return None
            self.streaks[key] = streak + 1
            return kind


# ==================================================================== stats
class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.since = time.time()
        self.operations: dict[str, dict] = {}
        # Requests received and still in their modeled latency, by operation: a test can act
        # once a client's request is on its way, instead of guessing how long it takes to start.
        self.waiting: dict[str, int] = {}

    @contextlib.contextmanager
    def wait(self, name: str | None):
        with self.lock:
            self.waiting[name] = self.waiting.get(name, 0) + 1
        try:
            yield
        finally:
            with self.lock:
                self.waiting[name] -= 1
                if not self.waiting[name]:
                    del self.waiting[name]

    def reset(self) -> None:
        with self.lock:
            self.since = time.time()
            self.operations = {}

    def _entry(self, name: str) -> dict:
        entry = self.operations.get(name)
        if entry is None:
            entry = {"requests": 0, "faults": {k: 0 for k in FAULT_KINDS}, "rewritten": 0,
                     "refused": 0}
            self.operations[name] = entry
        return entry

    def count(self, name: str | None, fault: str | None = None, rewritten: bool = False,
              refused: bool = False, request: bool = True) -> None:
        if not name:
            return
        with self.lock:
            entry = self._entry(name)
            if request:
                entry["requests"] += 1
            if fault:
                entry["faults"][fault] += 1
            if rewritten:
                entry["rewritten"] += 1
            if refused:
                entry["refused"] += 1

    def snapshot(self) -> dict:
        with self.lock:
            operations = json.loads(json.dumps(self.operations))
            since = self.since
            waiting = dict(self.waiting)
        totals = {"requests": 0, "faults": {k: 0 for k in FAULT_KINDS}, "rewritten": 0, "refused": 0}
        for entry in operations.values():
            totals["requests"] += entry["requests"]
            totals["rewritten"] += entry["rewritten"]
            totals["refused"] += entry["refused"]
            for kind, n in entry["faults"].items():
                totals["faults"][kind] += n
        return {"since": since, "operations": operations, "totals": totals, "waiting": waiting}


# ==================================================================== front
def _call(app: Callable, environ: dict) -> tuple[str, list, Any, bytes]:
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list, exc_info: Any = None):
        captured["status"] = status
        captured["headers"] = headers
        captured["exc_info"] = exc_info
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], captured.get("exc_info"), b"".join(chunks)


def _json_reply(start_response: Callable, status: int, payload: Any) -> Iterable[bytes]:
    body = json.dumps(payload, indent=1, sort_keys=True).encode("utf-8")
    start_response(f"{status} {_REASONS.get(status, 'Error')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class BehaviourFront:
    """WSGI middleware: latency model driver, fault injector, stats and control endpoints."""

    def __init__(self, app: Callable, behaviour: Behaviour | None = None, model: Model = MODEL):
        self.app = app
        self.model = model
        self.faults = Faults()
        self.stats = Stats()
        self.set_behaviour(behaviour or Behaviour())

    @property
    def behaviour(self) -> Behaviour:
        return self.model.behaviour

    def set_behaviour(self, behaviour: Behaviour) -> None:
        self.faults.reset(behaviour)
        self.model.set_behaviour(behaviour)

    # ------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path)
        if path.startswith(MOTO_API_PREFIX):
            result = self.app(environ, start_response)
            if path.rstrip("/") == "/moto-api/reset":
                self.model.forget_resources()
            return result

        request = identify(environ)
        behaviour = self.behaviour
        latency = behaviour.latency_of(request.service)
        if latency and request.operation:
            with self.stats.wait(request.name):
                time.sleep(latency)
        if behaviour.is_default and not self.model.jobs:
            self.stats.count(request.name)
            return self.app(environ, start_response)

        self.model.tick()
        fault = None if is_observer(environ) else self.faults.decide(behaviour, request)
        self.stats.count(request.name, fault=fault)
        if fault in ("throttle", "server_error"):
            if request.protocol == "s3":
                # Unread, an object's body would be cut off by the connection's close, and the
                # client could see that reset instead of the error.
                _read_body(environ)
            status, code, message = fault_error(fault, request)
            return render_error(start_response, request, status, code, message, fault)

        self.model.begin()
        try:
            status_line, headers, _, body = _call(self.app, environ)
        finally:
            ctx = self.model.end()
        if fault == "lost_response":
            status, code, message = fault_error(fault, request)
            return render_error(start_response, request, status, code, message, fault)

        status = int(status_line.split()[0])
        if ctx is not None:
            # Only a Describe/List response counts as the client *seeing* a state.
            if (self.model.active and request.operation
                    and request.operation.startswith(("Describe", "List"))):
                self.model.commit(request.operation, request.params,
                                  account_of(environ, request.access_key), request.region, ctx,
                                  status)
            self.stats.count(request.name, request=False, rewritten=ctx.rewritten,
                             refused=bool(ctx.refused) and status >= 400)
        start_response(status_line, headers)
        return [body]

    # ------------------------------------------------------------------
    def _control(self, environ: dict, start_response: Callable, path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = path[len(CONTROL_PREFIX):].strip("/")
        if route == "behaviour":
            if method == "GET":
                return _json_reply(start_response, 200, self.behaviour.to_json())
            if method in ("POST", "PUT"):
                body = _read_body(environ)
                try:
                    behaviour = Behaviour.from_text(body.decode("utf-8") if body.strip() else "{}")
                except (BehaviourError, UnicodeDecodeError) as exc:
                    return _json_reply(start_response, 400, {"error": str(exc)})
                self.set_behaviour(behaviour)
                return _json_reply(start_response, 200, behaviour.to_json())
        elif route == "stats" and method == "GET":
            self.model.tick()
            stats = self.stats.snapshot()
            with self.model.lock:
                stats["timeline"] = [dict(e) for e in self.model.timeline]
            stats["behaviour"] = self.behaviour.to_json()
            return _json_reply(start_response, 200, stats)
        elif route == "clock":
            if method == "POST":
                try:
                    self._set_clock(json.loads(_read_body(environ) or b"{}"))
                except ValueError as exc:  # a body that is not JSON, or a bad field
                    return _json_reply(start_response, 400, {"error": str(exc)})
            if method in ("GET", "POST"):
                return _json_reply(start_response, 200, self.model.clock())
        elif route == "stats/reset" and method == "POST":
            self.stats.reset()
            self.model.reset_timeline()
            return _json_reply(start_response, 200, {"reset": True})
        elif route == "crowd" and method == "POST":
            body = _read_body(environ)
            from moto.core.exceptions import ServiceException, _RESTError

            try:
                made = crowd(json.loads(body) if body.strip() else {})
            except (CrowdError, ValueError) as exc:
                return _json_reply(start_response, 400, {"error": str(exc)})
            except ServiceException as exc:  # e.g. EntityAlreadyExists: that team is there already
                return _json_reply(start_response, 409, {"error": f"{exc.code}: {exc.message}"})
            except _RESTError as exc:
                return _json_reply(start_response, 409, {"error": f"{exc.error_type}: {exc.message}"})
            return _json_reply(start_response, 200, made)
        elif route in CREDENTIAL_ROUTES and method == "POST":
            return self._credentials(environ, start_response, route)
        else:
            return _json_reply(start_response, 404, {"error": f"no such endpoint: {path}",
                                                     "endpoints": ["GET/POST /_medtech/behaviour",
                                                                   "GET/POST /_medtech/clock",
                                                                   "GET /_medtech/stats",
                                                                   "POST /_medtech/stats/reset",
                                                                   "POST /_medtech/crowd",
                                                                   "POST /_medtech/credentials/check",
                                                                   "POST /_medtech/secrets/backdate"]})
        return _json_reply(start_response, 405, {"error": f"{method} not allowed on {path}"})

    def _set_clock(self, doc: Any) -> None:
        """``{"stopped": bool}`` and/or ``{"stop_when_done": {"kind", "id"}}``."""
        if not isinstance(doc, dict) or not set(doc) <= {"stopped", "stop_when_done"}:
            raise ValueError('the clock takes {"stopped": true|false} and/or '
                             '{"stop_when_done": {"kind": ..., "id": ...}}')
        when = doc.get("stop_when_done")
        if when is not None:
            if not (isinstance(when, dict) and set(when) == {"kind", "id"}
                    and when["kind"] in FINAL and isinstance(when["id"], str)):
                raise ValueError(f'stop_when_done: {{"kind": one of {sorted(FINAL)}, '
                                 f'"id": "<resource id>"}}')
        stopped = doc.get("stopped")
        if stopped is not None and not isinstance(stopped, bool):
            raise ValueError("stopped: true or false")
        if when is not None:
            self.model.stop_when_done(when["kind"], when["id"])
        if stopped:
            self.model.stop()
        elif stopped is False:
            self.model.start_clock()
        self.model.tick()

    def _credentials(self, environ: dict, start_response: Callable, route: str) -> Iterable[bytes]:
        """What AWS holds now, not what medtech logged: modifications due are applied first."""
        self.model.tick()
        body = _read_body(environ)
        try:
            doc = json.loads(body) if body.strip() else {}
            if route == "credentials/check":
                answer = credentials.check(doc)
            else:
                count = credentials.backdate(doc)
                answer = None if count is None else {"versions": count}
        except ValueError as exc:  # CredentialsError, or a body that is not JSON
            return _json_reply(start_response, 400, {"error": str(exc)})
        if answer is None:
            # Never the candidate value: it may be a real secret.
            what = (f"{doc['service']} resource {doc['id']}" if route == "credentials/check"
                    else f"secret {doc['secret_id']}")
            return _json_reply(start_response, 404, {"error": f"no such {what}"})
        return _json_reply(start_response, 200, answer)
