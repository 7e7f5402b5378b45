"""Secrets Manager: a secret's value is only as readable as the KMS key it is encrypted with.

Real-AWS behaviour reproduced (moto 5.2.5 never looks at the key):

* Each version of a secret is encrypted with the KMS key the secret names when that version
  is written (``KmsKeyId``: key id, key ARN, alias or alias ARN, resolved at that moment; no
  key means the AWS managed key ``aws/secretsmanager``, which is always usable). Pointing an
  alias elsewhere later does not re-encrypt anything.
* ``GetSecretValue`` of a version whose key is disabled, pending deletion or deleted fails
  with ``DecryptionFailure`` ("Secrets Manager can't decrypt the protected secret text using
  the provided KMS key"). ``BatchGetSecretValue`` lists such a secret in its ``Errors`` with
  that code, and returns the others.
* ``CreateSecret``, ``PutSecretValue`` and ``UpdateSecret`` with a value, under a key that is
  disabled or pending deletion, fail with ``EncryptionFailure``.
* ``UpdateSecret`` with a new ``KmsKeyId`` re-encrypts the versions that carry a staging
  label (``AWSCURRENT``, ``AWSPENDING``, ``AWSPREVIOUS``): it needs to decrypt them with their
  old key (``DecryptionFailure`` otherwise) and to encrypt with the new one
  (``EncryptionFailure``).

``RestoreSecret`` does not touch the key: a secret restored while its key is pending deletion
is live again, and its value still unreadable.

Versions and staging labels, as AWS keeps them (moto 5.2.5 differs where noted):

* A label is on one version at a time. ``PutSecretValue`` with ``VersionStages`` moves just
  those labels; with ``AWSCURRENT`` among them the version that had it gets ``AWSPREVIOUS``
  and keeps its other labels (moto replaced all of them by ``AWSPREVIOUS``).
* ``PutSecretValue`` with a ``ClientRequestToken`` that names a version already: the same value
  succeeds and changes nothing, another value is ``ResourceExistsException`` -- also for the
  version holding ``AWSPENDING`` (moto overwrote that one's value and date). A version moto's
  own ``RotateSecret`` made without a value is still filled in.
* ``UpdateSecretVersionStage``: moving a label another version holds needs
  ``RemoveFromVersionId`` naming that version (``InvalidParameterException``; moto checked only
  ``AWSCURRENT``, and otherwise put the label on two versions); a ``RemoveFromVersionId`` that
  does not hold the label is ``InvalidParameterException``. Moving ``AWSCURRENT`` moves
  ``AWSPREVIOUS`` to the version it left, and ``GetSecretValue`` without a version then reads
  the new ``AWSCURRENT`` (moto kept reading the old one).
* ``ListSecretVersionIds`` reports each version's own ``CreatedDate`` (moto: the time of the
  call), ``LastAccessedDate`` (the day of its last ``GetSecretValue``; absent if never read),
  the secret's real ARN (moto: the id as given), only versions with a label unless
  ``IncludeDeprecated``, pages by ``MaxResults``/``NextToken``, and an unknown secret is
  ``ResourceNotFoundException`` (moto: a crash). ``DescribeSecret``'s ``VersionIdsToStages``
  lists only versions with a label, and ``LastAccessedDate`` is the day of the last read.

Resource policies, under IAM enforcement (patches_iam_auth.py; moto never reads them):

* An explicit ``Deny`` in the secret's resource policy refuses a call on that secret
  (``AccessDeniedException``) to the principals it applies to, the account's root user
  included, whatever their identity policies allow. Evaluated: ``Principal`` (``*``, or
  ``AWS`` ARNs or account ids), ``Action`` and ``Resource`` with wildcards, and conditions on
  ``aws:PrincipalArn`` with ``StringEquals``/``StringNotEquals``/``StringLike``/
  ``StringNotLike``/``ArnEquals``/``ArnNotEquals``/``ArnLike``/``ArnNotLike``; the principal
  of a role session is its role's ARN. A statement with anything else (``NotPrincipal``,
  ``NotAction``, other condition keys or operators) is not applied. ``Allow`` statements
  grant nothing here (identity policies decide), and ``BatchGetSecretValue`` is not checked.
"""
from __future__ import annotations

import fnmatch
import functools
import json
import time

from ._kms import find_key
from .credentials import DAY, LAST_ACCESSED

# Where a version keeps the ARN of the key it was encrypted with (None: AWS managed key).
KEY_OF_VERSION = "medtech_kms_key_arn"
LABELS = ("AWSCURRENT", "AWSPENDING", "AWSPREVIOUS")


