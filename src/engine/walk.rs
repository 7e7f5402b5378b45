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

    #[tokio::test]
    async fn runs_independent_nodes_at_once_and_dependents_after() {
        let g = graph();
        let log = Mutex::new(Vec::new());
        let active = Mutex::new(0usize);
        let peak = Mutex::new(0usize);
        let results = walk(
            &g,
            Direction::Forward,
            10,
            &[0; 5],
            &Interrupt::default(),
            |n| {
                let (log, active, peak) = (&log, &active, &peak);
                let name = g.name(n).to_owned();
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
                    Ok::<_, Error>(name)
                }
            },
        )
        .await;
        assert!(results.iter().all(|r| matches!(r, NodeResult::Done(_))));
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
        let g = graph();
        let active = Mutex::new(0usize);
        let peak = Mutex::new(0usize);
        walk(
            &g,
            Direction::Forward,
            1,
            &[0; 5],
            &Interrupt::default(),
            |_| {
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
                    Ok::<_, Error>(())
                }
            },
        )
        .await;
        assert_eq!(*peak.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn failure_skips_dependents_but_not_other_branches() {
        let g = graph();
        let results = walk(
            &g,
            Direction::Forward,
            10,
            &[0; 5],
            &Interrupt::default(),
            |n| {
                let name = g.name(n).to_owned();
                async move {
                    if name == "subnet-a" {
                        Err(Error::resource(&name, "boom"))
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await;
        let by_name = |name: &str| &results[(0..g.len()).find(|&n| g.name(n) == name).unwrap()];
        assert!(matches!(by_name("subnet-a"), NodeResult::Failed(_)));
        assert!(matches!(by_name("nat"), NodeResult::Skipped { because } if because == "subnet-a"));
        assert!(matches!(by_name("subnet-b"), NodeResult::Done(())));
        assert!(matches!(by_name("eip"), NodeResult::Done(())));
    }

    #[tokio::test]
    async fn reverse_walk_runs_dependents_first() {
        let g = graph();
        let log = Mutex::new(Vec::new());
        walk(
            &g,
            Direction::Reverse,
            10,
            &[0; 5],
            &Interrupt::default(),
            |n| {
                let log = &log;
                let name = g.name(n).to_owned();
                async move {
                    log.lock().unwrap().push(name);
                    Ok::<_, Error>(())
                }
            },
        )
        .await;
        let log = log.into_inner().unwrap();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("nat") < at("subnet-a"));
        assert!(at("subnet-a") < at("vpc"));
        assert!(at("subnet-b") < at("vpc"));
    }

    #[tokio::test]
    async fn the_heaviest_chain_starts_first_when_slots_are_short() {
        let g = graph();
        let log = Mutex::new(Vec::new());
        // vpc -> subnet-a -> nat is the heavy chain; eip and subnet-b are light.
        let priority = g.chain_weights(Direction::Forward, &[1, 1, 1, 100, 1]);
        walk(
            &g,
            Direction::Forward,
            1,
            &priority,
            &Interrupt::default(),
            |n| {
                let log = &log;
                let name = g.name(n).to_owned();
                async move {
                    log.lock().unwrap().push(name);
                    Ok::<_, Error>(())
                }
            },
        )
        .await;
        assert_eq!(
            log.into_inner().unwrap(),
            ["vpc", "subnet-a", "nat", "eip", "subnet-b"]
        );
    }

    #[tokio::test]
    async fn interruption_stops_new_steps() {
        let g = graph();
        let interrupt = Interrupt::default();
        let results = walk(&g, Direction::Forward, 1, &[0; 5], &interrupt, |n| {
            let interrupt = interrupt.clone();
            let name = g.name(n).to_owned();
            async move {
                if name == "vpc" {
                    interrupt.raise();
                }
                Ok::<_, Error>(())
            }
        })
        .await;
        let done = results
            .iter()
            .filter(|r| matches!(r, NodeResult::Done(_)))
            .count();
        assert_eq!(done, 1);
        assert!(results.iter().any(|r| matches!(r, NodeResult::NotStarted)));
    }
}
