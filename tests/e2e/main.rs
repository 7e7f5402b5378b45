//! The end-to-end suite: the real `medtech` binary against the emulator, one module per
//! concern. One test binary, so the SDK is linked into tests once.

mod common;

mod bad_input;
mod conventions;
mod crash;
mod docs;
mod drift;
mod faults;
mod network;
mod outputs_cli;
mod promises;
mod release;
mod rendering;
mod scale;
mod stack;
