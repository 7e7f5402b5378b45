//! Results on stdout that never panic when the reader has gone away (`medtech outputs |
//! head`): a closed pipe just ends the output. `println!` would panic there.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every JSON document medtech prints carries this as `format_version`; it changes only when
/// a field is removed or changes meaning (new fields may appear in any release).
pub const FORMAT_VERSION: u32 = 1;

/// Whether this run has printed anything on stdout yet.
static WRITTEN: AtomicBool = AtomicBool::new(false);

pub fn written() -> bool {
    WRITTEN.load(Ordering::Relaxed)
}

pub fn write(text: &str) {
    WRITTEN.store(true, Ordering::Relaxed);
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
