"""IAM enforcement that the Rust SDK can pass: policies decide, as on AWS.

moto 5.2.5 evaluates identity policies once its IAM authorization is switched on
(``POST /moto-api/reset-auth`` with the body ``0`` as ``text/plain``, or
``INITIAL_NO_AUTH_ACTION_COUNT=0`` in the server's environment). As shipped, that mode
cannot serve the AWS SDK for Rust or check medtech's policy:

* moto recomputes each SigV4 signature with botocore and gets a different one for the
  SDK's valid requests, so every call fails (``SignatureDoesNotMatch``, EC2 ``AuthFailure``).
  Here the signature is not recomputed; the access key must still belong to an IAM user
  (or an STS session), as on AWS.
* Keys no IAM user owns (the tests' ``testing`` keys) are refused outright. Here they act as
  the account's root user, which identity policies do not restrict on AWS either, so a test
  can set up users and read back through the SDK while enforcement is on.
* moto names the action after the SigV4 signing name. IAM does not always: CloudWatch signs
  as ``monitoring`` but its actions are ``cloudwatch:*``, the Resource Groups Tagging API
  signs as ``tagging`` but its actions are ``tag:*``.
* A refusal comes back as an IAM-style XML ``AccessDenied`` whatever the client speaks; the
  SDK cannot parse that from a JSON-protocol service. Here it comes back as AWS sends it:
  ``AccessDeniedException`` (HTTP 400, JSON) from JSON-protocol services, ``UnauthorizedOperation``
  (403, EC2 XML) from EC2, ``AuthorizationError`` (403) from SNS, ``AccessDenied`` (403,
  query XML) from the other query services. The message names the action, as AWS's does.
* For IAM role and policy calls moto checks the resource only when the role already exists
  and otherwise checks against ``*``. Here the resource is the ARN AWS evaluates: the role's
  or policy's ARN from its name (and path) even before it exists, so policy statements
  scoped to ``role/medtech-*`` or ``policy/medtech-*`` are checked for real.

Not modelled (moto never evaluates them): resource ARNs of services other than IAM (every
other request is checked against ``*``), conditions (they pass), permissions a service checks
on the caller's behalf (``iam:PassRole``, ``iam:CreateServiceLinkedRole``, ``kms:CreateGrant``,
``kms:GenerateDataKey`` for an encrypted create), and resource-based policies (key policies).
"""
from __future__ import annotations

import json
from typing import Any

# SigV4 signing name -> IAM action prefix, where they differ.
ACTION_PREFIX = {
    "monitoring": "cloudwatch",
    "tagging": "tag",
}

# Query-protocol services whose refusal code is not IAM's "AccessDenied".
QUERY_CODES = {
    "sns": "AuthorizationError",
}


def _refusal(service: str, content_type: str, arn: str, action: str) -> Exception:
    from werkzeug.exceptions import HTTPException
    from xml.sax.saxutils import escape

    message = (f"User: {arn} is not authorized to perform: {action} "
               f"because no identity-based policy allows the {action} action")
    if content_type.startswith("application/x-amz-json") or content_type.startswith("application/json"):
        status, body = 400, json.dumps({"__type": "AccessDeniedException", "message": message})
    elif service == "ec2":
        status = 403
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                "<Code>UnauthorizedOperation</Code>"
                f"<Message>You are not authorized to perform this operation. {escape(message)}</Message>"
                "</Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>")
    else:
        status = 403
        code = QUERY_CODES.get(service, "AccessDenied")
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>"
                f"<Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
                "</Error><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>")
    error = HTTPException(description=body)
    error.code = status
    return error


class RootAccessKey:
    """The account's root user: identity policies do not restrict it."""

    def __init__(self, account_id: str, partition: str, access_key_id: str):
        self.account_id = account_id
        self.partition = partition
        self._access_key_id = access_key_id

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def collect_policies(self) -> list:
        return []


def apply() -> None:
    from moto.iam import access_control, responses

    orig_create_access_key = access_control.create_access_key

    def create_access_key(account_id: str, partition: str, access_key_id: str, headers: dict):
        try:
            return orig_create_access_key(account_id=account_id, partition=partition,
                                          access_key_id=access_key_id, headers=headers)
        except access_control.CreateAccessKeyFailure as failure:
            # STS session keys (ASIA…) must be real; a plain key no user owns is root.
            if failure.reason == "InvalidId" and not access_key_id.startswith("ASIA"):
                return RootAccessKey(account_id, partition, access_key_id)
            raise

    access_control.create_access_key = create_access_key

    base = access_control.IAMRequestBase
    orig_init = base.__init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        prefix, _, name = self._action.partition(":")
        if prefix in ACTION_PREFIX:
            self._action = f"{ACTION_PREFIX[prefix]}:{name}"

    def check_signature(self) -> None:
        # The key was looked up in __init__ (unknown STS keys were refused there); the SDK's
        # signature itself is trusted.
        return None

    orig_check_action_permitted = base.check_action_permitted

    def check_action_permitted(self, resource: str) -> None:
        if isinstance(self._access_key, RootAccessKey):
            return None
        return orig_check_action_permitted(self, resource)

    base.__init__ = __init__
    base.check_signature = check_signature
    base.check_action_permitted = check_action_permitted

    def _raise_access_denied(self) -> None:
        content_type = ""
        for key, value in self._headers.items():
            if key.lower() == "content-type":
                content_type = value or ""
        raise _refusal(self._service, content_type, self._access_key.arn, self._action)

    access_control.IAMRequest._raise_access_denied = _raise_access_denied

    def _determine_resource(self) -> str:
        data = self.data
        partition = self.partition
        account = self.current_account

        def first(key: str) -> str | None:
            value = data.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            return value or None

        role = first("RoleName")
        if role:
            try:
                return self.backend.get_role(role).arn
            except Exception:  # noqa: BLE001 - moto's NotFound: the ARN it will have
                path = first("Path") or "/"
                return f"arn:{partition}:iam::{account}:role{path}{role}"
        policy_arn = first("PolicyArn")
        if policy_arn:
            return policy_arn
        policy = first("PolicyName")
        if policy and self._get_action() == "CreatePolicy":
            path = first("Path") or "/"
            return f"arn:{partition}:iam::{account}:policy{path}{policy}"
        return "*"

    responses.IamResponse._determine_resource = _determine_resource
