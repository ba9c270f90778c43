//! HTML building blocks: escaping (everything an agent or a person typed goes through
//! `esc`), the page frame, and small SVG bar charts. No template engine, no scripts from
//! elsewhere: every byte the browser needs comes from the collector.

use std::fmt::Write;

use firstline_i18n::Lang;

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
.counts span { margin-right: 1em; } nav.pager { margin: .6em 0; } nav.pager a { margin: 0 .4em; } fieldset label.choice { display: inline-block; margin-right: 1em; } pre { white-space: pre-wrap; word-break: break-word; background: #f3f5f8; padding: .6em; }
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
header nav.main { display: flex; gap: 1.2em; } header form.search input { width: 16em; padding: .25em .5em; border: 0; border-radius: 3px; }
nav.views { display: flex; flex-wrap: wrap; gap: .4em; margin: 0 0 .8em; } nav.views a { padding: .25em .7em; border: 1px solid var(--line); border-radius: 14px; background: #fff; text-decoration: none; color: var(--fg); }
nav.views a.current { background: var(--accent); border-color: var(--accent); color: #fff; }
form.bulk { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: center; background: #fff; border: 1px solid var(--line); border-bottom: 0; padding: .5em .6em; }
form.bulk .group { display: inline-flex; gap: .3em; } #queue tr.current { outline: 2px solid var(--accent); outline-offset: -2px; } #queue td.what { min-width: 18em; }
.soon { color: var(--warn); font-weight: 600; } .card.ok { border-left: 4px solid var(--ok); } p.keys { font-size: .85em; }
.health.problems { color: var(--bad); font-weight: 600; } .health.offline, .health.revoked { color: var(--muted); } .health.healthy { color: var(--ok); }
ul.hits { list-style: none; padding: 0; } ul.hits li { background: #fff; border: 1px solid var(--line); padding: .5em .8em; margin-bottom: .4em; } mark { background: #fff3b0; padding: 0 .1em; }
@media (max-width: 640px) {
  body.help { font-size: 16px; } header { flex-wrap: wrap; gap: .6em; } main { padding: 0 .7em; }
  body.help button { width: 100%; margin: .35em 0; padding: .65em; } table { display: block; overflow-x: auto; }
  header nav.main { flex-wrap: wrap; gap: .8em; } header form.search { order: 5; width: 100%; } header form.search input { width: 100%; }
  #queue, #devices { display: block; border: 0; background: transparent; } #queue thead, #devices thead { display: none; }
  #queue tbody, #devices tbody { display: block; } #queue tr, #devices tr { display: grid; grid-template-columns: auto 1fr; gap: 0 .6em; background: #fff; border: 1px solid var(--line); margin-bottom: .6em; padding: .4em .2em; }
  #queue td, #devices td { display: block; border: 0; padding: .1em .4em; overflow-wrap: anywhere; min-width: 0; } #queue td.what, #devices td:first-child { grid-column: 1 / -1; min-width: 0; font-size: 1.05em; }
  #queue td:first-child { grid-row: 1; grid-column: 1; } #queue td.what { grid-column: 2; grid-row: 1; }
  #queue td[data-label]::before, #devices td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); }
  form.bulk .group { flex: 1 1 100%; } form.bulk .group input, form.bulk .group select { flex: 1; min-width: 0; }
  .filters label { flex: 1 1 45%; } .filters select, .filters input { width: 100%; }
}
"#;

/// The staff pages' script, served at /static/firstline.js. Everything works without it; with
/// it, times show in the reader's time zone, the queue keeps itself current in place (never
/// while someone is selecting or typing), and the queue has keys: j/k move, x selects, o or
/// Enter opens, a assigns and r resolves the selected, / searches.
pub const SCRIPT: &str = r##"(function () {
  "use strict";
  var root = document.documentElement;
  var lang = root.lang || "en";
  var zone = root.getAttribute("data-time-zone");
  function formatter() {
    var options = { dateStyle: "medium", timeStyle: "short" };
    if (zone) options.timeZone = zone;
    try { return new Intl.DateTimeFormat(lang, options); } catch (e) {
      delete options.timeZone;
      return new Intl.DateTimeFormat(lang, options);
    }
  }
  var format = formatter();
  function localTimes(scope) {
    scope.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      if (el.classList.contains("absolute")) el.textContent = format.format(at);
      else el.title = format.format(at);
    });
  }
  localTimes(document);

  var zones = document.getElementById("time-zones");
  if (zones && Intl.supportedValuesOf) {
    Intl.supportedValuesOf("timeZone").forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      zones.appendChild(option);
    });
  }

  function typing(el) { return el && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) && el.type !== "checkbox"; }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr")); }
  var currentId = null;
  function mark(row) {
    rows().forEach(function (r) { r.classList.remove("current"); });
    if (!row) return;
    row.classList.add("current");
    currentId = row.getAttribute("data-id");
    row.scrollIntoView({ block: "nearest" });
  }
  function current() {
    return rows().filter(function (r) { return r.getAttribute("data-id") === currentId; })[0] || null;
  }
  function box(row) { return row && row.querySelector("input[type=checkbox]"); }

  document.querySelectorAll("select[data-fills]").forEach(function (select) {
    select.addEventListener("change", function () {
      var target = document.getElementById(select.getAttribute("data-fills"));
      if (target && select.value) { target.value = select.value; target.focus(); }
    });
  });

  var all = document.getElementById("select-all");
  if (all) all.addEventListener("change", function () {
    rows().forEach(function (r) { var b = box(r); if (b) b.checked = all.checked; });
  });

  var queue = document.getElementById("queue");
  if (queue && queue.getAttribute("data-live")) {
    var every = Math.max(5, parseInt(queue.getAttribute("data-live"), 10) || 20) * 1000;
    setInterval(function () {
      if (document.hidden || typing(document.activeElement)) return;
      if (document.querySelector("#queue tbody input[type=checkbox]:checked")) return;
      fetch(location.href, { credentials: "same-origin" }).then(function (response) {
        if (!response.ok || response.redirected) throw new Error(String(response.status));
        return response.text();
      }).then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        ["queue", "counts", "empty"].forEach(function (id) {
          var now = document.getElementById(id), next = fresh.getElementById(id);
          if (now && next) now.replaceWith(document.importNode(next, true));
          else if (now) now.remove();
          else if (next && id === "empty") document.getElementById("queue").after(document.importNode(next, true));
        });
        localTimes(document);
        mark(current());
      }).catch(function () {});
    }, every);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "/") {
      var search = document.getElementById("search-box");
      if (search) { search.focus(); event.preventDefault(); }
      return;
    }
    if (!document.getElementById("queue")) return;
    var list = rows(), row = current(), at = list.indexOf(row);
    switch (event.key) {
      case "j": mark(list[Math.min(at + 1, list.length - 1)]); break;
      case "k": mark(list[Math.max(at - 1, 0)]); break;
      case "x": if (box(row)) box(row).checked = !box(row).checked; break;
      case "o": case "Enter":
        if (!row) return;
        var link = row.querySelector("td.what a");
        if (link) location.href = link.href;
        break;
      case "a": case "r":
        if (row && box(row) && !document.querySelector("#queue tbody input[type=checkbox]:checked")) box(row).checked = true;
        var target = document.getElementById(event.key === "a" ? "bulk-assign" : "bulk-solution");
        if (target) target.focus();
        break;
      default: return;
    }
    event.preventDefault();
  });
})();
"##;

