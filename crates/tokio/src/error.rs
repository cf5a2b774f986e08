//! Errno → `io::Error`, the way a kernel socket reports it.
use std::io;
use synack_core::Errno;

/// The `io::Error` a kernel socket would give for this errno.
///
/// On Linux the error carries the raw errno (`raw_os_error()` is Linux's number, which is
/// what `Errno::code` gives), so code written against tokio's own `TcpStream` — matching on
/// `kind()` or on the raw number — reads synack's errors unchanged: ECONNREFUSED is
/// `ConnectionRefused`, ECONNRESET `ConnectionReset`, ETIMEDOUT `TimedOut`, EPIPE
/// `BrokenPipe`. Elsewhere the numbers would mean other errors, so the kind is set from
/// `Errno::kind` and the errno rides along as the error's payload.
pub fn to_io_error(e: Errno) -> io::Error {
    #[cfg(target_os = "linux")]
    {
        io::Error::from_raw_os_error(e.code())
    }
    #[cfg(not(target_os = "linux"))]
    {
        io::Error::new(e.kind(), e)
    }
}

/// The errno behind an error this crate returned, if it came from the stack.
pub fn errno_of(e: &io::Error) -> Option<Errno> {
    if let Some(code) = e.raw_os_error() {
        return Errno::from_code(code);
    }
    e.get_ref()?.downcast_ref::<Errno>().copied()
}

/// The error of a call on a `Net` whose driver has stopped (device error, or the runtime
/// went away): nothing will ever move again, so waiting would hang.
pub(crate) fn stopped(why: &str) -> io::Error {
    io::Error::other(format!("synack driver stopped: {why}"))
}
