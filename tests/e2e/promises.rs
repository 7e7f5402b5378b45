//! Behaviour the documentation promises (README, `docs/`), each checked end to end against the
//! emulator and read back through the SDK.
