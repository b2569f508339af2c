//! How a command ended. Handlers return `Result<Exit>`; `cli::run` turns it into the process's exit
//! code here, and a failure through `Error::exit_code`, so the contract's table (`error::exit`,
//! shared/spec/cli.md "Exit codes") is applied in one place (fd's `exit_codes.rs` is the model).

use crate::error::exit;

/// The end of a command that did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Exit {
    /// Done, nothing to report (exit 0).
    Success,
    /// The command worked and found something: leaks (`scan`), problems (`lint`, `check`, `verify`,
    /// `audit verify`, `audit --unusual`), drift (`diff`) or conflicts (`push`, `pull`) (exit 1).
    Findings,
    /// A batch that went on past a failed item ends with that item's error code (`rotate --all`), or
    /// `exec`'s child ended with this status (126 and 127 when it could not start).
    Status(i32),
}

impl Exit {
    /// [`Exit::Findings`] when `found`, else [`Exit::Success`].
    pub fn findings_if(found: bool) -> Exit {
        if found {
            Exit::Findings
        } else {
            Exit::Success
        }
    }

    /// The process's exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => exit::OK,
            Exit::Findings => exit::FINDINGS,
            Exit::Status(code) => code,
        }
    }
}
