//! The parallel walk: a node starts the moment every node before it (in the walk's direction)
//! has succeeded, up to `parallelism` at once; when more are ready than may run, the one with
//! the heaviest chain still behind it goes first (the critical path never queues). A failure marks everything after it as skipped
//! while unrelated branches carry on; an interruption stops new starts and lets running steps
//! finish. Knows nothing of what a step does.

use std::future::Future;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::graph::{Direction, Graph};
use crate::error::Error;
use crate::interrupt::Interrupt;

/// How one node's step ended.
#[derive(Debug)]
pub(crate) enum NodeResult<T> {
    Done(T),
    Failed(Error),
    /// Not run because a node it needs failed (named: the root cause, not the chain).
    Skipped {
        because: String,
    },
    /// Not run because the walk was interrupted.
    NotStarted,
}

/// `priority[n]`: how much waits on node `n` (see `Graph::chain_weights`); higher starts first.
pub(crate) async fn walk<T, F, Fut>(
    graph: &Graph,
    direction: Direction,
    parallelism: usize,
    priority: &[u64],
    interrupt: &Interrupt,
    step: F,
) -> Vec<NodeResult<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut results: Vec<Option<NodeResult<T>>> = (0..graph.len()).map(|_| None).collect();
    let mut waiting: Vec<usize> = (0..graph.len())
        .map(|n| graph.before(n, direction).len())
        .collect();
    // Declaration order among equally urgent ready nodes keeps runs reproducible.
    let mut ready: Vec<usize> = graph
        .order(direction)
        .into_iter()
        .filter(|&n| waiting[n] == 0)
        .collect();
    let mut running = FuturesUnordered::new();

    loop {
        while running.len() < parallelism.max(1) && !ready.is_empty() && !interrupt.is_raised() {
            let next = (0..ready.len())
                .max_by_key(|&i| (priority[ready[i]], std::cmp::Reverse(i)))
                .unwrap_or(0);
            let node = ready.remove(next);
            let fut = step(node);
            running.push(async move { (node, fut.await) });
        }
        let Some((node, outcome)) = running.next().await else {
            break;
        };
        match outcome {
            Ok(value) => {
                results[node] = Some(NodeResult::Done(value));
                for &next in graph.after(node, direction) {
                    waiting[next] -= 1;
                    if waiting[next] == 0 && results[next].is_none() {
                        ready.push(next);
                    }
                }
            }
            Err(error) => {
                results[node] = Some(NodeResult::Failed(error));
                skip_after(graph, direction, node, &mut results);
                ready.retain(|&n| results[n].is_none());
            }
        }
    }

    results
        .into_iter()
        .map(|r| r.unwrap_or(NodeResult::NotStarted))
        .collect()
}

