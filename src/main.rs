//! The `keep` binary: harden the process, then hand over to the library's CLI.

fn main() {
    keep::hardening::disable_core_dumps();
    keep::hardening::default_sigpipe();
    keep::hardening::ignore_sigxfsz();
    keep::hardening::redacting_panic_hook();
    std::process::exit(keep::cli::run());
}
