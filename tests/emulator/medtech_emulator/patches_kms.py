"""KMS: key states refuse what AWS refuses; no RSA key generation for symmetric keys.

**Key states.** moto 5.2.5 keeps a key's state (``Enabled``, ``Disabled``,
``PendingDeletion``) but never checks it: a key scheduled for deletion still encrypts and
decrypts, ``EnableKey`` silently ends its pending deletion, and an alias can be pointed at it.
AWS refuses (the key-state table of the KMS Developer Guide):

* cryptographic operations (``Encrypt``, ``Decrypt``, ``ReEncrypt``, ``GenerateDataKey*``):
  ``DisabledException: <key ARN> is disabled.`` for a disabled key and
  ``KMSInvalidStateException: <key ARN> is pending deletion.`` for a key pending deletion;
* on a key pending deletion, ``EnableKey``, ``DisableKey``, ``EnableKeyRotation``,
  ``DisableKeyRotation``, ``CreateAlias``/``UpdateAlias`` (target), ``TagResource``,
  ``UntagResource``, ``UpdateKeyDescription`` and a second ``ScheduleKeyDeletion``:
  ``KMSInvalidStateException: <key ARN> is pending deletion.``; rotation calls on a disabled
  key: ``DisabledException``;
* ``CancelKeyDeletion`` of a key that is not pending deletion:
  ``KMSInvalidStateException: <key ARN> is not pending deletion.`` A cancelled key is
  ``Disabled`` until ``EnableKey`` (moto does that part right).

The state-changing calls also take a key ARN, as AWS does (moto indexes its keys by id only
and answers an ARN with a 500).

:func:`end_deletion_windows` plays the end of the waiting period: every key pending deletion
is deleted for good, as AWS does when its ``DeletionDate`` passes.

**Symmetric keys.** moto generates an RSA-2048 private key for *every* ``CreateKey``,
symmetric keys included (``generate_private_key`` falls back to RSA for any spec it does not
know as asymmetric). A 2048-bit key takes 20-700 ms of the emulator's CPU, so each
``CreateKey`` of a ``SYMMETRIC_DEFAULT`` key cost up to ~0.7 s, at a 1/100 time scale more
than a minute of modeled AWS time, which real KMS does not spend (a symmetric key has no key
pair, and no ``Sign``, ``Verify`` or ``GetPublicKey``). Here such keys get no private key at
all; asymmetric specs are generated as before.

**MultiRegion.** ``DescribeKey`` (and ``CreateKey``) report ``MultiRegion: false`` for a key
created without ``MultiRegion``, as KMS does; moto stored the missing parameter and answered
``null``, which a client that reads the flag as a boolean (a compliance scanner) cannot take.
"""
from __future__ import annotations

import functools
import inspect

SYMMETRIC = {"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"}


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def refuse(key, *, disabled_too: bool) -> None:
    """Raise AWS's error when ``key`` is pending deletion (or, with ``disabled_too``, disabled)."""
    if key.key_state == "PendingDeletion":
        raise _error("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    if disabled_too and key.key_state == "Disabled":
        raise _error("DisabledException", f"{key.arn} is disabled.")


def _key(backend, ref):
    """The key ``ref`` names (id, ARN, alias or alias ARN), or ``None``: moto then answers."""
    try:
        return backend.keys.get(backend.any_id_to_key_id(ref))
    except Exception:  # noqa: BLE001 - an unknown alias: moto's own NotFound follows
        return None


def _guard(method, ref_arg: str, *, disabled_too: bool, resolve: bool = False):
    """Wrap ``KmsBackend.method`` to refuse on the state of the key named by ``ref_arg``."""
    params = list(inspect.signature(method).parameters)
    index = params.index(ref_arg)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        args = list(args)
        in_args = index - 1 < len(args)
        ref = args[index - 1] if in_args else kwargs.get(ref_arg)
        key = _key(self, ref) if ref else None
        if key is not None:
            refuse(key, disabled_too=disabled_too)
            if resolve:
                # moto indexes keys by id: an ARN would be a KeyError (500).
                if in_args:
                    args[index - 1] = key.id
                else:
                    kwargs[ref_arg] = key.id
        return method(self, *args, **kwargs)

    return wrapper


def end_deletion_windows() -> list[str]:
    """Delete every key pending deletion, in every account and region; their ARNs."""
    from moto.kms.models import kms_backends

    gone = []
    for account_id, regions in list(kms_backends.items()):
        for region, backend in list(regions.items()):
            for key in [k for k in backend.keys.values() if k.key_state == "PendingDeletion"]:
                gone.append(key.arn)
                backend.delete_key(key.id)
    return gone


def apply() -> None:
    from moto.kms import models

    orig = models.generate_private_key

    def generate_private_key(key_spec):
        if key_spec in SYMMETRIC:
            return None
        return orig(key_spec)

    models.generate_private_key = generate_private_key

    backend = models.KmsBackend
    # Cryptographic use: refused for disabled keys too. (GenerateDataKey and ReEncrypt go
    # through encrypt/decrypt.)
    backend.encrypt = _guard(backend.encrypt, "key_id", disabled_too=True)
    orig_decrypt = backend.decrypt

    @functools.wraps(orig_decrypt)
    def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
        plaintext, arn = orig_decrypt(self, ciphertext_blob, encryption_context, key_id)
        # The ciphertext names its key: check the key that actually decrypted it.
        key = self.keys.get(self.get_key_id(arn))
        if key is not None:
            refuse(key, disabled_too=True)
        return plaintext, arn

    backend.decrypt = decrypt

    # Management of a key pending deletion.
    for name in ("enable_key", "disable_key", "schedule_key_deletion"):
        setattr(backend, name, _guard(getattr(backend, name), "key_id", disabled_too=False,
                                      resolve=True))
    for name in ("enable_key_rotation", "disable_key_rotation"):
        setattr(backend, name, _guard(getattr(backend, name), "key_id", disabled_too=True))
    backend.update_key_description = _guard(backend.update_key_description, "key_id",
                                            disabled_too=False)
    for name in ("create_alias", "update_alias"):
        setattr(backend, name, _guard(getattr(backend, name), "target_key_id",
                                      disabled_too=False))
    for name in ("tag_resource", "untag_resource"):
        setattr(backend, name, _guard(getattr(backend, name), "arn", disabled_too=False))

    orig_cancel = backend.cancel_key_deletion

    @functools.wraps(orig_cancel)
    def cancel_key_deletion(self, key_id):
        key = _key(self, key_id)
        if key is None:
            return orig_cancel(self, key_id)
        if key.key_state != "PendingDeletion":
            raise _error("KMSInvalidStateException", f"{key.arn} is not pending deletion.")
        return orig_cancel(self, key.id)

    backend.cancel_key_deletion = cancel_key_deletion

    orig_create = backend.create_key
    create_signature = inspect.signature(orig_create)

    @functools.wraps(orig_create)
    def create_key(self, *args, **kwargs):
        bound = create_signature.bind(self, *args, **kwargs)
        bound.arguments["multi_region"] = bool(bound.arguments.get("multi_region"))
        return orig_create(*bound.args, **bound.kwargs)

    backend.create_key = create_key
