//! Backquoted shell lines. We do not run a shell: the commands these suites use are
//! understood and applied to our stack; anything else fails the script by name.
use crate::runner::{Failure, Runner};
use std::path::Path;
use synack_core::Config;

impl Runner {
    pub(crate) fn shell(&mut self, text: &str) -> Result<(), Failure> {
        let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
        for line in joined.lines() {
            for cmd in line.split(';') {
                let cmd = cmd.trim();
                if !cmd.is_empty() {
                    self.command(cmd)?;
                }
            }
        }
        Ok(())
    }

    /// `a || b`: b runs only if a fails, as in a shell.
    fn command(&mut self, cmd: &str) -> Result<(), Failure> {
        let mut err = None;
        for alt in cmd.split("||") {
            match self.simple_command(alt.trim()) {
                Ok(()) => return Ok(()),
                Err(e) => err = Some(e),
            }
        }
        Err(err.unwrap_or_default())
    }

    fn simple_command(&mut self, cmd: &str) -> Result<(), Failure> {
        let (cmd, grep) = match cmd.split_once('|') {
            Some((a, b)) => (a.trim(), Some(b.trim())),
            None => (cmd, None),
        };
        // Redirections to /dev/null change nothing we model.
        let owned = words_of(cmd);
        let words: Vec<&str> = owned
            .iter()
            .map(String::as_str)
            .filter(|w| !w.ends_with("/dev/null") && !matches!(*w, ">" | "2>" | "&>"))
            .collect();
        let unsupported = || format!("unsupported: shell command `{cmd}`");
        let Some(&prog) = words.first() else {
            return Ok(());
        };
        if grep.is_some() && prog != "nstat" {
            return Err(unsupported());
        }
        if prog.ends_with("defaults.sh") {
            return self.apply_defaults();
        }
        if prog.ends_with("set_sysctls.py") {
            for a in &words[1..] {
                let (name, value) = a.split_once('=').ok_or_else(unsupported)?;
                let old = self
                    .stack
                    .config()
                    .get(name)
                    .map_err(|e| format!("set_sysctls.py: {e}"))?;
                self.saved_sysctls.push((name.to_string(), old));
                self.sysctl(name, value)?;
            }
            return Ok(());
        }
        if prog.contains("sysctl_restore") {
            while let Some((name, value)) = self.saved_sysctls.pop() {
                self.sysctl(&name, &value)?;
            }
            return Ok(());
        }
        match prog {
            "sysctl" => {
                for a in words[1..].iter().filter(|w| !w.starts_with('-')) {
                    let (name, value) = a.split_once('=').ok_or_else(unsupported)?;
                    self.sysctl(name, value)?;
                }
                Ok(())
            }
            "echo" => {
                // echo VALUE > /proc/sys/...
                let (value, path) = cmd
                    .strip_prefix("echo")
                    .and_then(|r| r.split_once('>'))
                    .ok_or_else(unsupported)?;
                let path = path.trim();
                if !path.starts_with("/proc/sys/") {
                    return Err(unsupported());
                }
                self.sysctl(path, value.trim())
            }
            "ip" if words[1..] == ["tcp_metrics", "flush", "all"]
                || words[1..] == ["tcp_metrics", "flush"] =>
            {
                self.stack.fastopen_cache_flush();
                self.note(|| "tcp_metrics flushed (Fast Open cookies forgotten)".into());
                Ok(())
            }
            "tc" => {
                // A qdisc that drops everything is a blocked link: the stack hears of it
                // (Linux's TCP sees each refused packet), and what still comes out of it
                // (control segments, retransmissions) is dropped here.
                if words.contains(&"delete") || words.contains(&"del") {
                    self.blackhole = false;
                    self.stack.set_link_blocked(self.now, false);
                    Ok(())
                } else if words.contains(&"add") && words.ends_with(&["pfifo", "limit", "0"]) {
                    self.blackhole = true;
                    self.stack.set_link_blocked(self.now, true);
                    Ok(())
                } else {
                    Err(unsupported())
                }
            }
            "nstat" => self.nstat(&words[1..], grep),
            _ => Err(unsupported()),
        }
    }

