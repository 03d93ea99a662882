//! PDF export of a report, written with `pdf-writer` (pure Rust), in English or Chinese.
//!
//! A document whose text is all Latin-1 is set in the PDF standard font Helvetica, which every
//! reader has: nothing is embedded and the file stays a few kilobytes. Any other document (a
//! Chinese report, an agent's Chinese name) embeds a subset of a CJK-capable TrueType font —
//! only the glyphs it uses (crate::pdf_font) — as a CIDFontType2 font with Identity-H encoding and
//! a ToUnicode map, so readers render it without any font installed and text can be copied. The
//! font is the subset of WenQuanYi Micro Hei compiled into the binary (Latin-1 and the 3,755
//! level-1 GB 2312 characters), or one the operator names (`quality.pdf_font`); a character the
//! font lacks prints as `?`.

use std::collections::BTreeSet;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::pdf_font::{BUILTIN, Font, FontError};
use crate::report::{ReportDoc, range_line, shown, summary};
use crate::report_text::{ReportLocale, Words};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const LEADING: f32 = 14.0;

/// The WinAnsi byte of `c`: Latin-1 plus the typographic characters of 0x80–0x9F.
fn winansi(c: char) -> Option<u8> {
    const HIGH: &str = "€\u{81}‚ƒ„…†‡ˆ‰Š‹Œ\u{8d}Ž\u{8f}\u{90}‘’“”•–—˜™š›œ\u{9d}žŸ";
    match u32::from(c) {
        0x20..=0x7e | 0xa0..=0xff => Some(c as u32 as u8),
        _ => HIGH.chars().position(|h| h == c && !h.is_control()).map(|i| 0x80 + i as u8),
    }
}

/// WinAnsi bytes of `s`; other characters become `?`.
fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| winansi(c).unwrap_or(b'?')).collect()
}

fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| winansi(c).is_some())
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.3}"),
    }
}

/// One printed line: (indent column, font size, text) per cell.
type Line = Vec<(f32, f32, String)>;

/// Lines of the report.
fn lines(doc: &ReportDoc, w: &Words) -> Vec<Line> {
    let range = range_line(doc, w);
    let mut out = vec![
        vec![(0.0, 16.0, w.fill("reports-doc-title", &[("period", &doc.period)]))],
        vec![(0.0, 8.0, range)],
        vec![],
        vec![
            (0.0, 10.0, w.get("reports-metric")),
            (290.0, 10.0, w.get("reports-current")),
            (370.0, 10.0, w.get("reports-previous")),
            (440.0, 10.0, w.get("reports-target")),
        ],
    ];
    for r in summary(doc) {
        let mark = match r.meets_target() {
            Some(true) => format!(" ({})", w.get("reports-doc-met")),
            Some(false) => format!(" ({})", w.get("reports-doc-missed")),
            None => String::new(),
        };
        out.push(vec![
            (0.0, 9.0, w.metric(r.key)),
            (290.0, 9.0, format!("{}{mark}", shown(doc, &r, w, num))),
            (370.0, 9.0, num(r.previous)),
            (440.0, 9.0, r.target.map(|t| num(Some(t))).unwrap_or_default()),
        ]);
    }
    out.push(vec![]);
    out.push(vec![(0.0, 12.0, w.get("reports-leaderboard"))]);
    for (id, m) in &doc.by_agent {
        let name = doc.agent_names.get(id).cloned().unwrap_or_else(|| id.clone());
        out.push(vec![
            (0.0, 9.0, name),
            (290.0, 9.0, m.conversations.to_string()),
            (370.0, 9.0, m.resolved.to_string()),
            (440.0, 9.0, num(m.csat.percent)),
        ]);
    }
    out.push(vec![]);
    out.push(vec![(0.0, 12.0, w.get("reports-review"))]);
    if doc.review.is_empty() {
        out.push(vec![(0.0, 9.0, w.get("reports-doc-no-cases"))]);
    }
    for c in &doc.review {
        out.push(vec![(0.0, 9.0, format!("SB-{:06}", c.case_number)), (90.0, 9.0, c.reasons.join(", "))]);
    }
    if doc.review_more() > 0 {
        out.push(vec![(0.0, 9.0, crate::report::review_more_line(doc, w))]);
    }
    out
}

/// How text is encoded for the page's font.
enum Face {
    /// Helvetica, WinAnsi.
    Standard,
    /// An embedded subset: character → glyph id (two bytes each, Identity-H).
    Embedded(std::collections::BTreeMap<char, u16>),
}

impl Face {
    fn encode(&self, s: &str) -> Vec<u8> {
        match self {
            Face::Standard => latin1(s),
            Face::Embedded(map) => s
                .chars()
                .flat_map(|c| map.get(&c).or_else(|| map.get(&'?')).copied().unwrap_or(0).to_be_bytes())
                .collect(),
        }
    }
}

