//! packetdrill's language: a script is flags, then timed events. This module turns text
//! into [`Script`]; it knows nothing of our stack.
//!
//! The grammar follows google/packetdrill's `parser.y` for the subset listed in
//! `../shared/packetdrill/README.md`: times (`0.1`, `+0.1`, `*`, `a~b`, `+a...b` for a
//! blocking call), packets (`<`/`>` TCP lines, `< icmp ...`), system calls, backquoted shell
//! commands and `%{ python }%` blocks. Errors carry the line they were found on.
use std::fmt;

/// A parse error, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A parsed script.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// `--name=value` lines (value `None` for a bare `--name`), with their line.
    pub flags: Vec<(String, Option<String>, usize)>,
    pub events: Vec<Event>,
}

/// Microseconds.
pub type Usecs = i64;

/// When an event happens, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// `*`: any time.
    Any,
    /// `0.1` (absolute) or `+0.1` (after the previous event).
    At { rel: bool, t: Usecs },
    /// `a~b`: each bound absolute or relative.
    Range {
        lo: (bool, Usecs),
        hi: (bool, Usecs),
    },
}

/// One timed line of a script.
#[derive(Clone, Debug)]
pub struct Event {
    pub line: usize,
    pub time: Time,
    /// `+a...b`: a blocking call's return time (relative when the start is).
    pub end: Option<Usecs>,
    pub kind: EventKind,
    /// The event as written (first line), for messages.
    pub text: String,
}

#[derive(Clone, Debug)]
pub enum EventKind {
    Packet(PacketLine),
    Syscall(Syscall),
    Shell(String),
    Python(String),
}

/// `<` (inbound, injected) or `>` (outbound, expected).
#[derive(Clone, Debug)]
pub struct PacketLine {
    pub inbound: bool,
    /// `< 10001>8080 S ...`: explicit remote>local (inbound) or local>remote (outbound) ports.
    pub ports: Option<(u16, u16)>,
    pub body: PacketBody,
}

#[derive(Clone, Debug)]
pub enum PacketBody {
    Tcp(TcpLine),
    Icmp(IcmpLine),
}

/// `S. 0:0(0) ack 1 win 32792 <mss 1460,...>`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLine {
    /// TCP flag bits (FIN 0x01 ... CWR 0x80).
    pub flags: u8,
    pub seq: u32,
    pub end: u32,
    pub len: u32,
    pub ack: Option<u32>,
    pub win: Option<u32>,
    /// `None`: `<...>` (not checked); `Some(list)`: exactly these, in order (an empty
    /// list when none are written: as in packetdrill, the segment must carry none).
    pub options: Option<Vec<OptSpec>>,
}

/// One TCP option as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptSpec {
    Nop,
    Eol,
    Mss(u16),
    Wscale(u8),
    SackOk,
    Sack(Vec<(u32, u32)>),
    Ts {
        val: u32,
        ecr: u32,
    },
    /// Fast Open (kind 34 `FO`, or experimental 254/0xF989 `FOEXP`): the cookie bytes
    /// (empty: a cookie request).
    FastOpen {
        exp: bool,
        cookie: Vec<u8>,
    },
}

/// `icmp unreachable frag_needed mtu 800 [0:1000(1000)]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpLine {
    pub kind: String,
    pub code: Option<String>,
    pub mtu: Option<u32>,
    /// The quoted TCP segment's sequence range (our sequence space).
    pub quoted: Option<(u32, u32)>,
}

/// `name(args) = result [ERRNO (text)]`
#[derive(Clone, Debug)]
pub struct Syscall {
    pub name: String,
    pub args: Vec<Expr>,
    pub result: Expr,
    pub errno: Option<String>,
}

/// A system-call argument or result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `...`: anything.
    Ellipsis,
    Int(i64),
    Name(String),
    /// `A|B|C`
    Or(Vec<Expr>),
    /// `[...]`
    List(Vec<Expr>),
    /// `{name=value, ...}`
    Struct(Vec<(String, Expr)>),
    Str(Vec<u8>),
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Ellipsis => f.write_str("..."),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Name(n) => f.write_str(n),
            Expr::Or(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Expr::List(v) => {
                f.write_str("[")?;
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            Expr::Struct(v) => {
                f.write_str("{")?;
                for (i, (k, e)) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={e}")?;
                }
                f.write_str("}")
            }
            Expr::Str(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
        }
    }
}

