"""Kinesis Data Streams: server-side encryption needs a KMS key that exists.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* ``StartStreamEncryption`` with ``EncryptionType=KMS`` and a ``KeyId`` (key
  id, key ARN, alias name, alias ARN, or the AWS managed ``alias/aws/kinesis``)
  that does not exist fails with ``KMSNotFoundException``; a disabled key with
  ``KMSDisabledException``; a key in another state (pending deletion, ...)
  with ``KMSInvalidStateException``.  moto stores any string.  The stream keeps
  reporting ``KeyId`` exactly as given, as Kinesis does.
* ``CreateStream`` applies its ``Tags`` parameter (Kinesis has taken tags at
  creation since 2023, so a stream is never untagged, even briefly); moto
  ignores it.
* ``ListStreams`` pages with ``NextToken`` (and ``Limit``, default 100) as
  Kinesis does; moto only knows the old ``ExclusiveStartStreamName`` and
  returns ``HasMoreStreams`` with no token, so paginating SDKs stop after the
  first ten streams.
"""
from __future__ import annotations

import functools

from ._kms import find_key


def apply() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.kinesis.models import KinesisBackend

    orig = KinesisBackend.start_stream_encryption

    @functools.wraps(orig)
    def start_stream_encryption(self, stream_arn, stream_name, encryption_type, key_id):
        if encryption_type == "KMS":
            key = find_key(self.account_id, self.region_name, str(key_id or ""), allow_alias=True)
            if key is None:
                raise JsonRESTError("KMSNotFoundException",
                                    f"KMS key {key_id} does not exist or is not accessible.")
            state = getattr(key, "key_state", "Enabled")
            if state == "Disabled":
                raise JsonRESTError("KMSDisabledException", f"KMS key {key_id} is disabled.")
            if state != "Enabled":
                raise JsonRESTError("KMSInvalidStateException",
                                    f"KMS key {key_id} is in state {state}.")
        return orig(self, stream_arn, stream_name, encryption_type, key_id)

    KinesisBackend.start_stream_encryption = start_stream_encryption

    from moto.kinesis.responses import KinesisResponse

    orig_create = KinesisResponse.create_stream

    @functools.wraps(orig_create)
    def create_stream(self):
        result = orig_create(self)
        tags = self._get_param("Tags")
        if tags:
            self.kinesis_backend.add_tags_to_stream(None, self._get_param("StreamName"), tags)
        return result

    KinesisResponse.create_stream = create_stream

    def list_streams(self):
        import base64
        import json

        from moto.core.responses import ActionResult

        names = [stream.stream_name for stream in self.kinesis_backend.list_streams()]
        limit = int(self._get_param("Limit") or 100)
        token = self._get_param("NextToken")
        after = self._get_param("ExclusiveStartStreamName")
        if token:
            after = base64.b64decode(token).decode()
        start = names.index(after) + 1 if after in names else 0
        page = names[start:start + limit]
        more = start + limit < len(names)
        result = {
            "HasMoreStreams": more,
            "StreamNames": page,
            "StreamSummaries": [
                s.to_json_summary()["StreamDescriptionSummary"]
                for s in self.kinesis_backend.list_streams()
                if s.stream_name in page
            ],
        }
        if more:
            result["NextToken"] = base64.b64encode(page[-1].encode()).decode()
        return ActionResult(result)

    KinesisResponse.list_streams = list_streams
