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
* ``ListTagsForStream`` pages as Kinesis does: at most ``Limit`` tags (1-50,
  default 10) in key order, after ``ExclusiveStartTagKey`` (exclusive), with
  ``HasMoreTags`` when more follow.  moto returns every tag when no ``Limit``
  is given and repeats the start key, so a client that ignores
  ``HasMoreTags`` never loses tags here.  A ``Limit`` outside 1-50 is
  ``ValidationException``.
* ``UpdateShardCount`` enforces the API reference's default limits: a target
  above double, or below half, the current open shard count is
  ``LimitExceededException``, and so is an eleventh scaling of one stream in a
  rolling 24 hours.  moto reshards to any count, any number of times.
"""
from __future__ import annotations

import functools
import threading
import time

from ._kms import find_key

TAG_PAGE_DEFAULT = 10
TAG_PAGE_MAX = 50
SCALINGS_PER_DAY = 10
DAY_SECONDS = 24 * 3600

_scalings_lock = threading.Lock()


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

    orig_list_tags = KinesisBackend.list_tags_for_stream

    @functools.wraps(orig_list_tags)
    def list_tags_for_stream(self, stream_arn, stream_name, exclusive_start_tag_key=None,
                             limit=None):
        if limit is None:
            limit = TAG_PAGE_DEFAULT
        limit = int(limit)
        if not 1 <= limit <= TAG_PAGE_MAX:
            raise JsonRESTError(
                "ValidationException",
                f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
                f"constraint: Member must have value {'less' if limit > 1 else 'greater'} "
                f"than or equal to {TAG_PAGE_MAX if limit > 1 else 1}")
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        keys = sorted(stream.tags)
        if exclusive_start_tag_key:
            keys = [k for k in keys if k > exclusive_start_tag_key]
        page = keys[:limit]
        return {"HasMoreTags": len(keys) > limit,
                "Tags": [{"Key": k, "Value": stream.tags[k]} for k in page]}

    KinesisBackend.list_tags_for_stream = list_tags_for_stream

    orig_update = KinesisBackend.update_shard_count

    @functools.wraps(orig_update)
    def update_shard_count(self, stream_arn, stream_name, target_shard_count):
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        current = len([s for s in stream.shards.values() if s.is_open])
        target = int(target_shard_count)
        if target > 2 * current:
            raise JsonRESTError(
                "LimitExceededException",
                f"UpdateShardCount cannot scale up over double your current open shard count. "
                f"Current open shard count: {current} Target shard count: {target}")
        if 2 * target < current:
            raise JsonRESTError(
                "LimitExceededException",
                f"UpdateShardCount cannot scale down below half your current open shard count. "
                f"Current open shard count: {current} Target shard count: {target}")
        now = time.time()
        with _scalings_lock:
            # Kept on the stream: a stream deleted and created again starts afresh.
            recent = [t for t in getattr(stream, "_medtech_scalings", []) if now - t < DAY_SECONDS]
            if len(recent) >= SCALINGS_PER_DAY:
                raise JsonRESTError(
                    "LimitExceededException",
                    f"Rate exceeded for stream {stream.stream_name} under account "
                    f"{self.account_id}: UpdateShardCount was called {len(recent)} times in the "
                    f"last 24 hours, the limit is {SCALINGS_PER_DAY}.")
            result = orig_update(self, stream_arn, stream_name, target)
            recent.append(now)
            stream._medtech_scalings = recent
        return result

    KinesisBackend.update_shard_count = update_shard_count
