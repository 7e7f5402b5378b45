"""KMS: no RSA key generation for symmetric keys.

moto 5.2.5 generates an RSA-2048 private key for *every* ``CreateKey``, symmetric keys
included (``generate_private_key`` falls back to RSA for any spec it does not know as
asymmetric). A 2048-bit key takes 20-700 ms of the emulator's CPU, so each ``CreateKey`` of a
``SYMMETRIC_DEFAULT`` key cost up to ~0.7 s, at a 1/100 time scale more than a minute of
modeled AWS time, which real KMS does not spend (a symmetric key has no key pair, and no
``Sign``, ``Verify`` or ``GetPublicKey``). Here such keys get no private key at all;
asymmetric specs are generated as before.
"""
from __future__ import annotations

SYMMETRIC = {"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"}


def apply() -> None:
    from moto.kms import models

    orig = models.generate_private_key

    def generate_private_key(key_spec):
        if key_spec in SYMMETRIC:
            return None
        return orig(key_spec)

    models.generate_private_key = generate_private_key