/// A cursor over the script text that tracks the line.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    defines: &'a [(String, String)],
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }
    fn starts(&self, p: &str) -> bool {
        self.s[self.i..].starts_with(p.as_bytes())
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            line: self.line,
            message: msg.into(),
        })
    }
    /// Skip spaces, newlines and comments (`//` to end of line, `/* */`).
    fn skip_ws(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => {
                    self.bump();
                }
                Some(b'/') if self.peek_at(1) == Some(b'/') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.bump();
                    }
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let start = self.line;
                    self.i += 2;
                    loop {
                        if self.starts("*/") {
                            self.i += 2;
                            break;
                        }
                        if self.bump().is_none() {
                            return Err(ParseError {
                                line: start,
                                message: "unterminated /* comment".into(),
                            });
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }
    /// Skip spaces and tabs only (and `\` line continuations).
    fn skip_blank(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r') => {
                    self.bump();
                }
                Some(b'\\') if self.peek_at(1) == Some(b'\n') => {
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }
    /// The rest of the current line (without a trailing `//` comment).
    fn rest_of_line(&mut self) -> String {
        let start = self.i;
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.bump();
        }
        let mut text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        if let Some(k) = text.find("//") {
            text.truncate(k);
        }
        text.trim().to_string()
    }
}

/// Parse a time number in seconds (`0`, `.01`, `1.5`) into microseconds. A `.` is part of
/// the number only when a digit follows, so `0...3` reads as `0`, `...`, `3`.
fn number_secs(c: &mut Cur<'_>) -> Result<Usecs, ParseError> {
    let start = c.i;
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.bump();
    }
    if c.peek() == Some(b'.') && c.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
        c.bump();
        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
            c.bump();
        }
    }
    let text = std::str::from_utf8(&c.s[start..c.i]).unwrap_or("");
    if text.is_empty() {
        return c.err("expected a time");
    }
    let v: f64 = text
        .parse()
        .or_else(|_| c.err(format!("bad time {text:?}")))?;
    Ok((v * 1e6).round() as Usecs)
}

/// `+0.1`, `0.1`: (relative, microseconds)
fn time_point(c: &mut Cur<'_>) -> Result<(bool, Usecs), ParseError> {
    let rel = c.peek() == Some(b'+');
    if rel {
        c.bump();
    }
    Ok((rel, number_secs(c)?))
}