def _failure(code: str, message: str) -> Exception:
    from moto.secretsmanager.exceptions import InvalidRequestException, SecretsManagerClientError

    # An InvalidRequestException for moto's BatchGetSecretValue, which lists those in its
    # Errors; the wire code is AWS's.
    class KeyFailure(InvalidRequestException):
        def __init__(self) -> None:
            SecretsManagerClientError.__init__(self, code, message)

    return KeyFailure()


def _key_ref(backend, ref):
    """The key ARN that ``ref`` names now; None for the AWS managed key, or an unknown key."""
    if not ref or ref == backend.DEFAULT_KMS_KEY_ALIAS:
        return None
    key = find_key(backend.account_id, backend.region_name, ref)
    return key.arn if key is not None else None


def _why_unusable(backend, arn) -> str | None:
    """Why the key at ``arn`` cannot be used now, or None when it can (or is AWS managed)."""
    if arn is None:
        return None
    key = find_key(backend.account_id, backend.region_name, arn, allow_alias=False)
    if key is None:
        return f"the KMS key {arn} does not exist"
    if key.key_state == "PendingDeletion":
        return f"{arn} is pending deletion"
    if key.key_state != "Enabled":
        return f"{arn} is {key.key_state.lower()}"
    return None


def _decryption_failure(why: str) -> Exception:
    return _failure("DecryptionFailure",
                    f"Secrets Manager can't decrypt the protected secret text using the provided "
                    f"KMS key: {why}.")


def _encryption_failure(why: str) -> Exception:
    return _failure("EncryptionFailure",
                    f"Secrets Manager can't encrypt the protected secret text using the provided "
                    f"KMS key: {why}. Check that the KMS key is available, enabled, and not in "
                    f"an invalid state.")


def apply() -> None:
    from moto.secretsmanager import models

    backend = models.SecretsManagerBackend

    orig_add = backend._add_secret

    @functools.wraps(orig_add)
    def _add_secret(self, secret_id, secret_string=None, secret_binary=None, description=None,
                    tags=None, kms_key_id=None, version_id=None, version_stages=None,
                    replica_regions=None, force_overwrite=False):
        existing = self.secrets.get(secret_id)
        old_ref = getattr(existing, "kms_key_id", None)
        key_arn = _key_ref(self, kms_key_id if kms_key_id is not None else old_ref)
        writes_value = secret_string is not None or secret_binary is not None
        # A new KmsKeyId re-encrypts the labelled versions that are under another key.
        rekeyed = [] if existing is None or kms_key_id is None else [
            v for v in existing.versions.values()
            if v.get(KEY_OF_VERSION) != key_arn
            and any(label in LABELS for label in v.get("version_stages", []))]
        if writes_value or rekeyed:
            why = _why_unusable(self, key_arn)
            if why:
                raise _encryption_failure(why)
        for version in rekeyed:
            why = _why_unusable(self, version.get(KEY_OF_VERSION))
            if why:
                raise _decryption_failure(why)
        secret, new_version = orig_add(self, secret_id, secret_string=secret_string,
                                       secret_binary=secret_binary, description=description,
                                       tags=tags, kms_key_id=kms_key_id, version_id=version_id,
                                       version_stages=version_stages,
                                       replica_regions=replica_regions,
                                       force_overwrite=force_overwrite)
        for version in secret.versions.values():
            if KEY_OF_VERSION not in version or any(v is version for v in rekeyed):
                version[KEY_OF_VERSION] = key_arn
        return secret, new_version

    backend._add_secret = _add_secret

    orig_get = backend.get_secret_value

    @functools.wraps(orig_get)
    def get_secret_value(self, secret_id, version_id, version_stage):
        response = orig_get(self, secret_id, version_id, version_stage)
        secret = self.secrets[secret_id]
        version = secret.versions.get(response["VersionId"], {})
        why = _why_unusable(self, version.get(KEY_OF_VERSION))
        if why:
            raise _decryption_failure(why)
        return response

    backend.get_secret_value = get_secret_value

    _apply_versions(models)
    _apply_resource_policies()


