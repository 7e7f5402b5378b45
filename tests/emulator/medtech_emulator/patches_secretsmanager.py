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
"""
from __future__ import annotations

import functools

from ._kms import find_key

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
