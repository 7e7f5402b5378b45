//! medtech provisions a HIPAA-oriented healthcare data pipeline on AWS through the AWS SDK.
//! `main.rs` parses and maps errors to exit codes; everything else lives here.

pub mod aws;
pub mod cli;
mod coalesce;
pub mod commands;
pub mod config;
pub mod context;
pub mod engine;
pub mod error;
pub mod failure;
mod fsutil;
mod listing;
pub mod logging;
pub mod naming;
pub mod outputs;
mod report;
pub mod resource;
pub mod resources;
pub mod secret_value;
pub mod state;
pub mod stdout;
pub mod style;
pub mod tags;
pub mod verify;
pub mod wait;