/// A page's start, up to `<body>`: its language, title, stylesheet and script, the time
/// zone the script shows times in (None: the browser's), and a refresh when asked.
pub fn head(lang: Lang, title: &str, time_zone: Option<&str>, refresh_secs: Option<u32>) -> String {
    let mut html = String::with_capacity(512);
    let _ = write!(html, "<!doctype html><html lang=\"{}\"", lang.code());
    if let Some(zone) = time_zone {
        let _ = write!(html, " data-time-zone=\"{}\"", esc(zone));
    }
    let _ = write!(
        html,
        "><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · Firstline</title><link rel=\"stylesheet\" href=\"/static/firstline.css\"><script src=\"/static/firstline.js\" defer></script>",
        esc(title)
    );
    if let Some(seconds) = refresh_secs {
        let _ = write!(html, "<meta http-equiv=\"refresh\" content=\"{seconds}\">");
    }
    html.push_str("</head>");
    html
}

/// A page for someone not signed in, in `lang`: the frame without navigation.
pub fn anonymous_page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "{}<body><header><strong>Firstline</strong></header><main>{body}</main></body></html>",
        head(lang, title, None, None)
    )
}

/// A horizontal bar chart of `(label, value)` as inline SVG.
pub fn bars(lang: Lang, title: &str, rows: &[(String, f64)], unit: &str) -> String {
    if rows.is_empty() {
        return format!(
            "<p class=\"muted\">{}</p>",
            esc(&firstline_i18n::msg!("staff-chart-empty", "title" => title).text(lang))
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_typed_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        let chart = bars(Lang::En, "t<", &[("<b>".to_owned(), 2.0)], "x");
        assert!(!chart.contains("<b>"), "{chart}");
        assert!(anonymous_page(Lang::En, "<i>", "").contains("&lt;i&gt;"));
    }
}
