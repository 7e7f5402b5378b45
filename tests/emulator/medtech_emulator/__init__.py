"""medtech test emulator: moto server plus the patches that close moto 5.2.5's gaps.

Importing this package does not touch moto.  Call :func:`apply_patches` once,
before the first request is served (``app.build_app`` does it for you).

Each ``patches_<service>.py`` module reproduces one service's real-AWS
behaviour that moto lacks; its docstring says which.  ``cbor_front`` is a WSGI
middleware (not a moto patch) that speaks Smithy RPCv2 CBOR for CloudWatch.
"""
from __future__ import annotations

import os
import threading

MOTO_VERSION = "5.2.5"

_applied = False
_lock = threading.Lock()


def _configure_moto_environment() -> None:
    # Real AWS accounts see every AWS managed policy; moto only loads them
    # when asked to.  Must be set before the IAM backend is first used.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


def apply_patches() -> None:
    """Apply every medtech patch to moto (idempotent, thread-safe)."""
    global _applied
    with _lock:
        if _applied:
            return
        _configure_moto_environment()
        import moto

        if moto.__version__ != MOTO_VERSION:
            raise RuntimeError(
                f"medtech emulator patches were written for moto {MOTO_VERSION}, "
                f"found {moto.__version__}: re-run scripts/emulator-setup"
            )
        from . import (
            patches_account,
            patches_backup,
            patches_cloudwatch,
            patches_ec2,
            patches_elasticache,
            patches_iam,
            patches_iam_auth,
            patches_kinesis,
            patches_kms,
            patches_logs,
            patches_rds,
            patches_s3,
            patches_secretsmanager,
            patches_server,
            patches_sts,
        )

        for module in (
            patches_account,
            patches_backup,
            patches_cloudwatch,
            patches_ec2,
            patches_elasticache,
            patches_iam,
            patches_iam_auth,
            patches_kinesis,
            patches_kms,
            patches_logs,
            patches_rds,
            patches_s3,
            patches_secretsmanager,
            patches_server,
            patches_sts,
        ):
            module.apply()
        _applied = True
