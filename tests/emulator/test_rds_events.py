"""Proof that RDS event subscriptions behave as RDS's do (patches_rds.py, "Event subscriptions").

RDS checks a subscription's topic, source type, categories and sources when it is created or
changed, and reports in ``Status`` whether it can deliver: a topic encrypted with a KMS key
whose policy does not let ``events.rds.amazonaws.com`` use it is accepted, and its events are
dropped (``no-permission``).
"""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import REGION

ACCOUNT = "123456789012"
RDS_EVENTS = "events.rds.amazonaws.com"


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def parameter_group(rds, uid) -> str:
    name = f"pg-events-{uid}"
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="postgres16",
                                  Description="d")
    return name


def status_of(rds, name) -> str:
    return rds.describe_event_subscriptions(SubscriptionName=name)[
        "EventSubscriptionsList"][0]["Status"]


def root_statement() -> dict:
    return {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*", "Resource": "*"}


def rds_statement(account: str = ACCOUNT) -> dict:
    return {"Sid": "RdsEvents", "Effect": "Allow", "Principal": {"Service": RDS_EVENTS},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account},
                          "ArnLike": {"aws:SourceArn": f"arn:aws:rds:{REGION}:{account}:*"}}}


def key_policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_create_checks_what_rds_checks(aws, uid):
    rds, sns = aws("rds"), aws("sns")
    topic = sns.create_topic(Name=f"events-{uid}")["TopicArn"]
    group = parameter_group(rds, uid)
    bad = [
        ({"SnsTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:missing-{uid}"}, "SNSTopicArnNotFound"),
        ({"SourceType": "db-parameter-group", "EventCategories": ["failure"]},
         "SubscriptionCategoryNotFound"),
        ({"SourceType": "db-instance", "EventCategories": ["lowstorage"]},
         "SubscriptionCategoryNotFound"),
        ({"SourceType": "db-instance", "SourceIds": [f"missing-{uid}"]}, "SourceNotFound"),
        ({"SourceType": "db-parameter-group", "SourceIds": [f"missing-{uid}"]}, "SourceNotFound"),
        ({"EventCategories": ["failure"]}, "InvalidParameterCombination"),
        ({"SourceType": "db-bogus"}, "InvalidParameterValue"),
    ]
    for i, (params, code) in enumerate(bad):
        with pytest.raises(ClientError) as err:
            rds.create_event_subscription(SubscriptionName=f"bad-{i}-{uid}",
                                          **{"SnsTopicArn": topic, **params})
        assert code_of(err) == code, params
    names = {s["CustSubscriptionId"] for s in rds.describe_event_subscriptions()[
        "EventSubscriptionsList"]}
    assert not any(n.startswith("bad-") and n.endswith(uid) for n in names)

    created = rds.create_event_subscription(
        SubscriptionName=f"pg-{uid}", SnsTopicArn=topic, SourceType="db-parameter-group",
        EventCategories=["configuration change"], SourceIds=[group])["EventSubscription"]
    # Enabled unless the request says otherwise; an unencrypted topic with SNS's default
    # policy lets the account's RDS publish.
    assert created["Enabled"] is True
    assert created["Status"] == "active"
    assert created["SourceIdsList"] == [group]
    # DB security groups without a source: every one of the account's.
    sg = rds.create_event_subscription(
        SubscriptionName=f"sg-{uid}", SnsTopicArn=topic, SourceType="db-security-group",
        EventCategories=["configuration change", "failure"], Enabled=False)["EventSubscription"]
    assert (sg["Enabled"], sg["SourceIdsList"]) == (False, [])


