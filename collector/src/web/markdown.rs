//! Markdown as staff write it in knowledge articles, to HTML that is safe to show: CommonMark
//! (with tables and strikethrough) through pulldown-cmark, where raw HTML is shown as text,
//! links keep only http, https and mailto addresses (or ones within the collector), and images
//! become links (the page's policy would not load them anyway).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// `markdown` as HTML, every byte of it from the renderer or escaped.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(pulldown_cmark::TagEnd::Image) => Event::End(pulldown_cmark::TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// An address a link may lead to: http(s), mailto, or a path or fragment of this site;
/// anything else (`javascript:`, `data:`, `vbscript:`, a scheme hidden behind spaces or
/// control characters) leads nowhere.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let cleaned: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme_free = cleaned.starts_with('/') && !cleaned.starts_with("//")
        || cleaned.starts_with('#')
        || cleaned.starts_with('?');
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| cleaned.starts_with(scheme));
    if allowed || scheme_free {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_nothing_it_holds_runs() {
        let html = render("# Fix\n\nRun `ipconfig /flushdns` then **restart**.\n\n- one\n- two");
        assert!(html.contains("<h1>Fix</h1>"), "{html}");
        assert!(html.contains("<code>ipconfig /flushdns</code>"), "{html}");
        assert!(html.contains("<strong>restart</strong>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "text <b onclick=alert(1)>bold</b>",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "![x](javascript:alert(1))",
            "[x](//evil.example/)",
            "<a href=\"javascript:alert(1)\">x</a>",
        ] {
            let html = render(hostile);
            let lower = html.to_lowercase();
            assert!(!lower.contains("<script"), "{hostile} → {html}");
            assert!(!lower.contains("<img"), "{hostile} → {html}");
            assert!(!lower.contains("<b "), "{hostile} → {html}");
            // Raw HTML may show as text; no element carries the address.
            assert!(!lower.contains("<a href=\"java"), "{hostile} → {html}");
            assert!(!lower.contains("<a href=\"data:"), "{hostile} → {html}");
            assert!(!lower.contains("<a href=\"//"), "{hostile} → {html}");
        }
        let html = render("[docs](https://docs.example.com/a?b=1&c=2) and [ticket](/tickets/3)");
        assert!(
            html.contains("href=\"https://docs.example.com/a?b=1&amp;c=2\""),
            "{html}"
        );
        assert!(html.contains("href=\"/tickets/3\""), "{html}");
    }
}
