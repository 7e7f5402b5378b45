//! How medtech lays out a table for people, whatever it reports.

use comfy_table::{Table, presets};

/// `table` laid out without lines, as medtech's tables have always read: columns two spaces
/// apart, nothing before the first or after the last, no trailing blanks.
pub(crate) fn plain(mut table: Table) -> String {
    table.load_style(presets::NOTHING);
    let last = table.column_count().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((u16::from(i > 0), u16::from(i < last)));
    }
    let mut text = table.trim_fmt();
    if !text.is_empty() {
        text.push('\n');
    }
    text
}