def _day(epoch: float) -> int:
    """AWS reports when a version was last read by the day only."""
    return int(epoch // DAY * DAY)


def _holder(secret, label: str) -> str | None:
    return next((vid for vid, v in secret.versions.items() if label in v["version_stages"]), None)


def _apply_versions(models) -> None:
    from moto.secretsmanager.exceptions import (
        InvalidParameterException,
        OperationNotPermittedOnReplica,
        ResourceExistsException,
        SecretNotFoundException,
    )
    from moto.secretsmanager.responses import SecretsManagerResponse

    backend = models.SecretsManagerBackend
    secret_class = models.FakeSecret

    def reset_default_version(self, secret_version, version_id):
        labels = set(secret_version["version_stages"]) | {"AWSCURRENT"}
        previous = _holder(self, "AWSCURRENT")
        for vid, version in self.versions.items():
            if vid != version_id:
                version["version_stages"] = [label for label in version["version_stages"]
                                             if label not in labels and label != "AWSPREVIOUS"]
        if previous is not None and previous != version_id:
            self.versions[previous]["version_stages"].append("AWSPREVIOUS")
        self.versions[version_id] = secret_version
        self.default_version_id = version_id

    secret_class.reset_default_version = reset_default_version

    def _form_version_ids_to_stages(self):
        return {vid: v["version_stages"] for vid, v in self.versions.items() if v["version_stages"]}

    secret_class._form_version_ids_to_stages = _form_version_ids_to_stages

    orig_to_dict = secret_class.to_dict

    @functools.wraps(orig_to_dict)
    def to_dict(self):
        dct = orig_to_dict(self)
        read = [v[LAST_ACCESSED] for v in self.versions.values() if v.get(LAST_ACCESSED)]
        dct["LastAccessedDate"] = _day(max(read)) if read else None
        return dct

    secret_class.to_dict = to_dict

    orig_get = backend.get_secret_value

    @functools.wraps(orig_get)
    def get_secret_value(self, secret_id, version_id, version_stage):
        response = orig_get(self, secret_id, version_id, version_stage)
        self.secrets[secret_id].versions[response["VersionId"]][LAST_ACCESSED] = time.time()
        return response

    backend.get_secret_value = get_secret_value

    orig_put = backend.put_secret_value

    @functools.wraps(orig_put)
    def put_secret_value(self, secret_id, secret_string, secret_binary, client_request_token,
                         version_stages):
        secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
        version = secret.versions.get(client_request_token) if secret and client_request_token \
            else None
        if version is not None and ("secret_string" in version or "secret_binary" in version):
            if (version.get("secret_string"), version.get("secret_binary")) != (secret_string,
                                                                                secret_binary):
                raise ResourceExistsException(
                    f"You can't use ClientRequestToken {client_request_token} because that "
                    f"value is already in use for a version of secret {secret.arn}.")
            return secret.to_short_dict(include_version_stages=True,
                                        version_id=client_request_token)
        return orig_put(self, secret_id, secret_string, secret_binary, client_request_token,
                        version_stages)

    backend.put_secret_value = put_secret_value

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id,
                                    move_to_version_id):
        if not self._is_valid_identifier(secret_id):
            raise SecretNotFoundException()
        secret = self.secrets[secret_id]
        if isinstance(secret, models.ReplicaSecret):
            raise OperationNotPermittedOnReplica
        versions = secret.versions
        for vid in (remove_from_version_id, move_to_version_id):
            if vid and vid not in versions:
                raise InvalidParameterException(f"Not a valid version: {vid}")
        holder = _holder(secret, version_stage)
        if remove_from_version_id and remove_from_version_id != holder:
            raise InvalidParameterException(
                f"Version stage {version_stage} not found in version {remove_from_version_id}")
        if move_to_version_id and holder not in (None, move_to_version_id) \
                and not remove_from_version_id:
            raise InvalidParameterException(
                f"The parameter RemoveFromVersionId can't be empty. Staging label "
                f"{version_stage} is currently attached to version {holder}, so you must "
                "explicitly reference that version in RemoveFromVersionId.")
        if holder is not None and holder == move_to_version_id:
            return secret.arn, secret.name  # already there
        if remove_from_version_id:
            versions[remove_from_version_id]["version_stages"].remove(version_stage)
        if move_to_version_id:
            versions[move_to_version_id]["version_stages"].append(version_stage)
        if version_stage == "AWSCURRENT" and (remove_from_version_id or move_to_version_id):
            if remove_from_version_id and move_to_version_id:
                for version in versions.values():
                    if "AWSPREVIOUS" in version["version_stages"]:
                        version["version_stages"].remove("AWSPREVIOUS")
                versions[remove_from_version_id]["version_stages"].append("AWSPREVIOUS")
            secret.default_version_id = move_to_version_id
        secret.last_changed_date = int(time.time())
        return secret.arn, secret.name

    backend.update_secret_version_stage = update_secret_version_stage

    def list_secret_version_ids(self, secret_id, include_deprecated=False, max_results=None,
                                next_token=None):
        if not self._is_valid_identifier(secret_id):
            raise SecretNotFoundException()
        secret = self.secrets[secret_id]
        rows = []
        for vid, version in secret.versions.items():
            if not version["version_stages"] and not include_deprecated:
                continue
            row = {"VersionId": vid, "VersionStages": list(version["version_stages"]),
                   "CreatedDate": version["createdate"]}
            if version.get(LAST_ACCESSED):
                row["LastAccessedDate"] = _day(version[LAST_ACCESSED])
            rows.append(row)
        start = int(next_token) if next_token and next_token.isdigit() else 0
        end = start + max_results if max_results else len(rows)
        page = {"ARN": secret.arn, "Name": secret.name, "Versions": rows[start:end]}
        if end < len(rows):
            page["NextToken"] = str(end)
        return json.dumps(page)

    backend.list_secret_version_ids = list_secret_version_ids

    def r_list_secret_version_ids(self):
        return self.backend.list_secret_version_ids(
            secret_id=self._get_param("SecretId", if_none=""),
            include_deprecated=bool(self._get_param("IncludeDeprecated")),
            max_results=self._get_int_param("MaxResults"),
            next_token=self._get_param("NextToken"))

    r_list_secret_version_ids.__name__ = "list_secret_version_ids"
    SecretsManagerResponse.list_secret_version_ids = r_list_secret_version_ids