def test_modify_and_source_identifiers(aws, uid):
    rds, sns = aws("rds"), aws("sns")
    topic = sns.create_topic(Name=f"events-{uid}")["TopicArn"]
    other = sns.create_topic(Name=f"other-{uid}")["TopicArn"]
    group = parameter_group(rds, uid)
    name = f"inst-{uid}"
    rds.create_event_subscription(SubscriptionName=name, SnsTopicArn=topic,
                                  SourceType="db-parameter-group",
                                  EventCategories=["configuration change"])

    modified = rds.modify_event_subscription(
        SubscriptionName=name, SnsTopicArn=other, Enabled=False)["EventSubscription"]
    assert (modified["SnsTopicArn"], modified["Enabled"]) == (other, False)
    assert modified["EventCategoriesList"] == ["configuration change"]
    modified = rds.modify_event_subscription(
        SubscriptionName=name, SourceType="db-instance", EventCategories=["failover", "low storage"],
        Enabled=True)["EventSubscription"]
    assert modified["SourceType"] == "db-instance"
    assert sorted(modified["EventCategoriesList"]) == ["failover", "low storage"]
    assert modified["Enabled"] is True
    for params, code in [
        ({"EventCategories": ["configuration  change"]}, "SubscriptionCategoryNotFound"),
        ({"SnsTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:missing-{uid}"}, "SNSTopicArnNotFound"),
    ]:
        with pytest.raises(ClientError) as err:
            rds.modify_event_subscription(SubscriptionName=name, **params)
        assert code_of(err) == code
    with pytest.raises(ClientError) as err:
        rds.modify_event_subscription(SubscriptionName=f"missing-{uid}", Enabled=True)
    assert code_of(err) == "SubscriptionNotFound"

    # Sources, checked against the subscription's type.
    pg_name = f"pg-{uid}"
    rds.create_event_subscription(SubscriptionName=pg_name, SnsTopicArn=topic,
                                  SourceType="db-parameter-group")
    added = rds.add_source_identifier_to_subscription(
        SubscriptionName=pg_name, SourceIdentifier=group)["EventSubscription"]
    assert added["SourceIdsList"] == [group]
    with pytest.raises(ClientError) as err:
        rds.add_source_identifier_to_subscription(SubscriptionName=pg_name,
                                                  SourceIdentifier=f"missing-{uid}")
    assert code_of(err) == "SourceNotFound"
    removed = rds.remove_source_identifier_from_subscription(
        SubscriptionName=pg_name, SourceIdentifier=group)["EventSubscription"]
    assert removed["SourceIdsList"] == []
    with pytest.raises(ClientError) as err:
        rds.remove_source_identifier_from_subscription(SubscriptionName=pg_name,
                                                       SourceIdentifier=group)
    assert code_of(err) == "SourceNotFound"


def test_status_says_whether_rds_can_deliver_to_an_encrypted_topic(aws, uid):
    rds, sns, kms = aws("rds"), aws("sns"), aws("kms")
    key = kms.create_key(Policy=key_policy(root_statement()))["KeyMetadata"]["KeyId"]
    topic = sns.create_topic(Name=f"encrypted-{uid}",
                             Attributes={"KmsMasterKeyId": key})["TopicArn"]
    group = parameter_group(rds, uid)
    name = f"enc-{uid}"
    # Accepted, but the key's policy does not let RDS use it: the events are dropped.
    created = rds.create_event_subscription(
        SubscriptionName=name, SnsTopicArn=topic, SourceType="db-parameter-group",
        EventCategories=["configuration change"], SourceIds=[group])["EventSubscription"]
    assert created["Status"] == "no-permission"

    kms.put_key_policy(KeyId=key, PolicyName="default",
                       Policy=key_policy(root_statement(), rds_statement()))
    assert status_of(rds, name) == "active"
    # Scoped to another account, or denied, the statement lets this account's RDS do nothing.
    kms.put_key_policy(KeyId=key, PolicyName="default",
                       Policy=key_policy(root_statement(), rds_statement("210987654321")))
    assert status_of(rds, name) == "no-permission"
    deny = {**rds_statement(), "Sid": "Deny", "Effect": "Deny", "Action": "kms:Decrypt"}
    kms.put_key_policy(KeyId=key, PolicyName="default",
                       Policy=key_policy(root_statement(), rds_statement(), deny))
    assert status_of(rds, name) == "no-permission"
    kms.put_key_policy(KeyId=key, PolicyName="default",
                       Policy=key_policy(root_statement(), rds_statement()))
    assert status_of(rds, name) == "active"

    # A topic policy that lets only the owner publish shuts RDS out too.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "SNS:Publish", "Resource": topic}]}))
    assert status_of(rds, name) == "no-permission"
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": RDS_EVENTS}, "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:pg:*"}}}]}))
    assert status_of(rds, name) == "active"

    sns.delete_topic(TopicArn=topic)
    assert status_of(rds, name) == "topic-not-exist"


def test_the_tagging_api_lists_subscriptions(aws, uid):
    rds, sns = aws("rds"), aws("sns")
    topic = sns.create_topic(Name=f"events-{uid}")["TopicArn"]
    arn = rds.create_event_subscription(
        SubscriptionName=f"tagged-{uid}", SnsTopicArn=topic, SourceType="db-instance",
        EventCategories=["failure"], Tags=[{"Key": "Environment", "Value": uid}],
    )["EventSubscription"]["EventSubscriptionArn"]
    assert arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:es:tagged-{uid}"
    listed = aws("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "Environment", "Values": [uid]}], ResourceTypeFilters=["rds:es"])
    assert [(m["ResourceARN"], m["Tags"]) for m in listed["ResourceTagMappingList"]] == [
        (arn, [{"Key": "Environment", "Value": uid}])]
    rds.delete_event_subscription(SubscriptionName=f"tagged-{uid}")
    with pytest.raises(ClientError) as err:
        rds.describe_event_subscriptions(SubscriptionName=f"tagged-{uid}")
    assert code_of(err) == "SubscriptionNotFound"
