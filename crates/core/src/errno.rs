//! Socket-call errors as errno values, because users compare us with Linux.
use std::fmt;
use std::io;

/// An errno-style error from a socket call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Errno {
    EPERM,
    ENOENT,
    EACCES,
    EPROTO,
    EBADF,
    EAGAIN,
    EINVAL,
    EMFILE,
    EPIPE,
    ENOTSOCK,
    EDESTADDRREQ,
    ENOPROTOOPT,
    EOPNOTSUPP,
    EAFNOSUPPORT,
    EADDRINUSE,
    EADDRNOTAVAIL,
    ENETUNREACH,
    ECONNABORTED,
    ECONNRESET,
    ENOBUFS,
    EISCONN,
    ENOTCONN,
    ETIMEDOUT,
    ECONNREFUSED,
    EHOSTUNREACH,
    EALREADY,
    EINPROGRESS,
}

impl Errno {
    /// Linux's number for this errno (x86-64 / asm-generic).
    pub fn code(self) -> i32 {
        use Errno::*;
        match self {
            EPERM => 1,
            ENOENT => 2,
            EACCES => 13,
            EPROTO => 71,
            EBADF => 9,
            EAGAIN => 11,
            EINVAL => 22,
            EMFILE => 24,
            EPIPE => 32,
            ENOTSOCK => 88,
            EDESTADDRREQ => 89,
            ENOPROTOOPT => 92,
            EOPNOTSUPP => 95,
            EAFNOSUPPORT => 97,
            EADDRINUSE => 98,
            EADDRNOTAVAIL => 99,
            ENETUNREACH => 101,
            ECONNABORTED => 103,
            ECONNRESET => 104,
            ENOBUFS => 105,
            EISCONN => 106,
            ENOTCONN => 107,
            ETIMEDOUT => 110,
            ECONNREFUSED => 111,
            EHOSTUNREACH => 113,
            EALREADY => 114,
            EINPROGRESS => 115,
        }
    }

    pub fn from_code(code: i32) -> Option<Errno> {
        Self::ALL.iter().copied().find(|e| e.code() == code)
    }

    pub fn from_name(name: &str) -> Option<Errno> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }

    pub const ALL: [Errno; 27] = {
        use Errno::*;
        [
            EPERM,
            ENOENT,
            EACCES,
            EPROTO,
            EBADF,
            EAGAIN,
            EINVAL,
            EMFILE,
            EPIPE,
            ENOTSOCK,
            EDESTADDRREQ,
            ENOPROTOOPT,
            EOPNOTSUPP,
            EAFNOSUPPORT,
            EADDRINUSE,
            EADDRNOTAVAIL,
            ENETUNREACH,
            ECONNABORTED,
            ECONNRESET,
            ENOBUFS,
            EISCONN,
            ENOTCONN,
            ETIMEDOUT,
            ECONNREFUSED,
            EHOSTUNREACH,
            EALREADY,
            EINPROGRESS,
        ]
    };

    pub fn name(self) -> &'static str {
        use Errno::*;
        match self {
            EPERM => "EPERM",
            ENOENT => "ENOENT",
            EACCES => "EACCES",
            EPROTO => "EPROTO",
            EBADF => "EBADF",
            EAGAIN => "EAGAIN",
            EINVAL => "EINVAL",
            EMFILE => "EMFILE",
            EPIPE => "EPIPE",
            ENOTSOCK => "ENOTSOCK",
            EDESTADDRREQ => "EDESTADDRREQ",
            ENOPROTOOPT => "ENOPROTOOPT",
            EOPNOTSUPP => "EOPNOTSUPP",
            EAFNOSUPPORT => "EAFNOSUPPORT",
            EADDRINUSE => "EADDRINUSE",
            EADDRNOTAVAIL => "EADDRNOTAVAIL",
            ENETUNREACH => "ENETUNREACH",
            ECONNABORTED => "ECONNABORTED",
            ECONNRESET => "ECONNRESET",
            ENOBUFS => "ENOBUFS",
            EISCONN => "EISCONN",
            ENOTCONN => "ENOTCONN",
            ETIMEDOUT => "ETIMEDOUT",
            ECONNREFUSED => "ECONNREFUSED",
            EHOSTUNREACH => "EHOSTUNREACH",
            EALREADY => "EALREADY",
            EINPROGRESS => "EINPROGRESS",
        }
    }

    /// strerror(3) text, as packetdrill prints it.
    pub fn message(self) -> &'static str {
        use Errno::*;
        match self {
            EPERM => "Operation not permitted",
            ENOENT => "No such file or directory",
            EACCES => "Permission denied",
            EPROTO => "Protocol error",
            EBADF => "Bad file descriptor",
            EAGAIN => "Resource temporarily unavailable",
            EINVAL => "Invalid argument",
            EMFILE => "Too many open files",
            EPIPE => "Broken pipe",
            ENOTSOCK => "Socket operation on non-socket",
            EDESTADDRREQ => "Destination address required",
            ENOPROTOOPT => "Protocol not available",
            EOPNOTSUPP => "Operation not supported",
            EAFNOSUPPORT => "Address family not supported by protocol",
            EADDRINUSE => "Address already in use",
            EADDRNOTAVAIL => "Cannot assign requested address",
            ENETUNREACH => "Network is unreachable",
            ECONNABORTED => "Software caused connection abort",
            ECONNRESET => "Connection reset by peer",
            ENOBUFS => "No buffer space available",
            EISCONN => "Transport endpoint is already connected",
            ENOTCONN => "Transport endpoint is not connected",
            ETIMEDOUT => "Connection timed out",
            ECONNREFUSED => "Connection refused",
            EHOSTUNREACH => "No route to host",
            EALREADY => "Operation already in progress",
            EINPROGRESS => "Operation now in progress",
        }
    }

    pub fn kind(self) -> io::ErrorKind {
        use io::ErrorKind as K;
        use Errno::*;
        match self {
            EAGAIN | EINPROGRESS | EALREADY => K::WouldBlock,
            EINVAL => K::InvalidInput,
            EPIPE => K::BrokenPipe,
            EADDRINUSE => K::AddrInUse,
            EADDRNOTAVAIL => K::AddrNotAvailable,
            ECONNABORTED => K::ConnectionAborted,
            ECONNRESET => K::ConnectionReset,
            ENOTCONN => K::NotConnected,
            ETIMEDOUT => K::TimedOut,
            ECONNREFUSED => K::ConnectionRefused,
            EOPNOTSUPP | ENOPROTOOPT | EAFNOSUPPORT => K::Unsupported,
            EPERM | EACCES => K::PermissionDenied,
            ENOENT => K::NotFound,
            _ => K::Other,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.message())
    }
}

impl std::error::Error for Errno {}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
