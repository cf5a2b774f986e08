//! `%{ python }%` blocks: run with python3, as packetdrill does, after defining
//! `tcpi_*` from our TCP_INFO of the socket under test and Linux's constants.
use crate::runner::{Failure, Handle, Runner, Sut};
use std::io::Write;
use std::process::{Command, Stdio};
use synack_core::TcpInfo;

/// Linux's names for tcpi_state values and tcpi_options bits.
const PRELUDE: &str = "\
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_SYN_RECV = 3
TCP_FIN_WAIT1 = 4
TCP_FIN_WAIT2 = 5
TCP_TIME_WAIT = 6
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8
TCP_LAST_ACK = 9
TCP_LISTEN = 10
TCP_CLOSING = 11
TCP_NEW_SYN_RECV = 12
TCPI_OPT_TIMESTAMPS = 1
TCPI_OPT_SACK = 2
TCPI_OPT_WSCALE = 4
TCPI_OPT_ECN = 8
TCPI_OPT_ECN_SEEN = 16
TCPI_OPT_SYN_DATA = 32
TCP_CA_Open = 0
TCP_CA_Disorder = 1
TCP_CA_CWR = 2
TCP_CA_Recovery = 3
TCP_CA_Loss = 4
";

/// The block's code as a python program: the first line stripped, the rest dedented.
fn program(code: &str) -> String {
    let mut lines = code.lines();
    let first = lines.next().unwrap_or("").trim().to_string();
    let rest: Vec<&str> = lines.collect();
    let indent = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = first;
    for l in rest {
        out.push('\n');
        out.push_str(l.get(indent..).unwrap_or(l.trim_start()));
    }
    // A continued first line (`a; \`) puts the next line's indent inside the statement.
    out
}

impl Runner {
    /// TCP_INFO of the socket under test (packetdrill's `tcpi_*`).
    fn info_under_test(&self) -> Result<TcpInfo, Failure> {
        if let Some(Sut::Socket(sfd)) = self.sut {
            if let Some(Handle::Sock { fd, .. }) = self.fds.get(&sfd) {
                let listening = self.stack.state(*fd).ok() == Some(synack_core::TcpState::Listen);
                let is_flow = self.flow.is_some_and(|i| self.flows[i].fd == Some(*fd));
                if !listening && !is_flow {
                    return self
                        .stack
                        .tcp_info(self.now, *fd)
                        .map_err(|e| format!("TCP_INFO: {e}"));
                }
            }
        }
        let i = self
            .flow
            .ok_or("TCP_INFO: no socket under test (no connection yet)")?;
        let f = &self.flows[i];
        if let Some(fd) = f.fd {
            if let Ok(info) = self.stack.tcp_info(self.now, fd) {
                return Ok(info);
            }
        }
        Ok(self
            .stack
            .tcp_info_of(self.now, f.local, f.remote)
            .unwrap_or(TcpInfo {
                state: 7, // TCP_CLOSE: the connection is gone
                ..Default::default()
            }))
    }

    pub(crate) fn python(&mut self, code: &str) -> Result<(), Failure> {
        let info = self.info_under_test()?;
        let mut src = String::from(PRELUDE);
        for (name, v) in info.fields() {
            src += &format!("{name} = {v}\n");
        }
        src += &program(code);
        src.push('\n');
        self.note(|| format!("python: {}", code.trim()));
        let mut child = Command::new("python3")
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("%{{ }}% blocks need python3: {e}"))?;
        child
            .stdin
            .take()
            .ok_or("python3: no stdin")?
            .write_all(src.as_bytes())
            .map_err(|e| format!("python3: {e}"))?;
        let out = child
            .wait_with_output()
            .map_err(|e| format!("python3: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("python3 failed");
        Err(format!(
            "python block failed: {last} (code: {})",
            code.trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocks_become_programs() {
        assert_eq!(
            super::program(
                " assert tcpi_probes == 0, tcpi_probes; \\\n         assert tcpi_backoff == 0 "
            ),
            "assert tcpi_probes == 0, tcpi_probes; \\\nassert tcpi_backoff == 0 "
        );
        assert_eq!(
            super::program(" x = 1\n    y = 2\n    z = 3\n"),
            "x = 1\ny = 2\nz = 3"
        );
    }
}
