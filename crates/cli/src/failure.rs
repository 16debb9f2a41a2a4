//! Why a command did not succeed, and the exit code that says so.

use std::fmt;
use std::process::ExitCode;

/// A command's failure. The message is printed on stderr as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The answer is "no": a request was refused, or a simulation did not end as expected
    /// (exit 1).
    Refused(String),
    /// The command could not run: bad arguments, missing settings, an unreadable input file
    /// (exit 2, as for clap's own usage errors).
    Usage(String),
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self::Refused(message.into())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Refused(_) => ExitCode::from(1),
            Self::Usage(_) => ExitCode::from(2),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(message) => f.write_str(message),
            Self::Usage(message) => write!(f, "error: {message}"),
        }
    }
}
