//! The integration tests: one binary that runs the real `keep` in temp folders (ripgrep's layout:
//! one link of the library instead of one per file). Each module is one concern; the shared
//! helpers are the `*_support` modules and `common`. `tests/canary_zeroize.rs` stays its own binary
//! because it installs a counting global allocator.

mod canary_support;
mod common;
mod custody_support;
mod faults_support;
mod sync_support;

mod audit_chain;
mod audit_compact;
mod audit_growth;
mod audit_unusual;
mod audit_wiring;
mod bounds;
mod canary_commands;
mod canary_core;
mod canary_files;
mod canary_process;
mod canary_using;
mod core_faults;
mod core_format_spec;
mod core_library;
mod core_secrets;
mod core_slots;
mod core_tamper;
mod custody_age;
mod custody_hsm;
mod environments;
mod everyday;
mod faults_concurrency;
mod faults_crash;
mod faults_disk_full;
mod faults_hsm;
mod faults_readonly;
mod fuzz_regressions;
mod isolation;
mod lint_findings;
mod rekey;
mod rotation_generators;
mod rotation_hooks;
mod rotation_plans;
#[cfg(all(feature = "aws", feature = "gcp", feature = "kubernetes"))]
mod rotation_sync;
mod rotation_tamper;
mod scan_cli;
mod scan_vault;
#[cfg(all(feature = "aws", feature = "gcp", feature = "kubernetes"))]
mod sync2_providers;
mod sync_cli;
#[cfg(all(feature = "aws", feature = "gcp", feature = "kubernetes"))]
mod sync_conformance;
mod tamper_audit;
mod tamper_records;
mod tamper_rollback;
mod using_exec;
mod using_files;
mod using_formats;
mod using_redact;
mod using_settings;
mod wal;
mod watch;
