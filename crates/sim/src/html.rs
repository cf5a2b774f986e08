//! One self-contained HTML page of a run: the heading, the verdict, the ladder diagram
//! inline, the timeline as a table and (when given) socket tables. No scripts, no external
//! resources: the file opens anywhere, offline.
use crate::ladder::Ladder;
use crate::view::Renderer;
use crate::Sim;
use std::fmt::Write as _;

/// A socket table: a heading (`server at 5 s: ss -tan`) and its text (`ss` output), shown
/// as preformatted text.
pub struct Table {
    pub heading: String,
    pub text: String,
    /// Where it belongs in the timeline: after the first `events` events of the run (a
    /// [`crate::Snapshot`]'s `events`); `None` puts it in a section after the timeline.
    pub events: Option<usize>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for `sim`'s run. `ladder` carries the title, summary and verdict line;
/// `pass` colours the verdict.
pub fn page(sim: &Sim, ladder: &Ladder, pass: Option<bool>, tables: &[Table]) -> String {
    // The diagram without its own heading and verdict: the page has them.
    let mut plain = ladder.clone();
    plain.title.clear();
    plain.subtitle.clear();
    plain.footer.clear();
    let svg = plain.svg(sim);
    let mut r = Renderer::new(sim);
    let events = sim.events();
    // The timeline in pieces, cut where a table was taken.
    let mut inline: Vec<&Table> = tables.iter().filter(|t| t.events.is_some()).collect();
    inline.sort_by_key(|t| t.events);
    let mut pieces: Vec<(Vec<String>, Option<&Table>)> = Vec::new();
    let mut start = 0;
    for t in &inline {
        let end = t.events.unwrap_or(0).clamp(start, events.len());
        pieces.push((r.lines(&events[start..end]), Some(*t)));
        start = end;
    }
    pieces.push((r.lines(&events[start..]), None));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>synack: {title}</title>
<style>
body {{ font-family: "DejaVu Sans", Verdana, Arial, sans-serif; margin: 24px; color: #1f2d3d; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }}
p.summary {{ max-width: 70em; color: #444; }}
p.verdict {{ font-weight: bold; padding: 6px 10px; border-radius: 4px; max-width: 70em; }}
p.pass {{ background: #e6f4ea; }}
p.fail {{ background: #fde8e8; }}
div.diagram {{ overflow-x: auto; border: 1px solid #ddd; padding: 4px; }}
table {{ border-collapse: collapse; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }}
td, th {{ padding: 1px 8px; text-align: left; vertical-align: top; white-space: pre; }}
tr:nth-child(even) {{ background: #f6f8fa; }}
td.t {{ text-align: right; color: #777; }}
pre {{ background: #f6f8fa; padding: 8px; }}
tr.ss td {{ background: #eef3fa; padding: 4px 8px; }}
tr.ss pre {{ background: #ffffff; margin: 4px 0; }}
</style>
</head>
<body>
<h1>{title}</h1>
"#,
        title = esc(&ladder.title)
    );
    if !ladder.subtitle.is_empty() {
        let _ = writeln!(s, r#"<p class="summary">{}</p>"#, esc(&ladder.subtitle));
    }
    if !ladder.footer.is_empty() {
        let class = match pass {
            Some(true) => "verdict pass",
            Some(false) => "verdict fail",
            None => "verdict",
        };
        let _ = writeln!(s, r#"<p class="{class}">{}</p>"#, esc(&ladder.footer));
    }
    s.push_str("<h2>Ladder diagram</h2>\n<div class=\"diagram\">\n");
    s.push_str(&svg);
    s.push_str("</div>\n<h2>Timeline</h2>\n<table>\n<tr><th>time (s)</th><th>host</th><th>event</th></tr>\n");
    for (lines, table) in &pieces {
        for l in lines {
            let t = l.trim_start();
            if t.starts_with('(') {
                let _ = writeln!(s, r#"<tr><td colspan="3">{}</td></tr>"#, esc(t));
                continue;
            }
            let (time, rest) = t.split_once(' ').unwrap_or((t, ""));
            let (host, text) = rest.trim_start().split_once(' ').unwrap_or((rest, ""));
            let _ = writeln!(
                s,
                r#"<tr><td class="t">{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(time.trim_end_matches('s')),
                esc(host),
                esc(text.trim_start())
            );
        }
        if let Some(t) = table {
            let _ = writeln!(
                s,
                r#"<tr class="ss"><td colspan="3"><b>{}</b><pre>{}</pre></td></tr>"#,
                esc(&t.heading),
                esc(&t.text)
            );
        }
    }
    s.push_str("</table>\n");
    let rest: Vec<&Table> = tables.iter().filter(|t| t.events.is_none()).collect();
    if !rest.is_empty() {
        s.push_str("<h2>Sockets</h2>\n");
        for t in rest {
            let _ = writeln!(
                s,
                "<h3>{}</h3>\n<pre>{}</pre>",
                esc(&t.heading),
                esc(&t.text)
            );
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}
