"""IAM: AWS managed policies exist, as they do in every real account.

Real-AWS behaviour reproduced (moto 5.2.5 differs):

* Every account sees the AWS managed policies (``arn:aws:iam::aws:policy/...``):
  ``GetPolicy`` / ``GetPolicyVersion`` return them and ``AttachRolePolicy``
  accepts them.  moto ships their documents but loads them only when
  ``MOTO_IAM_LOAD_MANAGED_POLICIES=true``; otherwise ``AttachRolePolicy`` with
  ``service-role/AmazonRDSEnhancedMonitoringRole`` (the role RDS enhanced
  monitoring needs) fails with ``NoSuchEntity``.  The emulator always loads
  them (about 0.2 s per account, on the account's first IAM call).
* ``service-role/AmazonRDSEnhancedMonitoringRole`` is guaranteed present with
  AWS's published document (v1): ``logs:CreateLogGroup`` and
  ``logs:PutRetentionPolicy`` on ``arn:aws:logs:*:*:log-group:RDS*``, and
  ``logs:CreateLogStream``, ``logs:PutLogEvents``, ``logs:DescribeLogStreams``,
  ``logs:GetLogEvents`` on ``arn:aws:logs:*:*:log-group:RDS*:log-stream:*``.
* ``GetAccountAuthorizationDetails`` pages as AWS does: at most ``MaxItems``
  entries (default 100, 1-1000) across the user, group and role detail lists
  and the policies, with ``IsTruncated`` and a ``Marker`` for the next page.
  moto returns the whole account in one answer, however large, so a client
  that reads it looks as cheap in a crowded account as in an empty one.
  (``ListRoles`` and ``ListPolicies`` already page like AWS in moto: 100 by
  default, ``Marker``/``IsTruncated``.)
"""
from __future__ import annotations

import functools

RDS_MONITORING_POLICY = {
    "CreateDate": "2015-11-11T19:58:29+00:00",
    "DefaultVersionId": "v1",
    "Path": "/service-role/",
    "UpdateDate": "2015-11-11T19:58:29+00:00",
    "Document": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogGroups",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                "Resource": ["arn:aws:logs:*:*:log-group:RDS*"],
            },
            {
                "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogStreams",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                           "logs:DescribeLogStreams", "logs:GetLogEvents"],
                "Resource": ["arn:aws:logs:*:*:log-group:RDS*:log-stream:*"],
            },
        ],
    },
}
REQUIRED = {"AmazonRDSEnhancedMonitoringRole": RDS_MONITORING_POLICY}

# GetAccountAuthorizationDetails' lists, in the order a page takes its entries from them.
_DETAIL_LISTS = (("users", "UserDetailList"), ("groups", "GroupDetailList"),
                 ("roles", "RoleDetailList"), ("managed_policies", "Policies"))


def _paged_authorization_details(self):
    """``GetAccountAuthorizationDetails``, one page of ``MaxItems`` entries."""
    from moto.core.responses import ActionResult
    from moto.iam.exceptions import ValidationError

    max_items = self._get_int_param("MaxItems", 100)
    if not 1 <= max_items <= 1000:
        raise ValidationError(f"1 validation error detected: Value '{max_items}' at 'maxItems' "
                              "failed to satisfy constraint: Member must have value less than "
                              "or equal to 1000")
    marker = self._get_param("Marker")
    try:
        start = int(marker) if marker else 0
    except ValueError:
        raise ValidationError("Invalid Marker.") from None
    details = self.backend.get_account_authorization_details(self._get_param("Filter", []))
    entries = [(key, item) for source, key in _DETAIL_LISTS for item in details[source]]
    page = entries[start:start + max_items]
    result = {key: [item for k, item in page if k == key] for _, key in _DETAIL_LISTS}
    truncated = start + max_items < len(entries)
    result["IsTruncated"] = truncated
    if truncated:
        result["Marker"] = str(start + max_items)
    return ActionResult(result)


def apply() -> None:
    import moto.iam.models as iam_models
    from moto.iam.models import AWSManagedPolicy, IAMBackend

    orig_init_policies = IAMBackend._init_aws_policies

    @functools.wraps(orig_init_policies)
    def _init_aws_policies(self):
        # Load moto's full AWS-managed set regardless of the setting...
        saved = iam_models.load_iam_aws_managed_policies
        iam_models.load_iam_aws_managed_policies = lambda: True
        try:
            policies = orig_init_policies(self)
        finally:
            iam_models.load_iam_aws_managed_policies = saved
        # ...and make sure the ones this stack relies on are there.
        present = {p.name for p in policies}
        for name, data in REQUIRED.items():
            if name not in present:
                policies.append(AWSManagedPolicy.from_data(name, self.account_id,
                                                           self.region_name, data))
        return policies

    IAMBackend._init_aws_policies = _init_aws_policies

    from moto.iam.responses import IamResponse

    IamResponse.get_account_authorization_details = _paged_authorization_details
