//! Markdown to HTML (pulldown-cmark) sanitised by ammonia before it is shown anywhere, and to
//! plain text for the index, summaries and chat snippets.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Safe HTML for an article body: raw HTML in the Markdown is stripped of scripts, event
/// handlers and unsafe URLs; links get `rel="noopener noreferrer"`.
pub fn to_html(markdown: &str) -> String {
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options()));
    ammonia::Builder::default().link_rel(Some("noopener noreferrer")).clean(&raw).to_string()
}

/// The text of a Markdown document, paragraphs separated by blank lines.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for ev in Parser::new_ext(markdown, options()) {
        match ev {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow,
            ) => out.push_str("\n\n"),
            Event::Start(Tag::Item) => out.push_str("- "),
            Event::End(TagEnd::TableCell) => out.push(' '),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The start of `plain` cut at a word (or, for unspaced scripts, a character) boundary within
/// `max` characters, with an ellipsis when cut. Leading headings are skipped when there is more.
pub fn summary(plain: &str, max: usize) -> String {
    let paras: Vec<&str> = plain.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
    // Skip a first line that is just the title-like heading when a real paragraph follows.
    let start = usize::from(
        paras.len() > 1 && paras[0].chars().count() < 60 && !paras[0].ends_with(['.', '。', '!', '?', '？', '！']),
    );
    let text = paras[start.min(paras.len())..].join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 && cut.is_ascii() => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn html_is_sanitised() {
        let h = to_html(
            "# Hi\n\n<script>alert(1)</script><img src=x onerror=alert(1)>\n\nSee [a](javascript:alert(1)) and [b](https://x.io).",
        );
        assert!(h.contains("<h1>Hi</h1>"), "{h}");
        assert!(!h.contains("script") && !h.contains("onerror") && !h.contains("javascript"), "{h}");
        assert!(h.contains(r#"href="https://x.io""#) && h.contains("noopener"), "{h}");
    }

    #[test]
    fn plain_text_and_summary() {
        let p = plain_text("# Returns\n\nYou can **return** items.\n\n- one\n- two");
        assert_eq!(p, "Returns\n\nYou can return items.\n\n- one\n\n- two");
        assert_eq!(summary(&p, 200), "You can return items. - one - two");
        assert_eq!(summary("aaa bbb ccc ddd eee", 10), "aaa bbb…");
        assert_eq!(summary("退货退款说明很长很长", 4), "退货退款…");
    }
}