fn skip_after<T>(
    graph: &Graph,
    direction: Direction,
    failed: usize,
    results: &mut [Option<NodeResult<T>>],
) {
    let mut stack = vec![failed];
    while let Some(node) = stack.pop() {
        for &next in graph.after(node, direction) {
            if results[next].is_none() {
                results[next] = Some(NodeResult::Skipped {
                    because: graph.name(failed).to_owned(),
                });
                stack.push(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    fn graph() -> Graph {
        Graph::new([
            ("vpc", vec![]),
            ("subnet-a", vec!["vpc"]),
            ("subnet-b", vec!["vpc"]),
            ("nat", vec!["subnet-a"]),
            ("eip", vec![]),
        ])
        .unwrap()
    }

    /// A walk of `graph()`: forward, every node as urgent, not interrupted, unless a test
    /// says otherwise.
    struct TestWalk {
        direction: Direction,
        parallelism: usize,
        priority: Vec<u64>,
        interrupt: Interrupt,
    }

    impl TestWalk {
        fn new(parallelism: usize) -> Self {
            Self {
                direction: Direction::Forward,
                parallelism,
                priority: vec![0; graph().len()],
                interrupt: Interrupt::default(),
            }
        }

        /// Runs `step` on each node's name; the results by name.
        async fn run<T, Fut>(&self, step: impl Fn(String) -> Fut) -> HashMap<String, NodeResult<T>>
        where
            Fut: Future<Output = Result<T, Error>>,
        {
            let g = graph();
            let results = walk(
                &g,
                self.direction,
                self.parallelism,
                &self.priority,
                &self.interrupt,
                |n| step(g.name(n).to_owned()),
            )
            .await;
            (0..g.len())
                .map(|n| g.name(n).to_owned())
                .zip(results)
                .collect()
        }

        /// The order in which the walk starts the nodes.
        async fn starts(&self) -> Vec<String> {
            let log = Mutex::new(Vec::new());
            self.run(|name| {
                let log = &log;
                async move {
                    log.lock().unwrap().push(name);
                    Ok(())
                }
            })
            .await;
            log.into_inner().unwrap()
        }
    }

    #[tokio::test]
    async fn runs_independent_nodes_at_once_and_dependents_after() {
        let log = Mutex::new(Vec::new());
        let active = Mutex::new(0usize);
        let peak = Mutex::new(0usize);
        let results = TestWalk::new(10)
            .run(|name| {
                let (log, active, peak) = (&log, &active, &peak);
                async move {
                    {
                        let mut a = active.lock().unwrap();
                        *a += 1;
                        let mut p = peak.lock().unwrap();
                        *p = (*p).max(*a);
                    }
                    log.lock().unwrap().push(format!("start {name}"));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    log.lock().unwrap().push(format!("end {name}"));
                    *active.lock().unwrap() -= 1;
                    Ok(name)
                }
            })
            .await;
        assert!(results.values().all(|r| matches!(r, NodeResult::Done(_))));
        let log = log.into_inner().unwrap();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("end vpc") < at("start subnet-a"));
        assert!(at("end subnet-a") < at("start nat"));
        // vpc and eip have no dependencies: they run side by side.
        assert!(at("start eip") < at("end vpc"));
        assert!(*peak.lock().unwrap() >= 2);
    }

    #[tokio::test]
    async fn parallelism_bounds_concurrency() {
        let active = Mutex::new(0usize);
        let peak = Mutex::new(0usize);
        TestWalk::new(1)
            .run(|_| {
                let (active, peak) = (&active, &peak);
                async move {
                    let now = {
                        let mut a = active.lock().unwrap();
                        *a += 1;
                        *a
                    };
                    {
                        let mut p = peak.lock().unwrap();
                        *p = (*p).max(now);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    *active.lock().unwrap() -= 1;
                    Ok(())
                }
            })
            .await;
        assert_eq!(*peak.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn failure_skips_dependents_but_not_other_branches() {
        let results = TestWalk::new(10)
            .run(|name| async move {
                if name == "subnet-a" {
                    Err(Error::resource(&name, "boom"))
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(matches!(&results["subnet-a"], NodeResult::Failed(_)));
        assert!(
            matches!(&results["nat"], NodeResult::Skipped { because } if because == "subnet-a")
        );
        assert!(matches!(&results["subnet-b"], NodeResult::Done(())));
        assert!(matches!(&results["eip"], NodeResult::Done(())));
    }

    #[tokio::test]
    async fn reverse_walk_runs_dependents_first() {
        let reverse = TestWalk {
            direction: Direction::Reverse,
            ..TestWalk::new(10)
        };
        let log = reverse.starts().await;
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("nat") < at("subnet-a"));
        assert!(at("subnet-a") < at("vpc"));
        assert!(at("subnet-b") < at("vpc"));
    }

    #[tokio::test]
    async fn the_heaviest_chain_starts_first_when_slots_are_short() {
        // vpc -> subnet-a -> nat is the heavy chain; eip and subnet-b are light.
        let weighted = TestWalk {
            priority: graph().chain_weights(Direction::Forward, &[1, 1, 1, 100, 1]),
            ..TestWalk::new(1)
        };
        assert_eq!(
            weighted.starts().await,
            ["vpc", "subnet-a", "nat", "eip", "subnet-b"]
        );
    }

    #[tokio::test]
    async fn interruption_stops_new_steps() {
        let serial = TestWalk::new(1);
        let results = serial
            .run(|name| {
                let interrupt = serial.interrupt.clone();
                async move {
                    if name == "vpc" {
                        interrupt.raise();
                    }
                    Ok(())
                }
            })
            .await;
        let done = results
            .values()
            .filter(|r| matches!(r, NodeResult::Done(_)))
            .count();
        assert_eq!(done, 1);
        assert!(
            results
                .values()
                .any(|r| matches!(r, NodeResult::NotStarted))
        );
    }
}