impl Script {
    /// Parse a whole script. `defines` (`-D NAME=VALUE`) replace names in Fast Open
    /// cookies and system-call arguments, as packetdrill's lexer does.
    pub fn parse(text: &str, defines: &[(String, String)]) -> Result<Script, ParseError> {
        let mut c = Cur {
            s: text.as_bytes(),
            i: 0,
            line: 1,
            defines,
        };
        let mut script = Script::default();
        loop {
            c.skip_ws()?;
            let Some(ch) = c.peek() else { break };
            let line = c.line;
            if ch == b'-' && c.peek_at(1) == Some(b'-') {
                c.i += 2;
                let body = c.rest_of_line();
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n.trim().to_string(), Some(v.trim().to_string())),
                    None => (body.trim().to_string(), None),
                };
                script.flags.push((name, value, line));
                continue;
            }
            // A command or python block without a time runs right after the previous event.
            let (time, end) = if ch == b'`' || c.starts("%{") {
                (Time::At { rel: true, t: 0 }, None)
            } else {
                Self::time(&mut c)?
            };
            c.skip_blank();
            let ev_line = c.line;
            let start = c.i;
            let kind = Self::event_kind(&mut c)?;
            let raw = String::from_utf8_lossy(&c.s[start..c.i]);
            let text = raw.lines().next().unwrap_or("").trim().to_string();
            script.events.push(Event {
                line: if ev_line > line { ev_line } else { line },
                time,
                end,
                kind,
                text,
            });
        }
        Ok(script)
    }

    fn time(c: &mut Cur<'_>) -> Result<(Time, Option<Usecs>), ParseError> {
        if c.peek() == Some(b'*') {
            c.bump();
            return Ok((Time::Any, None));
        }
        let (rel, t) = time_point(c)?;
        let save = (c.i, c.line);
        c.skip_blank();
        if c.starts("...") {
            c.i += 3;
            c.skip_blank();
            let (_, end) = time_point(c)?;
            return Ok((Time::At { rel, t }, Some(end)));
        }
        (c.i, c.line) = save;
        if c.peek() == Some(b'~') {
            c.bump();
            let hi = time_point(c)?;
            return Ok((Time::Range { lo: (rel, t), hi }, None));
        }
        Ok((Time::At { rel, t }, None))
    }

    fn event_kind(c: &mut Cur<'_>) -> Result<EventKind, ParseError> {
        match c.peek() {
            Some(b'`') => {
                let line = c.line;
                c.bump();
                let start = c.i;
                while c.peek().is_some_and(|b| b != b'`') {
                    c.bump();
                }
                if c.peek().is_none() {
                    return Err(ParseError {
                        line,
                        message: "unterminated ` command".into(),
                    });
                }
                let cmd = String::from_utf8_lossy(&c.s[start..c.i]).into_owned();
                c.bump();
                Ok(EventKind::Shell(cmd))
            }
            Some(b'%') if c.starts("%{") => {
                let line = c.line;
                c.i += 2;
                let start = c.i;
                while !c.starts("}%") {
                    if c.bump().is_none() {
                        return Err(ParseError {
                            line,
                            message: "unterminated %{ python block".into(),
                        });
                    }
                }
                let code = String::from_utf8_lossy(&c.s[start..c.i]).into_owned();
                c.i += 2;
                Ok(EventKind::Python(code))
            }
            Some(b'<' | b'>') => {
                let inbound = c.bump() == Some(b'<');
                let line = c.line;
                let text = c.rest_of_line();
                parse_packet(inbound, &text, c.defines)
                    .map_err(|message| ParseError { line, message })
            }
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                let name = ident(c);
                c.skip_blank();
                if c.peek() != Some(b'(') {
                    return c.err(format!("expected '(' after {name}"));
                }
                c.bump();
                let args = expr_list(c, b')')?;
                c.skip_ws()?;
                if c.peek() != Some(b'=') {
                    return c.err(format!("expected '= result' after {name}(...)"));
                }
                c.bump();
                c.skip_blank();
                let result = expr(c)?;
                c.skip_blank();
                let mut errno = None;
                if c.peek().is_some_and(|b| b.is_ascii_uppercase()) {
                    errno = Some(ident(c));
                    c.skip_blank();
                }
                if c.peek() == Some(b'(') {
                    // (strerror text): informative only
                    while !matches!(c.peek(), None | Some(b')') | Some(b'\n')) {
                        c.bump();
                    }
                    if c.peek() == Some(b')') {
                        c.bump();
                    }
                }
                let rest = c.rest_of_line();
                if !rest.is_empty() {
                    return c.err(format!("unexpected {rest:?} after the system call"));
                }
                Ok(EventKind::Syscall(Syscall {
                    name,
                    args,
                    result,
                    errno,
                }))
            }
            _ => {
                let rest = c.rest_of_line();
                c.err(format!(
                    "expected a packet, system call, command or python block, found {rest:?}"
                ))
            }
        }
    }
}

fn ident(c: &mut Cur<'_>) -> String {
    let start = c.i;
    while c
        .peek()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        c.bump();
    }
    String::from_utf8_lossy(&c.s[start..c.i]).into_owned()
}

/// Comma-separated expressions up to `close` (consumed).
fn expr_list(c: &mut Cur<'_>, close: u8) -> Result<Vec<Expr>, ParseError> {
    let mut out = Vec::new();
    loop {
        c.skip_ws()?;
        if c.peek() == Some(close) {
            c.bump();
            return Ok(out);
        }
        out.push(expr(c)?);
        c.skip_ws()?;
        match c.peek() {
            Some(b',') => {
                c.bump();
            }
            Some(x) if x == close => {
                c.bump();
                return Ok(out);
            }
            _ => return c.err(format!("expected ',' or '{}'", close as char)),
        }
    }
}

fn expr(c: &mut Cur<'_>) -> Result<Expr, ParseError> {
    let first = atom(c)?;
    c.skip_blank();
    if c.peek() != Some(b'|') {
        return Ok(first);
    }
    let mut v = vec![first];
    while c.peek() == Some(b'|') {
        c.bump();
        c.skip_ws()?;
        v.push(atom(c)?);
        c.skip_blank();
    }
    Ok(Expr::Or(v))
}

