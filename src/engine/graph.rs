//! The dependency graph of a stack: node indexes, edges both ways, and a check that it is a
//! DAG whose every dependency exists. Knows names and edges, nothing about AWS.

use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum GraphError {
    #[error("{node} depends on {missing}, which is not in the stack")]
    UnknownDependency { node: String, missing: String },
    #[error("{0} appears twice in the stack")]
    Duplicate(String),
    #[error("dependency cycle through {}", .0.join(", "))]
    Cycle(Vec<String>),
}

/// Which way a walk goes: dependencies first (`up`), or dependents first (`destroy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward,
    Reverse,
}

#[derive(Debug, Clone)]
pub(crate) struct Graph {
    names: Vec<String>,
    /// `deps[i]`: nodes that `i` depends on.
    deps: Vec<Vec<usize>>,
    /// `dependents[i]`: nodes that depend on `i`.
    dependents: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph from `(name, dependencies)` pairs and rejects unknown names and cycles.
    pub(crate) fn new<'a>(
        nodes: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    ) -> Result<Self, GraphError> {
        let nodes: Vec<(&str, Vec<&str>)> = nodes.into_iter().collect();
        let mut index = BTreeMap::new();
        for (i, (name, _)) in nodes.iter().enumerate() {
            if index.insert(*name, i).is_some() {
                return Err(GraphError::Duplicate((*name).to_owned()));
            }
        }
        let mut deps = vec![Vec::new(); nodes.len()];
        let mut dependents = vec![Vec::new(); nodes.len()];
        for (i, (name, needs)) in nodes.iter().enumerate() {
            for need in needs {
                let &j = index
                    .get(need)
                    .ok_or_else(|| GraphError::UnknownDependency {
                        node: (*name).to_owned(),
                        missing: (*need).to_owned(),
                    })?;
                deps[i].push(j);
                dependents[j].push(i);
            }
        }
        let graph = Self {
            names: nodes.iter().map(|(n, _)| (*n).to_owned()).collect(),
            deps,
            dependents,
        };
        graph.check_acyclic()?;
        Ok(graph)
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn name(&self, node: usize) -> &str {
        &self.names[node]
    }

    /// Nodes that must finish before `node` starts, in the walk's direction.
    pub(crate) fn before(&self, node: usize, direction: Direction) -> &[usize] {
        match direction {
            Direction::Forward => &self.deps[node],
            Direction::Reverse => &self.dependents[node],
        }
    }

    /// Nodes that wait for `node`, in the walk's direction.
    pub(crate) fn after(&self, node: usize, direction: Direction) -> &[usize] {
        match direction {
            Direction::Forward => &self.dependents[node],
            Direction::Reverse => &self.deps[node],
        }
    }

    /// A topological order (Kahn), stable with respect to declaration order.
    pub(crate) fn order(&self, direction: Direction) -> Vec<usize> {
        let mut waiting: Vec<usize> = (0..self.len())
            .map(|n| self.before(n, direction).len())
            .collect();
        let mut ready: VecDeque<usize> = (0..self.len()).filter(|&n| waiting[n] == 0).collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(n) = ready.pop_front() {
            order.push(n);
            for &m in self.after(n, direction) {
                waiting[m] -= 1;
                if waiting[m] == 0 {
                    ready.push_back(m);
                }
            }
        }
        order
    }

    /// For each node, the heaviest chain that starts at it and runs to the end of the walk:
    /// its own weight plus the heaviest of the nodes after it. A node on the critical path
    /// has the largest value among the nodes ready with it.
    pub(crate) fn chain_weights(&self, direction: Direction, weight: &[u64]) -> Vec<u64> {
        let mut chain = vec![0; self.len()];
        for &n in self.order(direction).iter().rev() {
            let after = self
                .after(n, direction)
                .iter()
                .map(|&m| chain[m])
                .max()
                .unwrap_or(0);
            chain[n] = weight[n] + after;
        }
        chain
    }

    fn check_acyclic(&self) -> Result<(), GraphError> {
        let order = self.order(Direction::Forward);
        if order.len() == self.len() {
            return Ok(());
        }
        let mut in_cycle: Vec<String> = (0..self.len())
            .filter(|n| !order.contains(n))
            .map(|n| self.names[n].clone())
            .collect();
        in_cycle.sort();
        Err(GraphError::Cycle(in_cycle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(nodes: &[(&'static str, &[&'static str])]) -> Result<Graph, GraphError> {
        Graph::new(nodes.iter().map(|(n, d)| (*n, d.to_vec())))
    }

    #[test]
    fn forward_order_puts_dependencies_first_and_reverse_last() {
        let g = graph(&[
            ("nat", &["subnet", "eip"]),
            ("vpc", &[]),
            ("subnet", &["vpc"]),
            ("eip", &[]),
        ])
        .unwrap();
        let pos =
            |order: &[usize], name: &str| order.iter().position(|&n| g.name(n) == name).unwrap();
        let fwd = g.order(Direction::Forward);
        assert!(pos(&fwd, "vpc") < pos(&fwd, "subnet"));
        assert!(pos(&fwd, "subnet") < pos(&fwd, "nat"));
        assert!(pos(&fwd, "eip") < pos(&fwd, "nat"));
        let rev = g.order(Direction::Reverse);
        assert!(pos(&rev, "nat") < pos(&rev, "subnet"));
        assert!(pos(&rev, "subnet") < pos(&rev, "vpc"));
    }

    #[test]
    fn chain_weights_follow_the_heaviest_path_each_way() {
        let g = graph(&[
            ("vpc", &[]),
            ("subnet", &["vpc"]),
            ("rds", &["subnet"]),
            ("igw", &["vpc"]),
            ("kms", &[]),
        ])
        .unwrap();
        let weights = [1, 1, 900, 1, 1];
        assert_eq!(
            g.chain_weights(Direction::Forward, &weights),
            [902, 901, 900, 1, 1]
        );
        assert_eq!(
            g.chain_weights(Direction::Reverse, &weights),
            [1, 2, 902, 2, 1]
        );
    }

    #[test]
    fn cycles_and_unknown_dependencies_are_rejected() {
        assert_eq!(
            graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]).unwrap_err(),
            GraphError::Cycle(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            graph(&[("a", &["ghost"])]).unwrap_err(),
            GraphError::UnknownDependency {
                node: "a".into(),
                missing: "ghost".into()
            }
        );
        assert_eq!(
            graph(&[("a", &[]), ("a", &[])]).unwrap_err(),
            GraphError::Duplicate("a".into())
        );
    }
}