/// The report as a PDF document (A4, as many pages as needed) in `locale`, with the built-in font.
pub fn to_pdf(doc: &ReportDoc, locale: ReportLocale) -> Vec<u8> {
    // The built-in font is tested to parse; a failure would only fall back to `?`s.
    to_pdf_with_font(doc, locale, BUILTIN).unwrap_or_else(|_| render(&lines(doc, &Words(locale)), None))
}

/// Like [`to_pdf`], embedding from `font` (TrueType or a TrueType collection) when the text is
/// not all Latin-1.
pub fn to_pdf_with_font(doc: &ReportDoc, locale: ReportLocale, font: &[u8]) -> Result<Vec<u8>, FontError> {
    let all = lines(doc, &Words(locale));
    if all.iter().flatten().all(|(_, _, t)| is_latin1(t)) {
        return Ok(render(&all, None));
    }
    let f = Font::parse(font)?;
    let used: BTreeSet<char> = all.iter().flatten().flat_map(|(_, _, t)| t.chars()).chain(['?', ' ']).collect();
    let subset = f.subset(used)?;
    Ok(render(&all, Some(&subset)))
}

fn render(all: &[Line], font: Option<&crate::pdf_font::Subset>) -> Vec<u8> {
    let per_page = ((HEIGHT - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[Line]> = all.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font_id = Ref::new(3);
    let (cid_id, desc_id, file_id, cmap_id) = (Ref::new(4), Ref::new(5), Ref::new(6), Ref::new(7));
    let mut next = 8;
    let mut ids = Vec::with_capacity(pages.len());
    for _ in &pages {
        ids.push((Ref::new(next), Ref::new(next + 1)));
        next += 2;
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(ids.iter().map(|(p, _)| *p)).count(ids.len() as i32);
    let face = match font {
        None => {
            pdf.type1_font(font_id).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
            Face::Standard
        }
        Some(s) => {
            embed(&mut pdf, s, [font_id, cid_id, desc_id, file_id, cmap_id]);
            Face::Embedded(s.map.clone())
        }
    };
    for (lines, (page_id, content_id)) in pages.iter().zip(&ids) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        page.resources().fonts().pair(Name(b"F1"), font_id);
        page.finish();
        let mut content = Content::new();
        let mut y = HEIGHT - MARGIN;
        for line in lines.iter() {
            for (x, size, text) in line {
                content.begin_text();
                content.set_font(Name(b"F1"), *size);
                content.next_line(MARGIN + x, y);
                content.show(Str(&face.encode(text)));
                content.end_text();
            }
            y -= LEADING;
        }
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

/// Writes the Type0 font, its CIDFontType2 descendant, descriptor, font file and ToUnicode map.
fn embed(pdf: &mut Pdf, s: &crate::pdf_font::Subset, [font, cid, desc, file, cmap]: [Ref; 5]) {
    // A subset's name carries a six-letter tag (ISO 32000-1, 9.6.4); derived from its glyphs.
    let tag: String = {
        let h = s.map.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, (c, g)| {
            (h ^ (u64::from(*c as u32) << 16 | u64::from(*g))).wrapping_mul(0x100_0000_01b3)
        });
        (0..6).map(|i| char::from(b'A' + ((h >> (5 * i)) % 26) as u8)).collect()
    };
    let base = format!("{tag}+WenQuanYiMicroHei");
    let scale = |v: i32| v as f32 * 1000.0 / f32::from(s.units_per_em);
    let info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
    pdf.type0_font(font)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(Name(base.as_bytes()))
        .system_info(info)
        .font_descriptor(desc)
        .cid_to_gid_map_predefined(Name(b"Identity"))
        .default_width(scale(i32::from(s.widths.first().copied().unwrap_or(0))));
    c.widths().consecutive(0, s.widths.iter().map(|w| scale(i32::from(*w))));
    c.finish();
    let [x0, y0, x1, y1] = s.bbox.map(i32::from);
    pdf.font_descriptor(desc)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(scale(x0), scale(y0), scale(x1), scale(y1)))
        .italic_angle(0.0)
        .ascent(scale(i32::from(s.ascent)))
        .descent(scale(i32::from(s.descent)))
        .cap_height(scale(i32::from(s.ascent)))
        .stem_v(80.0)
        .font_file2(file);
    pdf.stream(file, &s.font).pair(Name(b"Length1"), s.font.len() as i32);
    let mut map = UnicodeCmap::new(Name(b"Custom"), info);
    for (c, g) in &s.map {
        map.pair(*g, *c);
    }
    let data = map.finish();
    pdf.cmap(cmap, &data).name(Name(b"Custom")).system_info(info);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_needs_no_embedded_font() {
        assert!(is_latin1("Service quality report 2026-W47 é – “x”"));
        assert_eq!(latin1("4–5 €"), vec![b'4', 0x96, b'5', b' ', 0x80]);
        assert!(!is_latin1("服务"));
        assert_eq!(Face::Standard.encode("a服"), b"a?");
        let map = std::collections::BTreeMap::from([('服', 3u16), ('?', 1)]);
        assert_eq!(Face::Embedded(map).encode("服x"), vec![0, 3, 0, 1]);
    }
}
