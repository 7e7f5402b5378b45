//! Counts the AWS calls a run makes, per operation, as sent on the wire (retries included):
//! the summary reports them, and the benchmark reads them to check that a converged `up`
//! changes nothing and reads little.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

#[derive(Clone, Debug, Default)]
pub(crate) struct CallCounter(Arc<Mutex<Counts>>);

#[derive(Debug, Default)]
struct Counts {
    by_operation: BTreeMap<String, u64>,
    polls: u64,
    /// Calls that may have changed something, and polls, which are made because AWS is
    /// changing something, so far: a batched listing fetched before the latest of them may be
    /// stale.
    mutations: u64,
}

tokio::task_local! {
    /// Set while a step polls for a state change, so those calls are told apart.
    static POLLING: bool;
}

/// Runs `fut` with its AWS calls counted as polls.
pub(crate) async fn polling<F: Future>(fut: F) -> F::Output {
    POLLING.scope(true, fut).await
}

/// Totals for a report.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct CallTotals {
    pub total: u64,
    pub reads: u64,
    pub mutating: u64,
    /// Reads made while waiting for a state change (part of `reads`).
    pub polls: u64,
    pub by_operation: BTreeMap<String, u64>,
}

impl CallCounter {
    /// How many calls so far may have changed something (sent, whatever their outcome), or
    /// watched AWS change something (polls).
    pub(crate) fn mutations(&self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .mutations
    }

    /// Notes one call of `operation` (`Service:Operation`) as sent.
    pub(crate) fn count(&self, operation: String, polling: bool) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if polling || !is_read(&operation) {
            counts.mutations += 1;
        }
        *counts.by_operation.entry(operation).or_default() += 1;
        if polling {
            counts.polls += 1;
        }
    }

    pub(crate) fn totals(&self) -> CallTotals {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let counts = guard.by_operation.clone();
        let mut totals = CallTotals {
            polls: guard.polls,
            ..CallTotals::default()
        };
        drop(guard);
        for (operation, n) in &counts {
            totals.total += n;
            if is_read(operation) {
                totals.reads += n;
            } else {
                totals.mutating += n;
            }
        }
        totals.by_operation = counts;
        totals
    }
}

/// Reads by the AWS naming convention; everything else may change something.
fn is_read(operation: &str) -> bool {
    let name = operation.rsplit(':').next().unwrap_or(operation);
    ["Describe", "Get", "List", "BatchGet"]
        .iter()
        .any(|p| name.starts_with(p))
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "medtech::CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.count(
                format!("{}:{}", meta.service(), meta.name()),
                POLLING.try_with(|p| *p).unwrap_or(false),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_told_from_writes_by_name() {
        let reads = [
            "ec2:DescribeVpcs",
            "secretsmanager:GetSecretValue",
            "iam:ListRoleTags",
            "secretsmanager:BatchGetSecretValue",
        ];
        let writes = ["ec2:CreateVpc", "kms:PutKeyPolicy"];
        for operation in reads {
            assert!(is_read(operation), "{operation} is a read");
        }
        for operation in writes {
            assert!(!is_read(operation), "{operation} is a write");
        }
    }
}
