"""Proof that STS names callers, and KMS describes keys, as AWS does (patches_sts.py,
patches_kms.py).

medtech writes the runner's ARN from ``GetCallerIdentity`` into its secrets' resource
policies, and a compliance scanner reads both that policy and each key's ``MultiRegion``:
moto's ``arn:aws:sts::ACCOUNT:user/moto`` names no principal AWS has, and its
``MultiRegion: null`` is not a boolean.
"""
from __future__ import annotations

import json

import boto3

from conftest import REGION
from test_emulator import ACCOUNT


def test_the_default_caller_is_an_iam_user_and_sessions_keep_their_sts_arn(emulator, aws, uid):
    sts, iam = aws("sts"), aws("iam")
    me = sts.get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/moto"
    assert me["Account"] == ACCOUNT

    iam.create_user(UserName=f"user-{uid}")
    key = iam.create_access_key(UserName=f"user-{uid}")["AccessKey"]
    as_user = boto3.session.Session(
        region_name=REGION, aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"]).client("sts", endpoint_url=emulator)
    assert as_user.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/user-{uid}"

    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName=f"runner-{uid}", AssumeRolePolicyDocument=trust)
    session = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/runner-{uid}",
                              RoleSessionName="ci")["Credentials"]
    as_role = boto3.session.Session(
        region_name=REGION, aws_access_key_id=session["AccessKeyId"],
        aws_secret_access_key=session["SecretAccessKey"],
        aws_session_token=session["SessionToken"]).client("sts", endpoint_url=emulator)
    assert as_role.get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/runner-{uid}/ci"


def test_a_key_is_multi_region_only_when_created_so(aws):
    kms = aws("kms")
    single = kms.create_key(Description="single")["KeyMetadata"]
    assert single["MultiRegion"] is False
    assert kms.describe_key(KeyId=single["KeyId"])["KeyMetadata"]["MultiRegion"] is False
    multi = kms.create_key(Description="multi", MultiRegion=True)["KeyMetadata"]
    described = kms.describe_key(KeyId=multi["KeyId"])["KeyMetadata"]
    assert described["MultiRegion"] is True
    assert described["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