# Condition operators on aws:PrincipalArn: (wildcards?, true when the ARN matches none).
_CONDITIONS = {"StringEquals": (False, False), "StringNotEquals": (False, True),
               "StringLike": (True, False), "StringNotLike": (True, True),
               "ArnEquals": (False, False), "ArnNotEquals": (False, True),
               "ArnLike": (True, False), "ArnNotLike": (True, True)}


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _matches(patterns, value: str, wildcards: bool = True, case: bool = True) -> bool:
    for pattern in _listed(patterns):
        if not isinstance(pattern, str):
            continue
        text, pattern = (value, pattern) if case else (value.lower(), pattern.lower())
        if fnmatch.fnmatchcase(text, pattern) if wildcards else text == pattern:
            return True
    return False


def _principal_applies(principal, arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        return False
    account = arn.split(":")[4]
    return any(p == "*" or p in (arn, account, f"arn:aws:iam::{account}:root")
               for p in _listed(principal["AWS"]))


def _conditions_hold(conditions, arn: str) -> bool | None:
    """True or False; None when the statement uses something not modeled."""
    for operator, tests in (conditions or {}).items():
        if operator not in _CONDITIONS or not isinstance(tests, dict):
            return None
        wildcards, negated = _CONDITIONS[operator]
        for key, values in tests.items():
            if key.lower() != "aws:principalarn":
                return None
            if _matches(values, arn, wildcards) == negated:
                return False
    return True


def denied_by(policy: str | None, action: str, secret_arn: str, principal_arn: str) -> bool:
    """Whether the secret's resource policy explicitly denies ``action`` to the principal."""
    try:
        statements = _listed(json.loads(policy or "{}").get("Statement") or [])
    except (ValueError, AttributeError):
        return False
    for statement in statements:
        if (not isinstance(statement, dict) or statement.get("Effect") != "Deny"
                or {"NotPrincipal", "NotAction", "NotResource"} & set(statement)):
            continue
        if (_principal_applies(statement.get("Principal"), principal_arn)
                and _matches(statement.get("Action"), action, case=False)
                and _matches(statement.get("Resource", "*"), secret_arn)
                and _conditions_hold(statement.get("Condition"), principal_arn)):
            return True
    return False


def _principal_arn(access_key) -> str:
    """``aws:PrincipalArn``: a role session counts as its role."""
    role = getattr(access_key, "_owner_role_name", None)
    if role is None:
        return access_key.arn
    try:
        return access_key.backend.get_role(role).arn
    except Exception:  # noqa: BLE001 - the role is gone: the ARN it had
        return f"arn:aws:iam::{access_key.account_id}:role/{role}"


def _apply_resource_policies() -> None:
    from moto.iam.access_control import IAMRequest
    from moto.secretsmanager.responses import SecretsManagerResponse
    from werkzeug.exceptions import HTTPException

    class SecretRequest(IAMRequest):
        """IAM's check of one Secrets Manager request: the secret's policy, then the caller's."""

        def __init__(self, response, **kwargs):
            super().__init__(**kwargs)
            self.response = response

        def check_action_permitted(self, resource):
            secret_id = self.response._get_param("SecretId")
            secret = self.response.backend.secrets.get(secret_id) if secret_id else None
            principal = _principal_arn(self._access_key)
            if secret is not None and denied_by(getattr(secret, "policy", None), self._action,
                                                secret.arn, principal):
                error = HTTPException(description=json.dumps({
                    "__type": "AccessDeniedException",
                    "message": f"User: {self._access_key.arn} is not authorized to perform: "
                               f"{self._action} on resource: {secret.arn} with an explicit deny "
                               "in a resource-based policy"}))
                error.code = 400
                raise error
            super().check_action_permitted(resource)

    def _authenticate_and_authorize_normal_action(self, resource="*"):
        self._authenticate_and_authorize_action(functools.partial(SecretRequest, self), resource)

    SecretsManagerResponse._authenticate_and_authorize_normal_action = \
        _authenticate_and_authorize_normal_action
