//! Exit codes: one type for every command, the contract scripts gate on.

/// How a dockpoint command ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exit {
    /// Success (whether or not anything changed; warnings allowed).
    #[default]
    Ok,
    /// A step or check failed, nothing was recognised, the operator
    /// cancelled, or the report could not be written to stdout.
    Failed,
    /// Usage: bad flags, not root, no terminal without --yes.
    Usage,
    /// A check could not run (and none failed).
    CouldNotRun,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::CouldNotRun => 3,
        }
    }

    /// From a numeric code (0 ok, 1 failed, 2 usage, 3 could not run).
    pub fn from_code(code: i32) -> Exit {
        match code {
            0 => Exit::Ok,
            2 => Exit::Usage,
            3 => Exit::CouldNotRun,
            _ => Exit::Failed,
        }
    }
}
