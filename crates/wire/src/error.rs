//! Why a packet was unusable. TO BE COMPLETED by the wire work.
use std::fmt;

/// Why `parse` rejected a packet. Each has a stable `reason()` and the Linux counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    Truncated,
}

impl ParseError {
    pub fn reason(&self) -> &'static str {
        "truncated"
    }
    pub fn counter(&self) -> &'static str {
        "TcpInErrs"
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ParseError {}
