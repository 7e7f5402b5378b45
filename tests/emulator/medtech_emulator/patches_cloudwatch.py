"""CloudWatch alarms: lifecycle as real CloudWatch has it.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* A new metric alarm starts in ``INSUFFICIENT_DATA`` ("Unchecked: Initial
  alarm creation") until CloudWatch has evaluated it; moto starts it in ``OK``.
* ``PutMetricAlarm`` on an existing alarm overwrites its configuration but
  leaves its state unchanged, and ignores ``Tags`` (AWS API reference:
  "If you are using this operation to update an existing alarm, any tags you
  specify in this parameter are ignored"); moto resets the state and merges tags.
* ``DeleteAlarms`` deletes the alarm's tags with it (moto keeps them, so a
  re-created alarm would inherit old tags).
* ``ListTagsForResource`` / ``UntagResource`` on an alarm ARN that does not
  exist fail with ``ResourceNotFoundException``; moto returns an empty list,
  and ``UntagResource`` fails on an existing alarm that has no tags yet.
"""
from __future__ import annotations

import functools

INITIAL_STATE = "INSUFFICIENT_DATA"


def apply() -> None:
    from moto.cloudwatch.exceptions import ResourceNotFoundException
    from moto.cloudwatch.models import CloudWatchBackend

    orig_put = CloudWatchBackend.put_metric_alarm
    orig_delete = CloudWatchBackend.delete_alarms
    orig_list_tags = CloudWatchBackend.list_tags_for_resource
    orig_untag = CloudWatchBackend.untag_resource

    @functools.wraps(orig_put)
    def put_metric_alarm(self, name, *args, **kwargs):
        existing = self.alarms.get(name)
        if existing is not None:
            kwargs["tags"] = None  # tags are ignored on update
        alarm = orig_put(self, name, *args, **kwargs)
        if existing is None:
            alarm.state_value = INITIAL_STATE
            alarm.state_reason = "Unchecked: Initial alarm creation"
            alarm.state_reason_data = "{}"
        else:
            alarm.state_value = existing.state_value
            alarm.state_reason = existing.state_reason
            alarm.state_reason_data = existing.state_reason_data
            alarm.state_updated_timestamp = existing.state_updated_timestamp
            alarm.history = existing.history
        return alarm

    @functools.wraps(orig_delete)
    def delete_alarms(self, alarm_names):
        arns = [self.alarms[n].alarm_arn for n in alarm_names if n in self.alarms]
        result = orig_delete(self, alarm_names)
        for arn in arns:
            if not any(a.alarm_arn == arn for a in self.alarms.values()):
                self.tagger.delete_all_tags_for_resource(arn)
        return result

    def _known(self, arn: str) -> bool:
        if any(a.alarm_arn == arn for a in self.alarms.values()):
            return True
        # Other taggable CloudWatch resources moto tracks (insight rules).
        return ":alarm:" not in arn and arn in self.tagger.tags

    @functools.wraps(orig_list_tags)
    def list_tags_for_resource(self, arn):
        if not _known(self, arn):
            raise ResourceNotFoundException
        return orig_list_tags(self, arn)

    @functools.wraps(orig_untag)
    def untag_resource(self, arn, tag_keys):
        if not _known(self, arn):
            raise ResourceNotFoundException
        self.tagger.untag_resource_using_names(arn, tag_keys)

    CloudWatchBackend.put_metric_alarm = put_metric_alarm
    CloudWatchBackend.delete_alarms = delete_alarms
    CloudWatchBackend.list_tags_for_resource = list_tags_for_resource
    CloudWatchBackend.untag_resource = untag_resource
