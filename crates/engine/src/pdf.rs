//! PDF export of a report, written with `pdf-writer` (pure Rust). Text is set in the PDF standard
//! font Helvetica (WinAnsi), which every reader has, so nothing is embedded and files stay a few
//! kilobytes; characters outside Latin-1 (Chinese agent names, for instance) print as `?`. A
//! CJK-capable font would have to be embedded and subset (the system's WenQuanYi Micro Hei is a
//! 5 MB TrueType collection), which this export does not do.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::report::{ReportDoc, summary};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const LEADING: f32 = 14.0;

/// Latin-1 bytes of `s` (WinAnsi agrees with Latin-1 on printable characters); others become `?`.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match u32::from(c) {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            _ => b'?',
        })
        .collect()
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
fn lines(doc: &ReportDoc) -> Vec<Line> {
    let mut out = vec![
        vec![(0.0, 16.0, format!("Service quality report {}", doc.period))],
        vec![(
            0.0,
            9.0,
            format!(
                "{} to {} ({}), compared with {}",
                doc.from.to_rfc3339(),
                doc.to.to_rfc3339(),
                doc.time_zone,
                doc.previous_period
            ),
        )],
        vec![],
        vec![
            (0.0, 10.0, "Metric".into()),
            (290.0, 10.0, "This period".into()),
            (370.0, 10.0, "Previous".into()),
            (440.0, 10.0, "Target".into()),
        ],
    ];
    for r in summary(doc) {
        let cur =
            if r.key.starts_with("bot_") && r.current.is_none() { "not available".into() } else { num(r.current) };
        let mark = match r.meets_target() {
            Some(true) => " (met)",
            Some(false) => " (missed)",
            None => "",
        };
        out.push(vec![
            (0.0, 9.0, r.label.to_owned()),
            (290.0, 9.0, format!("{cur}{mark}")),
            (370.0, 9.0, num(r.previous)),
            (440.0, 9.0, r.target.map(|t| num(Some(t))).unwrap_or_default()),
        ]);
    }
    out.push(vec![]);
    out.push(vec![(0.0, 12.0, "Case review".into())]);
    if doc.review.is_empty() {
        out.push(vec![(0.0, 9.0, "No cases.".into())]);
    }
    for c in &doc.review {
        out.push(vec![(0.0, 9.0, format!("SB-{:06}", c.case_number)), (90.0, 9.0, c.reasons.join(", "))]);
    }
    out
}

/// The report as a PDF document (A4, as many pages as needed).
pub fn to_pdf(doc: &ReportDoc) -> Vec<u8> {
    let all = lines(doc);
    let per_page = ((HEIGHT - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[Line]> = all.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let mut next = 4;
    let mut ids = Vec::with_capacity(pages.len());
    for _ in &pages {
        ids.push((Ref::new(next), Ref::new(next + 1)));
        next += 2;
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(ids.iter().map(|(p, _)| *p)).count(ids.len() as i32);
    pdf.type1_font(font).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    for (lines, (page_id, content_id)) in pages.iter().zip(&ids) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        page.resources().fonts().pair(Name(b"F1"), font);
        page.finish();
        let mut content = Content::new();
        let mut y = HEIGHT - MARGIN;
        for line in lines.iter() {
            for (x, size, text) in line {
                content.begin_text();
                content.set_font(Name(b"F1"), *size);
                content.next_line(MARGIN + x, y);
                content.show(Str(&latin1(text)));
                content.end_text();
            }
            y -= LEADING;
        }
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}