fn atom(c: &mut Cur<'_>) -> Result<Expr, ParseError> {
    c.skip_ws()?;
    match c.peek() {
        Some(b'.') if c.starts("...") => {
            c.i += 3;
            Ok(Expr::Ellipsis)
        }
        Some(b'[') => {
            c.bump();
            Ok(Expr::List(expr_list(c, b']')?))
        }
        Some(b'{') => {
            c.bump();
            let mut fields = Vec::new();
            loop {
                c.skip_ws()?;
                if c.peek() == Some(b'}') {
                    c.bump();
                    break;
                }
                let name = ident(c);
                if name.is_empty() {
                    return c.err("expected a field name in {...}");
                }
                c.skip_ws()?;
                if c.peek() != Some(b'=') {
                    return c.err(format!("expected '=' after {name}"));
                }
                c.bump();
                let v = expr(c)?;
                fields.push((name, v));
                c.skip_ws()?;
                match c.peek() {
                    Some(b',') => {
                        c.bump();
                    }
                    Some(b'}') => {}
                    _ => return c.err("expected ',' or '}'"),
                }
            }
            Ok(Expr::Struct(fields))
        }
        Some(b'"') => {
            c.bump();
            let mut out = Vec::new();
            loop {
                match c.bump() {
                    None | Some(b'\n') => return c.err("unterminated string"),
                    Some(b'"') => break,
                    Some(b'\\') => match c.bump() {
                        Some(b'x') => {
                            let h: String =
                                (0..2).filter_map(|_| c.bump().map(char::from)).collect();
                            let v = u8::from_str_radix(&h, 16)
                                .or_else(|_| c.err(format!("bad \\x escape {h:?}")))?;
                            out.push(v);
                        }
                        Some(b'n') => out.push(b'\n'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'0') => out.push(0),
                        Some(x) => out.push(x),
                        None => return c.err("unterminated string"),
                    },
                    Some(x) => out.push(x),
                }
            }
            Ok(Expr::Str(out))
        }
        Some(b'-') | Some(b'0'..=b'9') => {
            let neg = c.peek() == Some(b'-');
            if neg {
                c.bump();
            }
            let start = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                c.bump();
            }
            let t = std::str::from_utf8(&c.s[start..c.i]).unwrap_or("");
            let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                i64::from_str_radix(h, 16)
            } else {
                t.parse()
            }
            .or_else(|_| c.err(format!("bad number {t:?}")))?;
            Ok(Expr::Int(if neg { -v } else { v }))
        }
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
            let name = ident(c);
            match c.defines.iter().find(|(n, _)| *n == name) {
                Some((_, v)) => Ok(match v.parse::<i64>() {
                    Ok(n) => Expr::Int(n),
                    Err(_) => Expr::Name(v.clone()),
                }),
                None => Ok(Expr::Name(name)),
            }
        }
        _ => c.err("expected an argument"),
    }
}

/// Flags as packetdrill writes them: `S`, `.` (ACK), `F`, `P`, `R`, `U`, `E`, `W`, `-`.
fn parse_flags(t: &str) -> Result<u8, String> {
    let mut f = 0u8;
    for ch in t.chars() {
        f |= match ch {
            'F' => 0x01,
            'S' => 0x02,
            'R' => 0x04,
            'P' => 0x08,
            '.' => 0x10,
            'U' => 0x20,
            'E' => 0x40,
            'W' => 0x80,
            '-' => 0,
            _ => return Err(format!("unknown TCP flag {ch:?} in {t:?}")),
        };
    }
    Ok(f)
}

/// `1:1001(1000)`
fn parse_range(t: &str) -> Result<(u32, u32, u32), String> {
    let bad = || format!("expected start:end(length), found {t:?}");
    let (s, rest) = t.split_once(':').ok_or_else(bad)?;
    let (e, rest) = rest.split_once('(').ok_or_else(bad)?;
    let l = rest.strip_suffix(')').ok_or_else(bad)?;
    let num = |x: &str| x.trim().parse::<u32>().map_err(|_| bad());
    let (s, e, l) = (num(s)?, num(e)?, num(l)?);
    if e.wrapping_sub(s) != l {
        return Err(format!("{t}: end - start is not the length"));
    }
    Ok((s, e, l))
}

