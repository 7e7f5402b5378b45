"""Smithy RPCv2 CBOR front for services moto only serves over awsJson1.0.

Real AWS behaviour reproduced
-----------------------------
``aws-sdk-cloudwatch`` (Rust) 1.100.0 and later speak the Smithy RPCv2 CBOR
protocol (``smithy.protocols#rpcv2Cbor``) to CloudWatch, as the real service
does.  A request is::

    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    smithy-protocol: rpc-v2-cbor
    Content-Type: application/cbor          (absent when the body is empty)
    Accept: application/cbor
    x-amzn-query-mode: true                 (CloudWatch is @awsQueryCompatible)
    <CBOR map of the input members; timestamps tag 1 epoch-seconds; blobs byte strings>

and the real service answers with the same ``smithy-protocol`` header,
``Content-Type: application/cbor`` and a CBOR map of the output members.
Errors keep their HTTP status; the body is a CBOR map holding ``__type``
(the error shape id, ``com.amazonaws.cloudwatch#ResourceNotFound``) and the
error members (``message``), and because CloudWatch is query-compatible the
``x-amzn-query-error: <query code>;<Sender|Receiver>`` header carries the
code the SDK matches on (``ResourceNotFound``, ``InvalidParameterValue``, ...).

moto 5.2.5 serves CloudWatch over query/XML and awsJson1.0 only (its
maintainers do not plan CBOR: getmoto/moto#9195), so this middleware
translates: CBOR request -> awsJson1.0 request (``X-Amz-Target:
GraniteServiceVersion20100801.<Op>``) -> moto -> JSON reply -> CBOR reply.

The reply is encoded *by the operation's output shape* from botocore's service
model, because the Rust decoder is strict: ``double`` members must be CBOR
floats, ``integer``/``long`` members CBOR integers, timestamps tag 1, blobs
byte strings.  JSON cannot say which is which; the model can.  The translation
is generic: every operation of every service in ``SERVICES`` works.
"""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import cbor2

# Smithy service name (the first path segment, also the awsJson target prefix)
# -> botocore service name.
SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

_PATH = re.compile(r"^/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)/?$")
CBOR = "application/cbor"

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def service_model(botocore_name: str):
    with _models_lock:
        model = _models.get(botocore_name)
        if model is None:
            import botocore.session

            model = botocore.session.get_session().get_service_model(botocore_name)
            _models[botocore_name] = model
        return model


def smithy_namespace(model) -> str:
    """``com.amazonaws.cloudwatch`` for CloudWatch (AWS service shape namespace)."""
    return "com.amazonaws." + model.metadata["serviceId"].lower().replace(" ", "")


# ---------------------------------------------------------------- request side
def cbor_to_json(value: Any) -> Any:
    """A decoded CBOR value -> what the awsJson1.0 protocol carries."""
    if isinstance(value, dict):
        return {str(k): cbor_to_json(v) for k, v in value.items()
                if v is not None and v is not cbor2.undefined}
    if isinstance(value, list):
        return [cbor_to_json(v) for v in value]
    if isinstance(value, dt.datetime):  # tag 1 (or tag 0), decoded by cbor2
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        raise ValueError(f"unsupported CBOR tag {value.tag}")
    return value


