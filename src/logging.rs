//! Log setup: `-v`/`-vv`/`-vvv` or `RUST_LOG` choose the detail, on stderr. Whatever they
//! choose, trace events of the HTTP and SDK runtime crates are dropped: at that level they
//! print whole requests and responses, bodies included, and a CreateSecret body or a
//! GetSecretValue response is a secret.

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::style::Paint;

/// Crates whose trace events can carry request or response bodies.
const WIRE_CRATES: [&str; 9] = [
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_smithy_types",
    "aws_sigv4",
    "aws_sdk_",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
];

/// `colour` is stderr's, as `style` decided it.
pub fn init(verbose: u8, quiet: bool, colour: Paint) {
    let ours = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    // Without -v the SDK stays quiet: its warnings (a missing config file, an instance
    // metadata probe refused off EC2) come as multi-line dumps, and whatever they lead to is
    // reported by medtech in one line anyway.
    let sdk = match verbose {
        0 => "error",
        1 => "warn",
        2 => "info",
        _ => "debug",
    };
    let default = format!("medtech={ours},aws={sdk},aws_config={sdk},aws_smithy_runtime={sdk}");
    let chosen = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let no_wire_trace =
        filter_fn(|meta| !(*meta.level() == Level::TRACE && is_wire(meta.target())));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour.is_on())
        .with_target(verbose >= 2)
        .with_filter(chosen.and(no_wire_trace));
    // A second init (tests) is harmless; there is nothing to report to.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

fn is_wire(target: &str) -> bool {
    WIRE_CRATES.iter().any(|c| target.starts_with(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_crates_are_wire_and_ours_are_not() {
        assert!(is_wire("aws_smithy_runtime::client::orchestrator"));
        assert!(is_wire("hyper_util::client"));
        assert!(is_wire("aws_sdk_secretsmanager::operation"));
        assert!(!is_wire("medtech::engine"));
        assert!(!is_wire("aws_config::profile"));
    }
}
