//! medtech provisions a HIPAA-oriented healthcare data pipeline on AWS through the AWS SDK.
//! `main.rs` parses and maps errors to exit codes; everything else lives here.

mod aws;
pub mod cli;
pub mod commands;
mod config;
mod context;
mod control;
mod engine;
pub mod error;
pub mod failure;
mod fsutil;
mod interrupt;
pub mod logging;
mod logical;
mod naming;
mod outputs;
mod property;
mod resource;
mod resources;
mod rotation;
mod run_summary;
mod secret_value;
mod state;
pub mod stdout;
pub mod style;
mod table;
mod tags;
mod verify;
