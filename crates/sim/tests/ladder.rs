//! Ladder diagrams and HTML pages: the SVG parses and renders (resvg) to a picture with
//! something in it, and says what the story needs said.
//!
//! `SYNACK_LADDER_PNG=DIR cargo test -p synack-sim --test ladder` renders every scenario
//! and writes each picture to DIR, to look at.
use synack_sim::html;
use synack_sim::ladder::Ladder;
use synack_sim::scenarios::{self, Options};

fn ladder_of(name: &str) -> (String, String) {
    let (w, v) = scenarios::run(name, &Options::default()).unwrap();
    let l = Ladder {
        title: name.into(),
        subtitle: scenarios::find(name).unwrap().summary.into(),
        footer: v.line.clone(),
        ..Ladder::default()
    };
    let svg = l.svg(&w.sim);
    let page = html::page(&w.sim, &l, Some(v.pass), &[]);
    (svg, page)
}

/// Render with resvg; return (width, height, share of pixels that are not white).
fn render(name: &str, svg: &str) -> (u32, u32, f64) {
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_str(svg, &opt).expect("the SVG parses");
    let size = tree.size().to_int_size();
    let mut pix = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pix.as_mut(),
    );
    if let Ok(dir) = std::env::var("SYNACK_LADDER_PNG") {
        pix.save_png(format!("{dir}/{name}.png")).unwrap();
    }
    let ink = pix
        .pixels()
        .iter()
        .filter(|p| p.red() < 200 || p.green() < 200 || p.blue() < 200)
        .count();
    (
        size.width(),
        size.height(),
        ink as f64 / pix.pixels().len() as f64,
    )
}

#[test]
fn handshake_diagram_renders_and_tells_the_story() {
    let (svg, _) = ladder_of("handshake");
    for want in [
        "SYN seq=0",
        "SYN-ACK seq=0 ack=1",
        "ACK seq=1 ack=1",
        "FIN seq=",
        "SYN-SENT",
        "ESTABLISHED",
        "FIN-WAIT-1",
        "TIME-WAIT",
        "LAST-ACK",
        "TIME_WAIT 60 s",
        "… 60 s …",
    ] {
        assert!(svg.contains(want), "the diagram lacks {want:?}");
    }
    assert!(
        !svg.contains("class=\"lost\""),
        "nothing is lost in handshake"
    );
    let (w, h, ink) = render("handshake", &svg);
    assert!(
        (800..4000).contains(&w) && (300..6000).contains(&h),
        "{w}x{h}"
    );
    assert!(ink > 0.005 && ink < 0.5, "ink {ink}");
}

#[test]
fn lost_segments_end_in_a_cross() {
    let (svg, _) = ladder_of("syn-lost");
    // Six SYNs, every one lost: six crosses, the RTO timer between them.
    assert_eq!(svg.matches("class=\"lost\"").count(), 6, "{svg}");
    assert!(svg.contains("RTO"));
    assert!(svg.contains("(retransmission)"));
    let (_, _, ink) = render("syn-lost", &svg);
    assert!(ink > 0.005);
}

#[test]
fn the_story_diagrams_render() {
    let mut names = vec![
        "third-ack-lost",
        "simultaneous-close",
        "time-wait-retransmitted-fin",
        "historical-syn",
        "accept-queue-overflow",
        "syn-flood",
    ];
    // Asked for pictures to look at: every scenario.
    if std::env::var("SYNACK_LADDER_PNG").is_ok() {
        names = scenarios::all().iter().map(|s| s.name).collect();
    }
    for name in names {
        let (svg, _) = ladder_of(name);
        assert!(svg.len() < 400_000, "{name}: {} bytes", svg.len());
        let (w, h, ink) = render(name, &svg);
        assert!(
            w >= 800 && h >= 300 && ink > 0.003,
            "{name}: {w}x{h} ink {ink}"
        );
    }
}

#[test]
fn big_runs_are_capped_and_spoofed_traffic_folded() {
    let (svg, _) = ladder_of("syn-flood");
    assert!(svg.contains("spoofed"), "the flood is summarised");
    assert!(svg.len() < 400_000);
}

/// Tags open and close in order (void elements aside): the page is well-formed enough for
/// any browser to build the same tree.
fn balanced(page: &str) -> Result<(), String> {
    const VOID: &[&str] = &["meta", "br", "img", "input", "link", "hr"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("a tag is not closed")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            match open.pop() {
                Some(o) if o == name => {}
                o => return Err(format!("</{name}> closes {o:?}")),
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if name.is_empty() {
            return Err(format!("a bare '<' before {:?}", &tag[..tag.len().min(20)]));
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "style" {
            let e = rest.find("</style>").ok_or("style not closed")?;
            rest = &rest[e + "</style>".len()..];
            continue;
        }
        open.push(name);
    }
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!("left open: {open:?}"))
    }
}

#[test]
fn the_page_is_well_formed_and_self_contained() {
    for name in ["handshake", "syn-lost", "historical-syn"] {
        let (svg, page) = ladder_of(name);
        balanced(&svg).unwrap_or_else(|e| panic!("{name} svg: {e}"));
        balanced(&page).unwrap_or_else(|e| panic!("{name} page: {e}"));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<svg"));
        assert!(page.contains("<table>"));
        for external in ["src=", "href=", "<script", "url(http", "@import"] {
            assert!(
                !page.contains(external),
                "{name}: external resource {external}"
            );
        }
    }
}