fn parse_packet(
    inbound: bool,
    text: &str,
    defines: &[(String, String)],
) -> Result<EventKind, String> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let mut ports = None;
    if let Some(w) = words.first() {
        if let Some((a, b)) = w.split_once('>') {
            if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                ports = Some((a, b));
                words.remove(0);
            }
        }
    }
    if words.first() == Some(&"icmp") {
        // Defines may name the code (`icmp unreachable CODE` with -D CODE=...).
        let resolved: Vec<String> = words[1..]
            .iter()
            .map(|w| match defines.iter().find(|(n, _)| n == w) {
                Some((_, v)) => v.clone(),
                None => w.to_string(),
            })
            .collect();
        if let Some(w) = resolved
            .iter()
            .find(|w| w.len() > 1 && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        {
            return Err(format!(
                "{w} is not defined (pass -D {w}=... as to packetdrill)"
            ));
        }
        let words: Vec<&str> = resolved.iter().map(String::as_str).collect();
        return parse_icmp(&words).map(|i| {
            EventKind::Packet(PacketLine {
                inbound,
                ports,
                body: PacketBody::Icmp(i),
            })
        });
    }
    // Options may contain spaces: split them off first.
    let (head, options) = match text.find('<') {
        Some(k) => {
            let body = text[k + 1..]
                .trim_end()
                .strip_suffix('>')
                .ok_or_else(|| format!("unterminated option list in {text:?}"))?;
            (&text[..k], Some(body))
        }
        None => (text, None),
    };
    let mut w: Vec<&str> = head.split_whitespace().collect();
    if ports.is_some() {
        w.remove(0);
    }
    if w.len() < 2 {
        return Err(format!("expected flags and start:end(length) in {text:?}"));
    }
    let flags = parse_flags(w[0])?;
    let (seq, end, len) = parse_range(w[1])?;
    let mut ack = None;
    let mut win = None;
    let mut i = 2;
    while i < w.len() {
        let val = |k: usize| -> Result<u32, String> {
            w.get(k + 1)
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or_else(|| format!("expected a number after {:?}", w[k]))
        };
        match w[i] {
            "ack" => ack = Some(val(i)?),
            "win" => win = Some(val(i)?),
            other => return Err(format!("unsupported: packet field {other:?}")),
        }
        i += 2;
    }
    let options = match options {
        None => Some(Vec::new()),
        Some(o) if o.trim() == "..." => None,
        Some(o) => Some(parse_options(o, defines)?),
    };
    Ok(EventKind::Packet(PacketLine {
        inbound,
        ports,
        body: PacketBody::Tcp(TcpLine {
            flags,
            seq,
            end,
            len,
            ack,
            win,
            options,
        }),
    }))
}

/// Hex cookie bytes (`abcd1234`); a name is kept as `name` for the define pass.
fn hex_bytes(t: &str) -> Result<Vec<u8>, String> {
    if !t.len().is_multiple_of(2) || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("bad cookie {t:?} (an even number of hex digits)"));
    }
    Ok((0..t.len())
        .step_by(2)
        .map(|k| u8::from_str_radix(&t[k..k + 2], 16).unwrap_or(0))
        .collect())
}