    fn sysctl(&mut self, name: &str, value: &str) -> Result<(), Failure> {
        self.stack
            .config_mut()
            .set(name, value)
            .map_err(|e| format!("sysctl: {e}"))?;
        self.note(|| format!("sysctl {name}={value}"));
        Ok(())
    }

    /// `defaults.sh`: the nearest `defaults.conf` at or above the script.
    fn apply_defaults(&mut self) -> Result<(), Failure> {
        let start = self.path.parent().unwrap_or(Path::new("."));
        let conf = start
            .ancestors()
            .map(|d| d.join("defaults.conf"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "defaults.sh: no defaults.conf in {} or above",
                    start.display()
                )
            })?;
        let mut cfg: Config = self.stack.config().clone();
        cfg.load_file(&conf)
            .map_err(|e| format!("defaults.sh: {e}"))?;
        *self.stack.config_mut() = cfg;
        // The suites' defaults.sh also flushes tcp_metrics (cached Fast Open cookies).
        self.stack.fastopen_cache_flush();
        self.note(|| format!("applied {}", conf.display()));
        Ok(())
    }

    /// `nstat`: counters changed since the last `nstat`, as `Name value` lines; piped
    /// into `grep PATTERN`, the command succeeds only if a line matches (as in a shell).
    fn nstat(&mut self, args: &[&str], grep: Option<&str>) -> Result<(), Failure> {
        if args
            .iter()
            .any(|a| !matches!(*a, "-n" | "-a" | "-z" | "-s"))
        {
            return Err(format!("unsupported: nstat {}", args.join(" ")));
        }
        let all = args.contains(&"-a");
        let zeros = args.contains(&"-z");
        let mut lines = Vec::new();
        let now: Vec<(&'static str, u64)> = self.stack.counters().iter().collect();
        for (name, v) in now {
            let base = if all {
                0
            } else {
                self.nstat_base.get(name).copied().unwrap_or(0)
            };
            let d = v.saturating_sub(base);
            if d != 0 || zeros {
                lines.push(format!("{name} {d}"));
            }
            if !args.contains(&"-s") {
                self.nstat_base.insert(name, v);
            }
        }
        self.note(|| format!("nstat: {}", lines.join(", ")));
        if let Some(g) = grep {
            let pat = g
                .strip_prefix("grep")
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.starts_with('-'))
                .ok_or_else(|| format!("unsupported: `| {g}`"))?;
            // The pattern is grep's first argument; what follows is a redirection.
            let pat = pat.split_whitespace().next().unwrap_or(pat);
            let pat = pat.trim_matches(['"', '\'']);
            if !lines.iter().any(|l| l.contains(pat)) {
                return Err(format!(
                    "`nstat | grep {pat}` found nothing: the counter did not change (changed: {})",
                    if lines.is_empty() {
                        "none".into()
                    } else {
                        lines.join(", ")
                    }
                ));
            }
        }
        Ok(())
    }
}

/// A command's words as a shell splits them: whitespace separates, single and double
/// quotes group (`sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"` is two words) and are
/// removed. Nothing is expanded.
fn words_of(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for ch in cmd.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::words_of;

    #[test]
    fn quotes_group_words_and_go() {
        assert_eq!(
            words_of(r#"sysctl -q net.ipv4.tcp_rmem="4096 131072 33554432""#),
            ["sysctl", "-q", "net.ipv4.tcp_rmem=4096 131072 33554432"]
        );
        assert_eq!(words_of("echo 'a  b' > /x"), ["echo", "a  b", ">", "/x"]);
        assert_eq!(words_of("  a   b "), ["a", "b"]);
        assert_eq!(words_of(r#"x="" y"#), ["x=", "y"]);
    }
}
