"""S3: the answers the AWS SDK for Rust parses strictly.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* ``GetBucketVersioning`` answers with the root element ``VersioningConfiguration``
  (empty for a bucket that never had versioning).  moto names the root
  ``GetBucketVersioningResponse``, which boto3 tolerates but the Rust SDK rejects
  as an unexpected document, so a state bucket's versioning could not be read.
* ``ListObjectsV2`` answers under ``ListBucketResult`` and ``ListObjectVersions``
  under ``ListVersionsResult``; moto names both roots ``<Operation>Response``.
* A refused conditional request (``If-Match``, ``If-None-Match``) is
  ``412 PreconditionFailed``, and a conditional write racing another on the same
  key ``409 ConditionalRequestConflict``.  Behind this emulator's model loader moto
  sent both as 400, which no client recognises as a failed condition.
"""
from __future__ import annotations

import functools

# moto's root element -> AWS's, per operation whose answer moto names after itself.
_ROOTS = {
    "get_bucket_versioning": (b"GetBucketVersioningResponse", b"VersioningConfiguration"),
}
_LISTINGS = {
    b"<ListObjectsV2Response": b"<ListBucketResult",
    b"</ListObjectsV2Response>": b"</ListBucketResult>",
    b"<ListObjectVersionsResponse": b"<ListVersionsResult",
    b"</ListObjectVersionsResponse>": b"</ListVersionsResult>",
}
_STATUS = {"PreconditionFailed": 412, "ConditionalRequestConflict": 409}


def apply() -> None:
    from moto.s3.responses import S3Response

    from moto.core.serialize import S3Serializer

    for name, (moto_root, aws_root) in _ROOTS.items():
        _rename_root(S3Response, name, {moto_root: aws_root})
    _rename_root(S3Response, "_bucket_response_get", _LISTINGS)

    original_error = S3Serializer._serialized_error_to_response

    @functools.wraps(original_error)
    def _serialized_error_to_response(self, resp, error, shape, serialized_error):
        resp = original_error(self, resp, error, shape, serialized_error)
        status = _STATUS.get(getattr(error, "code", None))
        if status is not None:
            resp["status_code"] = status
        return resp

    S3Serializer._serialized_error_to_response = _serialized_error_to_response


def _rename_root(cls, name: str, renames: dict[bytes, bytes]) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def renamed(self, *args, **kwargs):
        answer = original(self, *args, **kwargs)
        if not (isinstance(answer, tuple) and len(answer) == 3):
            return answer
        status, headers, body = answer
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, bytes):
            for old, new in renames.items():
                body = body.replace(old, new)
        return status, headers, body

    setattr(cls, name, renamed)
