"""S3: the answers the AWS SDK for Rust parses strictly.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* ``GetBucketVersioning`` answers with the root element ``VersioningConfiguration``
  (empty for a bucket that never had versioning).  moto names the root
  ``GetBucketVersioningResponse``, which boto3 tolerates but the Rust SDK rejects
  as an unexpected document, so a state bucket's versioning could not be read.
* ``GetBucketLifecycleConfiguration`` answers under ``LifecycleConfiguration`` and
  ``GetBucketTagging`` under ``Tagging``; moto names both roots
  ``<Operation>Response``, so ``state bootstrap`` could not read a bucket's
  lifecycle rules or tags.
* ``ListObjectsV2`` answers under ``ListBucketResult`` and ``ListObjectVersions``
  under ``ListVersionsResult``; moto names both roots ``<Operation>Response``.
* ``HeadBucket`` on a bucket another account owns is ``403`` (S3 does not say
  whose it is); moto answered ``200``, so ``state bootstrap`` would have adopted
  another account's bucket instead of stopping.
* A bucket policy statement conditioned on ``aws:SecureTransport`` applies as
  to a request made over TLS, as every SDK's request to S3 is: the usual
  "deny when ``aws:SecureTransport`` is false" statement lets requests through.
  moto ignores ``Bool`` conditions, so that statement denied every object
  request to the bucket (this emulator is reached over plain HTTP only because
  it is local).
* A refused conditional request (``If-Match``, ``If-None-Match``) is
  ``412 PreconditionFailed``, and a conditional write racing another on the same
  key ``409 ConditionalRequestConflict``.  Behind this emulator's model loader moto
  sent both as 400, which no client recognises as a failed condition.
* A conditional write is atomic: of ``If-None-Match: *`` puts of one key racing
  each other, exactly one succeeds, and an ``If-Match`` put or delete sees the
  object as the last write left it.  moto checks the condition and then stores,
  with nothing between, so on its threaded server two racing lock takers both won.
* Under IAM enforcement, each bucket call is checked as the IAM action AWS
  checks: ``HeadBucket`` as ``s3:ListBucket``; Get/Put of default encryption as
  ``s3:GetEncryptionConfiguration``/``s3:PutEncryptionConfiguration``, of the
  public access block as ``s3:GetBucketPublicAccessBlock``/``s3:PutBucketPublicAccessBlock``
  and of ownership controls as ``s3:GetBucketOwnershipControls``/
  ``s3:PutBucketOwnershipControls``.  moto checked ``s3:HeadBucket`` and fell back
  to ``s3:ListBucket``/``s3:CreateBucket`` for the others (its key
  ``public_access_block`` never matches the ``publicAccessBlock`` query).
"""
from __future__ import annotations

import functools
import json
import threading

# moto's root element -> AWS's, per operation whose answer moto names after itself.
_ROOTS = {
    "get_bucket_versioning": (b"GetBucketVersioningResponse", b"VersioningConfiguration"),
    "get_bucket_lifecycle": (b"GetBucketLifecycleConfigurationResponse", b"LifecycleConfiguration"),
    "get_bucket_tags": (b"GetBucketTaggingResponse", b"Tagging"),
}
_LISTINGS = {
    b"<ListObjectsV2Response": b"<ListBucketResult",
    b"</ListObjectsV2Response>": b"</ListBucketResult>",
    b"<ListObjectVersionsResponse": b"<ListVersionsResult",
    b"</ListObjectVersionsResponse>": b"</ListVersionsResult>",
}
_STATUS = {"PreconditionFailed": 412, "ConditionalRequestConflict": 409}


# Query key -> IAM action, per method, for bucket calls moto checks under another name.
_BUCKET_ACTIONS = {
    "GET": {
        "encryption": "GetEncryptionConfiguration",
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "ownershipControls": "GetBucketOwnershipControls",
    },
    "PUT": {
        "encryption": "PutEncryptionConfiguration",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "ownershipControls": "PutBucketOwnershipControls",
    },
}


def apply() -> None:
    from moto.s3 import responses as s3_responses
    from moto.s3.responses import S3Response

    bucket = s3_responses.ACTION_MAP["BUCKET"]
    bucket["HEAD"]["DEFAULT"] = "ListBucket"
    for method, actions in _BUCKET_ACTIONS.items():
        bucket[method].update(actions)

    from moto.core.serialize import S3Serializer

    for name, (moto_root, aws_root) in _ROOTS.items():
        _rename_root(S3Response, name, {moto_root: aws_root})
    _rename_root(S3Response, "_bucket_response_get", _LISTINGS)
    _foreign_head_is_403(S3Response)
    _object_writes_are_atomic(S3Response)
    _requests_come_over_tls()

    original_error = S3Serializer._serialized_error_to_response

    @functools.wraps(original_error)
    def _serialized_error_to_response(self, resp, error, shape, serialized_error):
        resp = original_error(self, resp, error, shape, serialized_error)
        status = _STATUS.get(getattr(error, "code", None))
        if status is not None:
            resp["status_code"] = status
        return resp

    S3Serializer._serialized_error_to_response = _serialized_error_to_response


def _object_writes_are_atomic(cls) -> None:
    # One lock for every object write: the condition and the store happen as one step.
    writes = threading.Lock()
    for name in ("put_object", "delete_object"):
        original = getattr(cls, name)

        @functools.wraps(original)
        def write(self, _original=original):
            with writes:
                return _original(self)

        setattr(cls, name, write)


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


def _foreign_head_is_403(cls) -> None:
    from moto.s3.exceptions import MissingBucket

    original = cls.head_bucket

    @functools.wraps(original)
    def head_bucket(self):
        try:
            bucket = self.backend.get_bucket(self.bucket_name)
        except MissingBucket:
            return original(self)
        if bucket.account_id != self.current_account:
            return 403, {}, ""
        return original(self)

    cls.head_bucket = head_bucket


def _requests_come_over_tls() -> None:
    from moto.iam.access_control import IAMPolicy
    from moto.s3.models import FakeBucket

    original = FakeBucket.get_permission

    def applies_over_tls(statement) -> bool:
        wanted = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if wanted is None:
            return True
        values = wanted if isinstance(wanted, list) else [wanted]
        return any(str(v).lower() == "true" for v in values)

    @functools.wraps(original)
    def get_permission(self, action, resource):
        if self.policy is None:
            return original(self, action, resource)
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        applicable = [s for s in statements if applies_over_tls(s)]
        if len(applicable) == len(statements):
            return original(self, action, resource)
        return IAMPolicy(json.dumps({**policy, "Statement": applicable})).is_action_permitted(
            action, resource)

    FakeBucket.get_permission = get_permission