# --------------------------------------------------------------- response side
def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    text = str(value)
    try:
        return float(text)
    except ValueError:
        from dateutil import parser

        parsed = parser.isoparse(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.timestamp()


def json_to_cbor(value: Any, shape) -> Any:
    """An awsJson1.0 value -> the CBOR value the RPCv2 protocol wants for ``shape``."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                encoded = json_to_cbor(value[name], member)
                if encoded is not None:
                    out[name] = encoded
        return out
    if kind == "list":
        return [json_to_cbor(v, shape.member) for v in value]
    if kind == "map":
        return {str(k): json_to_cbor(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, _epoch(value))
    if kind == "blob":
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind in ("integer", "long", "short", "byte", "bigInteger"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    return str(value)


class CborFront:
    """WSGI middleware: Smithy RPCv2 CBOR in front of moto's awsJson1.0 handlers."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        match = _PATH.match(environ.get("PATH_INFO", "") or "")
        if (match is None or match["service"] not in SERVICES
                or environ.get("REQUEST_METHOD") != "POST"
                or (environ.get("HTTP_SMITHY_PROTOCOL") or "").strip() != "rpc-v2-cbor"):
            return self.app(environ, start_response)
        return self._handle(environ, start_response, match["service"], match["operation"])

    # ------------------------------------------------------------------
    def _handle(self, environ: dict, start_response: Callable, service: str,
                operation: str) -> Iterable[bytes]:
        model = service_model(SERVICES[service])
        namespace = smithy_namespace(model)
        try:
            op_model = model.operation_model(operation)
        except Exception:  # botocore OperationNotFoundError
            return self._error(start_response, 404, namespace, "UnknownOperationException",
                               f"Unknown operation {operation}", None)

        body = _read_body(environ)
        if (environ.get("HTTP_CONTENT_ENCODING") or "").strip().lower() == "gzip":
            # The SDK gzips large PutMetricData bodies (@requestCompression).
            try:
                body = gzip.decompress(body)
            except OSError as exc:
                return self._error(start_response, 400, namespace, "SerializationException",
                                   f"Could not gunzip the request body: {exc}", None)
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip()
        if body and content_type != CBOR:
            return self._error(start_response, 415, namespace, "UnsupportedMediaTypeException",
                               f"Content-Type must be {CBOR}", None)
        try:
            decoded = cbor2.loads(body) if body else {}
            if not isinstance(decoded, dict):
                raise ValueError("the body must be a CBOR map")
            params = cbor_to_json(decoded)
        except Exception as exc:  # noqa: BLE001
            return self._error(start_response, 400, namespace, "SerializationException",
                               f"Could not decode the CBOR request body: {exc}", None)

        json_body = json.dumps(params).encode("utf-8")
        inner = dict(environ)
        inner.update({
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(json_body)),
            "wsgi.input": io.BytesIO(json_body),
            "HTTP_X_AMZ_TARGET": f"{service}.{operation}",
        })
        for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT", "HTTP_CONTENT_ENCODING",
                    "HTTP_TRANSFER_ENCODING"):
            inner.pop(key, None)
        if not inner.get("HTTP_AUTHORIZATION"):
            # moto server routes (and picks the region) by the SigV4 credential
            # scope; give an unsigned request the scope a signed one would have.
            # moto does not check signatures.
            region = environ.get("HTTP_X_MEDTECH_REGION", "us-east-1")
            inner["HTTP_AUTHORIZATION"] = (
                f"AWS4-HMAC-SHA256 Credential=testing/20000101/{region}/"
                f"{model.signing_name}/aws4_request, SignedHeaders=host, Signature=unsigned")

        status, headers, payload = _call(self.app, inner)
        request_id = _header(headers, "x-amzn-requestid") or str(uuid.uuid4())

        if 200 <= status < 300:
            try:
                data = json.loads(payload) if payload.strip() else {}
            except ValueError:
                return self._error(start_response, 500, namespace, "InternalServiceFault",
                                   "medtech-emulator: moto returned a non-JSON reply",
                                   model, request_id)
            out_shape = op_model.output_shape
            reply = b"" if out_shape is None else cbor2.dumps(json_to_cbor(data, out_shape))
            return _respond(start_response, status, reply, request_id)

        # ---- error
        try:
            err = json.loads(payload) if payload.strip() else {}
        except ValueError:
            err = {}
        type_name = str(err.get("__type") or "")
        message = err.get("message") or err.get("Message") or ""
        query_error = _header(headers, "x-amzn-query-error")
        code = query_error.split(";", 1)[0] if query_error else type_name.split("#")[-1]
        return self._error(start_response, status, namespace, code or "InternalServiceError",
                           message, model, request_id, shape_hint=type_name.split("#")[-1],
                           query_error=query_error)

    @staticmethod
    def _error(start_response: Callable, status: int, namespace: str, code: str, message: str,
               model, request_id: str | None = None, shape_hint: str = "",
               query_error: str | None = None) -> Iterable[bytes]:
        shape_name, member = code, "message"
        if model is not None:
            shape = _error_shape(model, shape_hint, code)
            if shape is not None:
                shape_name = shape.name
                if "Message" in shape.members and "message" not in shape.members:
                    member = "Message"
                meta = shape.metadata.get("error", {})
                if not query_error and meta.get("code"):
                    fault = "Sender" if meta.get("senderFault") else "Receiver"
                    query_error = f"{meta['code']};{fault}"
        if not query_error and model is not None and model.metadata.get("awsQueryCompatible") is not None:
            query_error = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
        body = {"__type": f"{namespace}#{shape_name}"}
        if message:
            body[member] = str(message)
        extra = [("x-amzn-query-error", query_error)] if query_error else []
        return _respond(start_response, status, cbor2.dumps(body), request_id or str(uuid.uuid4()),
                        extra)


def _error_shape(model, shape_hint: str, code: str):
    """The model's error shape for a moto error: by shape name, else by query error code."""
    names = {s.name: s for s in model.error_shapes}
    if shape_hint in names:
        return names[shape_hint]
    for shape in model.error_shapes:
        if shape.metadata.get("error", {}).get("code") == code:
            return shape
    return names.get(code)


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


def _call(app: Callable, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list, exc_info: Any = None):
        captured["status"] = status
        captured["headers"] = headers
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(captured["status"].split()[0]), list(captured["headers"]), b"".join(chunks)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 415: "Unsupported Media Type", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def _respond(start_response: Callable, status: int, body: bytes, request_id: str,
             extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
    headers = [("smithy-protocol", "rpc-v2-cbor"),
               ("Content-Type", CBOR),
               ("Content-Length", str(len(body))),
               ("x-amzn-RequestId", request_id)]
    headers += extra or []
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [body]