fn parse_options(text: &str, defines: &[(String, String)]) -> Result<Vec<OptSpec>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let w: Vec<&str> = item.split_whitespace().collect();
        let num = |k: usize| -> Result<u64, String> {
            w.get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("bad option {:?}", item.trim()))
        };
        let o = match w.first().copied() {
            Some("nop") => OptSpec::Nop,
            Some("eol") => OptSpec::Eol,
            Some("mss") => OptSpec::Mss(num(1)? as u16),
            Some("wscale") => OptSpec::Wscale(num(1)? as u8),
            Some("sackOK") => OptSpec::SackOk,
            Some("sack") => {
                let mut blocks = Vec::new();
                for b in &w[1..] {
                    let (l, r) = b
                        .split_once(':')
                        .ok_or_else(|| format!("bad SACK block {b:?}"))?;
                    let p = |x: &str| {
                        x.parse::<u32>()
                            .map_err(|_| format!("bad SACK block {b:?}"))
                    };
                    blocks.push((p(l)?, p(r)?));
                }
                OptSpec::Sack(blocks)
            }
            Some("TS") => {
                if w.get(1) != Some(&"val") || w.get(3) != Some(&"ecr") {
                    return Err(format!("bad option {:?} (TS val N ecr M)", item.trim()));
                }
                OptSpec::Ts {
                    val: num(2)? as u32,
                    ecr: num(4)? as u32,
                }
            }
            Some(k @ ("FO" | "FOEXP")) => OptSpec::FastOpen {
                exp: k == "FOEXP",
                cookie: match w.get(1) {
                    None => Vec::new(),
                    Some(c) => match defines.iter().find(|(n, _)| n == c) {
                        Some((_, v)) => hex_bytes(v)?,
                        None if c.bytes().all(|b| b.is_ascii_hexdigit()) => hex_bytes(c)?,
                        None => return Err(format!("unknown define {c:?} (use -D {c}=...)")),
                    },
                },
            },
            Some(other) => return Err(format!("unsupported: TCP option {other:?}")),
            None => return Err(format!("empty option in <{text}>")),
        };
        out.push(o);
    }
    Ok(out)
}

fn parse_icmp(w: &[&str]) -> Result<IcmpLine, String> {
    let mut line = IcmpLine {
        kind: String::new(),
        code: None,
        mtu: None,
        quoted: None,
    };
    let mut i = 0;
    while i < w.len() {
        let t = w[i];
        if let Some(inner) = t.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or("bad quoted segment")?;
            let (s, e, _) = parse_range(inner)?;
            line.quoted = Some((s, e));
        } else if t == "mtu" {
            line.mtu = Some(
                w.get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .ok_or("expected a number after mtu")?,
            );
            i += 1;
        } else if line.kind.is_empty() {
            line.kind = t.to_string();
        } else if line.code.is_none() {
            line.code = Some(t.to_string());
        } else {
            return Err(format!("unexpected {t:?} in an icmp line"));
        }
        i += 1;
    }
    if line.kind.is_empty() {
        return Err("icmp needs a type (unreachable, packet_too_big, ...)".into());
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_readme_examples() {
        let s = Script::parse(
            "--tolerance_usecs=10000\n`../common/defaults.sh`\n    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0...0.200 accept(3, ..., ...) = 4\n  +.1 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n\
             +0 > S. 0:0(0) ack 1 <...>\n+.3~+.400 > F. 1:1(0) ack 1\n* > R 2:2(0)\n\
             +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n\
             +0 %{ assert tcpi_probes == 0, tcpi_probes; \\\n assert 1 }%\n\
             +0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n\
             +0 poll([{fd=3,\n events=POLLIN|POLLOUT,\n revents=POLLOUT}], 1, 100) = 1\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.flags[0].0, "tolerance_usecs");
        assert_eq!(s.events.len(), 11);
        assert!(matches!(s.events[0].kind, EventKind::Shell(_)));
        assert_eq!(s.events[2].end, Some(200_000));
        assert_eq!(
            s.events[3].time,
            Time::At {
                rel: true,
                t: 100_000
            }
        );
        let EventKind::Packet(p) = &s.events[3].kind else {
            panic!()
        };
        let PacketBody::Tcp(t) = &p.body else {
            panic!()
        };
        assert_eq!(t.flags, 0x02);
        assert_eq!(t.win, Some(32792));
        assert_eq!(
            t.options,
            Some(vec![OptSpec::Mss(1000), OptSpec::Nop, OptSpec::Wscale(7)])
        );
        assert_eq!(
            s.events[5].time,
            Time::Range {
                lo: (true, 300_000),
                hi: (true, 400_000)
            }
        );
        let EventKind::Syscall(sc) = &s.events[7].kind else {
            panic!()
        };
        assert_eq!(sc.result, Expr::Int(-1));
        assert_eq!(sc.errno.as_deref(), Some("EINPROGRESS"));
        assert_eq!(s.events[10].line, 13);
    }

    #[test]
    fn errors_name_the_line() {
        let e = Script::parse(
            "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > Q 0:0(0)\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("flag"), "{e}");
        let e = Script::parse("0 foo(1, 2\n", &[]).unwrap_err();
        assert!(e.message.contains("expected"), "{e}");
    }
}
