//! Process hardening applied before any secret is touched.

/// Make sure this process never writes a core dump and cannot be attached to by other processes of the
/// same user: RLIMIT_CORE = 0 and PR_SET_DUMPABLE = 0.
///
/// Failures are ignored on purpose: both calls only ever lower privileges, and a platform that refuses
/// them gives keep no better option than to continue (SECURITY.md lists this limit).
pub fn disable_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit and prctl take plain values and a pointer to a live stack value.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Restore the default SIGPIPE action, which Rust's runtime sets to "ignore".
///
/// `keep ls | head` should end keep quietly when `head` stops reading, as it does for every other Unix
/// tool, instead of turning the closed pipe into a write error (or a panic in an error path).
pub fn default_sigpipe() {
    // SAFETY: setting a signal disposition to SIG_DFL has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Ignore SIGXFSZ, whose default action kills the process when a write crosses the file-size limit
/// (`ulimit -f`).
///
/// Killed there, keep would leave no message and exit 153 mid-transaction; ignored, the write fails
/// with EFBIG, SQLite rolls the transaction back, and keep says the vault could not be written and
/// exits 8 (tests/it/faults_disk_full.rs).
pub fn ignore_sigxfsz() {
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Replace the default panic message with one that carries no runtime data.
///
/// The default hook prints the panic payload, and a payload built with `format!` (an `expect` on a
/// formatted message, `unwrap` on an error whose `Debug` shows its input, `print!` failing) can hold
/// whatever the format was given, including a secret. This hook prints where keep panicked and the
/// payload only when it is a string literal (a `&'static str` is fixed at compile time, so it holds
/// no secret); any other payload is withheld. `RUST_BACKTRACE=1` still adds a backtrace, which names
/// functions, never data.
pub fn redacting_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = match info.payload().downcast_ref::<&'static str>() {
            Some(s) => format!(": {s}"),
            None => " (message withheld: it may hold secret data)".to_string(),
        };
        let trace = std::backtrace::Backtrace::capture();
        let trace = match trace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{trace}"),
            _ => "\nnote: run with `RUST_BACKTRACE=1` to display a backtrace".to_string(),
        };
        eprintln!("keep panicked{place}{what}; this is a bug in keep, please report it{trace}");
    }));
}
