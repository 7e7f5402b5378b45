//! `medtech graph`: the dependency graph the engine walks, as DOT for people
//! (`medtech graph | dot -Tsvg`) or JSON for tools (the benchmark computes critical paths
//! from it). No AWS call.

use serde_json::json;

use crate::cli::{GlobalArgs, OutputMode};
use crate::engine::graph_of;
use crate::error::{Error, exit};
use crate::resources;

pub(super) fn run(global: &GlobalArgs) -> Result<u8, Error> {
    let stack = resources::stack();
    // Validated as the engine would: no unknown dependency, no cycle.
    graph_of(&stack).map_err(|e| Error::resource("stack", e.to_string()))?;
    if global.output == OutputMode::Json {
        let nodes: Vec<_> = stack
            .iter()
            .map(|r| json!({"name": r.name(), "kind": r.name().kind(), "depends_on": r.depends_on()}))
            .collect();
        crate::outln!(
            "{}",
            json!({ "format_version": crate::stdout::FORMAT_VERSION, "nodes": nodes })
        );
    } else {
        crate::outln!("digraph medtech {{\n  rankdir=LR;\n  node [shape=box];");
        for r in &stack {
            crate::outln!(
                "  \"{}\" [label=\"{}\\n{}\"];",
                r.name(),
                r.name(),
                r.name().kind()
            );
            for d in r.depends_on() {
                crate::outln!("  \"{d}\" -> \"{}\";", r.name());
            }
        }
        crate::outln!("}}");
    }
    Ok(exit::OK)
}
