//! Results on stdout that never panic when the reader has gone away (`medtech outputs |
//! head`): a closed pipe just ends the output. `println!` would panic there.

use std::io::Write;

pub fn write(text: &str) {
    let mut out = std::io::stdout().lock();
    // Nothing useful can be done about a failed write to stdout; above all, do not panic.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `println!` on stdout, without the panic.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout::write(&format!("{}\n", format_args!($($arg)*)))
    };
}
