//! HTML building blocks: escaping (everything an agent or a person typed goes through
//! `esc`), the page frame, and small SVG bar charts. No template engine, no scripts from
//! elsewhere: every byte the browser needs comes from the collector.

use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The stylesheet, served at /static/firstline.css.
pub const CSS: &str = r#"
:root { --fg: #1d2430; --muted: #5b6575; --line: #d9dee7; --accent: #1f5fbf; --bad: #b3261e; --warn: #9a6700; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f6f7f9; }
header { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.2em; background: #14213d; color: #fff; }
header a { color: #dfe7f5; text-decoration: none; } header a:hover { color: #fff; }
header .who { margin-left: auto; color: #b9c4d8; }
main { max-width: 1200px; margin: 1.2em auto; padding: 0 1.2em; }
h1 { font-size: 1.35em; margin: .2em 0 .6em; } h2 { font-size: 1.1em; margin: 1.4em 0 .5em; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
.p1, .p2 { color: var(--bad); font-weight: 600; } .p3 { color: var(--warn); } .muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45em; border-radius: 3px; background: #eef1f6; font-size: .9em; }
.late { color: var(--bad); font-weight: 600; }
form.inline { display: inline; } .card { background: #fff; border: 1px solid var(--line); padding: .8em 1em; margin-bottom: 1em; }
.actions { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8em; }
.actions form { background: #fff; border: 1px solid var(--line); padding: .6em .8em; }
input, select, textarea, button { font: inherit; } textarea { width: 100%; min-height: 3.2em; }
button { background: var(--accent); color: #fff; border: 0; padding: .35em .9em; border-radius: 3px; cursor: pointer; }
.filters { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; margin-bottom: .8em; }
.counts span { margin-right: 1em; } pre { white-space: pre-wrap; word-break: break-word; background: #f3f5f8; padding: .6em; }
.error { background: #fde7e6; border: 1px solid #f3b7b3; padding: .6em 1em; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; margin: .3em 0; } dl.kv dt { color: var(--muted); }
body.help { font-size: 15px; } body.help main { max-width: 760px; }
.help nav.languages { margin-left: auto; display: flex; gap: .8em; } .help nav.languages span { font-weight: 600; }
ul.health { list-style: none; margin: 0; padding: 0; background: #fff; border: 1px solid var(--line); }
ul.health li { padding: .55em .9em; border-bottom: 1px solid var(--line); } ul.health li:last-child { border-bottom: 0; }
.dot { display: inline-block; width: .8em; height: .8em; border-radius: 50%; margin-right: .55em; vertical-align: baseline; }
li.green .dot { background: var(--ok); } li.amber .dot { background: #d4a017; } li.red .dot { background: var(--bad); }
li.red .state { color: var(--bad); font-weight: 600; } li.amber .state { color: var(--warn); font-weight: 600; } li.green .state { color: var(--ok); }
.reason { color: var(--muted); } .card.outage { border-left: 4px solid #d4a017; } .card.ticket { border-left: 4px solid var(--accent); font-weight: 600; }
.card.ok { border-left: 4px solid var(--ok); } .entry { margin: .5em 0; } .entry.reply { border-left: 3px solid var(--accent); padding-left: .7em; }
.entry.answer { border-left: 3px solid var(--line); padding-left: .7em; } .entry p { margin: .15em 0; }
form.fixed { border-top: 1px solid var(--line); margin-top: .6em; padding-top: .6em; } fieldset.rating { border: 0; padding: 0; margin: .5em 0; }
fieldset.rating label { margin-right: .8em; white-space: nowrap; } form.fixed button.yes { background: var(--ok); } form.fixed button.no { background: var(--bad); }
#advice li { margin: .3em 0; } .said { font-size: 1.05em; }
@media (max-width: 640px) {
  body.help { font-size: 16px; } header { flex-wrap: wrap; gap: .6em; } main { padding: 0 .7em; }
  body.help button { width: 100%; margin: .35em 0; padding: .65em; } table { display: block; overflow-x: auto; }
}
"#;

/// A whole page: the navigation (with who is signed in) around `body`.
pub fn page(
    title: &str,
    who: Option<(&str, &str)>,
    csrf: Option<&str>,
    body: &str,
    refresh_secs: Option<u32>,
) -> String {
    let mut html = String::with_capacity(body.len() + 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · Firstline</title><link rel=\"stylesheet\" href=\"/static/firstline.css\">",
        esc(title)
    );
    if let Some(seconds) = refresh_secs {
        let _ = write!(html, "<meta http-equiv=\"refresh\" content=\"{seconds}\">");
    }
    html.push_str("</head><body><header><strong>Firstline</strong>");
    if let Some((name, role)) = who {
        let _ = write!(
            html,
            "<a href=\"/\">Queue</a><a href=\"/knowledge\">Knowledge</a><a href=\"/stats\">Stats</a><a href=\"/account\">Account</a><span class=\"who\">{} ({})</span>",
            esc(name),
            esc(role)
        );
        if let Some(csrf) = csrf {
            let _ = write!(
                html,
                "<form class=\"inline\" method=\"post\" action=\"/logout/form\"><input type=\"hidden\" name=\"csrf_token\" value=\"{}\"><button type=\"submit\">Sign out</button></form>",
                esc(csrf)
            );
        }
    }
    let _ = write!(html, "</header><main>{body}</main></body></html>");
    html
}

/// A horizontal bar chart of `(label, value)` as inline SVG.
pub fn bars(title: &str, rows: &[(String, f64)], unit: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"muted\">{}: nothing yet.</p>", esc(title));
    }
    let max = rows
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let row_height = 22;
    let height = rows.len() * row_height + 28;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"560\" height=\"{height}\" viewBox=\"0 0 560 {height}\">",
        esc(title),
        esc(title)
    );
    for (index, (label, value)) in rows.iter().enumerate() {
        let y = index * row_height + 4;
        let width = (value / max * 300.0).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"170\" y=\"{y}\" width=\"{width:.1}\" height=\"16\" fill=\"#1f5fbf\"></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{} {}</text>",
            y + 13,
            esc(&truncate(label, 26)),
            175.0 + width,
            y + 13,
            format_number(*value),
            esc(unit)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(chars - 1).collect::<String>())
    }
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Milliseconds since the epoch as "YYYY-MM-DD HH:MM UTC".
pub fn when(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        ),
        Err(_) => "?".to_owned(),
    }
}

/// A duration in seconds as "3d 4h", "2h 5m", "45s".
pub fn span(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d {}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_typed_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        let chart = bars("t<", &[("<b>".to_owned(), 2.0)], "x");
        assert!(!chart.contains("<b>"), "{chart}");
        assert!(page("<i>", Some(("<u>", "admin")), None, "", None).contains("&lt;u&gt;"));
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(span(45.0), "45s");
        assert_eq!(span(125.0), "2m");
        assert_eq!(span(7500.0), "2h 5m");
        assert_eq!(span(3.0 * 86400.0 + 7200.0), "3d 2h");
    }
}
