//! The font of the PDF export: reads a TrueType font's character map and metrics, and cuts it
//! down to the glyphs a document uses (with the `subsetter` crate) so that a Chinese report embeds
//! a few kilobytes of font instead of megabytes. Takes plain TrueType (`glyf`) fonts and the first
//! face of a collection (`ttcf`); CFF-flavoured OpenType fonts are refused.
//!
//! The font shipped with Switchboard (`assets/fonts/`) is itself a subset of WenQuanYi Micro Hei
//! (Apache-2.0): Latin-1, punctuation and the 3,755 level-1 characters of GB 2312 — the
//! characters of nearly all modern Chinese text. `assets/fonts/README.md` says how it is made.

use std::collections::{BTreeMap, BTreeSet};

/// The CJK-capable font compiled into the binary (see the module comment).
pub const BUILTIN: &[u8] = include_bytes!("../assets/fonts/wqy-microhei-gb2312.ttf");

/// Why a font cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    /// Truncated or inconsistent data.
    #[error("malformed font: {0}")]
    Malformed(&'static str),
    /// A table the subsetter needs is missing (CFF fonts have no `glyf`).
    #[error("font has no {0} table (only TrueType outlines are supported)")]
    Missing(&'static str),
    /// The subsetter refused the font.
    #[error("cannot subset the font: {0}")]
    Subset(String),
}

fn u16_at(d: &[u8], at: usize) -> Result<u16, FontError> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or(FontError::Malformed("short read"))
}

fn u32_at(d: &[u8], at: usize) -> Result<u32, FontError> {
    d.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or(FontError::Malformed("short read"))
}

/// A parsed TrueType font (borrowing its bytes).
pub struct Font<'a> {
    data: &'a [u8],
    tables: BTreeMap<[u8; 4], (usize, usize)>,
    num_glyphs: u16,
    num_hmetrics: u16,
    cmap: BTreeMap<char, u16>,
    /// Font units per em.
    pub units_per_em: u16,
    /// Ascender, font units.
    pub ascent: i16,
    /// Descender (negative), font units.
    pub descent: i16,
    /// Bounding box of all glyphs: x min, y min, x max, y max.
    pub bbox: [i16; 4],
}

impl<'a> Font<'a> {
    /// Parses a TrueType font or the first face of a TrueType collection.
    pub fn parse(data: &'a [u8]) -> Result<Font<'a>, FontError> {
        let mut f = Font::open(data)?;
        f.cmap = f.read_cmap()?;
        Ok(f)
    }

    /// The font's tables and metrics, without its character map (a subset has none).
    fn open(data: &'a [u8]) -> Result<Font<'a>, FontError> {
        let base = if data.get(0..4) == Some(b"ttcf") { u32_at(data, 12)? as usize } else { 0 };
        let n = u16_at(data, base + 4)? as usize;
        let mut tables = BTreeMap::new();
        for i in 0..n {
            let rec = base + 12 + 16 * i;
            let tag: [u8; 4] = data
                .get(rec..rec + 4)
                .and_then(|t| t.try_into().ok())
                .ok_or(FontError::Malformed("table directory"))?;
            let (off, len) = (u32_at(data, rec + 8)? as usize, u32_at(data, rec + 12)? as usize);
            if off.checked_add(len).is_none_or(|end| end > data.len()) {
                return Err(FontError::Malformed("table outside the file"));
            }
            tables.insert(tag, (off, len));
        }
        for t in [b"head", b"hhea", b"maxp", b"loca", b"hmtx"] {
            if !tables.contains_key(t) {
                return Err(FontError::Missing(std::str::from_utf8(t).unwrap_or("?")));
            }
        }
        if !tables.contains_key(b"glyf") {
            return Err(FontError::Missing("glyf"));
        }
        let mut f = Font {
            data,
            tables,
            num_glyphs: 0,
            num_hmetrics: 0,
            cmap: BTreeMap::new(),
            units_per_em: 1000,
            ascent: 0,
            descent: 0,
            bbox: [0; 4],
        };
        let head = f.table(b"head")?;
        f.units_per_em = u16_at(head, 18)?.max(16);
        for (i, v) in f.bbox.iter_mut().enumerate() {
            *v = u16_at(head, 36 + 2 * i)? as i16;
        }
        let hhea = f.table(b"hhea")?;
        f.ascent = u16_at(hhea, 4)? as i16;
        f.descent = u16_at(hhea, 6)? as i16;
        f.num_hmetrics = u16_at(hhea, 34)?.max(1);
        f.num_glyphs = u16_at(f.table(b"maxp")?, 4)?;
        Ok(f)
    }

    fn table(&self, tag: &[u8; 4]) -> Result<&'a [u8], FontError> {
        let (off, len) = *self.tables.get(tag).ok_or(FontError::Missing("table"))?;
        Ok(&self.data[off..off + len])
    }

    fn read_cmap(&self) -> Result<BTreeMap<char, u16>, FontError> {
        let cmap = self.table(b"cmap").map_err(|_| FontError::Missing("cmap"))?;
        let n = u16_at(cmap, 2)? as usize;
        let mut best: Option<(u8, usize)> = None;
        for i in 0..n {
            let (pid, eid, off) =
                (u16_at(cmap, 4 + 8 * i)?, u16_at(cmap, 6 + 8 * i)?, u32_at(cmap, 8 + 8 * i)? as usize);
            let format = u16_at(cmap, off)?;
            let rank = match (pid, eid, format) {
                (3, 10, 12) | (0, 4, 12) => 3,
                (3, 1, 4) | (0, 3, 4) => 2,
                (0, _, 4) => 1,
                _ => continue,
            };
            if best.is_none_or(|b| rank > b.0) {
                best = Some((rank, off));
            }
        }
        let (_, off) = best.ok_or(FontError::Missing("Unicode cmap"))?;
        let t = &cmap[off..];
        let mut out = BTreeMap::new();
        if u16_at(t, 0)? == 12 {
            let groups = u32_at(t, 12)? as usize;
            for g in 0..groups {
                let (start, end, gid) = (u32_at(t, 16 + 12 * g)?, u32_at(t, 20 + 12 * g)?, u32_at(t, 24 + 12 * g)?);
                for (k, cp) in (start..=end.min(0x10_FFFF)).enumerate() {
                    if let (Some(c), Ok(id)) = (char::from_u32(cp), u16::try_from(gid as usize + k)) {
                        out.insert(c, id);
                    }
                }
            }
        } else {
            let segs = u16_at(t, 6)? as usize / 2;
            let (ends, starts, deltas, ranges) = (14, 16 + 2 * segs, 16 + 4 * segs, 16 + 6 * segs);
            for s in 0..segs {
                let (end, start) = (u16_at(t, ends + 2 * s)?, u16_at(t, starts + 2 * s)?);
                let (delta, range) = (u16_at(t, deltas + 2 * s)?, u16_at(t, ranges + 2 * s)? as usize);
                for cp in start..=end {
                    if cp == 0xFFFF {
                        break;
                    }
                    let gid = if range == 0 {
                        cp.wrapping_add(delta)
                    } else {
                        let at = ranges + 2 * s + range + 2 * usize::from(cp - start);
                        match u16_at(t, at)? {
                            0 => 0,
                            g => g.wrapping_add(delta),
                        }
                    };
                    if let Some(c) = char::from_u32(u32::from(cp))
                        && gid != 0
                    {
                        out.insert(c, gid);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The glyph of `c`, if the font has one.
    pub fn glyph(&self, c: char) -> Option<u16> {
        self.cmap.get(&c).copied().filter(|g| *g < self.num_glyphs)
    }

    /// Every character the font maps.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        self.cmap.keys().copied()
    }

    /// (advance width, left side bearing) of a glyph, font units.
    fn metrics(&self, gid: u16) -> Result<(u16, i16), FontError> {
        let hmtx = self.table(b"hmtx")?;
        let n = usize::from(self.num_hmetrics);
        let g = usize::from(gid);
        if g < n {
            Ok((u16_at(hmtx, 4 * g)?, u16_at(hmtx, 4 * g + 2)? as i16))
        } else {
            Ok((u16_at(hmtx, 4 * (n - 1))?, u16_at(hmtx, 4 * n + 2 * (g - n))? as i16))
        }
    }

    /// A font with `.notdef` and the glyphs of `chars`, numbered from 1 in character order (the
    /// parts of composite glyphs follow). Outlines, metrics, hinting and the `name` table (the
    /// licence notice) are kept; the `cmap` is not: a PDF's CID font maps text to glyphs itself.
    pub fn subset(&self, chars: impl IntoIterator<Item = char>) -> Result<Subset, FontError> {
        let chars: BTreeSet<char> = chars.into_iter().collect();
        let mut remapper = subsetter::GlyphRemapper::new();
        let mut map = BTreeMap::new();
        let mut widths = vec![self.metrics(0)?.0];
        for c in chars {
            let Some(old) = self.glyph(c) else { continue };
            let new = remapper.remap(old);
            if usize::from(new) == widths.len() {
                widths.push(self.metrics(old)?.0);
            }
            map.insert(c, new);
        }
        let font = subsetter::subset(self.data, 0, &remapper).map_err(|e| FontError::Subset(e.to_string()))?;
        Ok(Subset {
            font,
            map,
            widths,
            units_per_em: self.units_per_em,
            ascent: self.ascent,
            descent: self.descent,
            bbox: self.bbox,
        })
    }
}

/// A subset font and what a PDF needs to know about it.
pub struct Subset {
    /// The TrueType file (without a `cmap`).
    pub font: Vec<u8>,
    /// Character → glyph id in `font`.
    pub map: BTreeMap<char, u16>,
    /// Advance width of `.notdef` and of each character's glyph (ids 0 to `map.len()`), font units.
    pub widths: Vec<u16>,
    /// Font units per em.
    pub units_per_em: u16,
    /// Ascender.
    pub ascent: i16,
    /// Descender.
    pub descent: i16,
    /// Bounding box.
    pub bbox: [i16; 4],
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_font_covers_latin_and_common_chinese() {
        let f = Font::parse(BUILTIN).unwrap();
        for c in "Service quality 服务质量报告 客服排行 满意度 净推荐值 首次联系解决率 0123456789 %–".chars()
        {
            assert!(f.glyph(c).is_some() || c == ' ', "{c:?} missing");
        }
        assert!(f.chars().count() > 3_900, "Latin-1, punctuation and GB 2312 level 1");
    }

    /// The `glyf` data of a glyph.
    fn glyph_data<'a>(f: &Font<'a>, gid: u16) -> &'a [u8] {
        let (loca, g) = (f.table(b"loca").unwrap(), usize::from(gid));
        let (a, b) = if u16_at(f.table(b"head").unwrap(), 50).unwrap() == 1 {
            (u32_at(loca, 4 * g).unwrap() as usize, u32_at(loca, 4 * g + 4).unwrap() as usize)
        } else {
            (2 * u16_at(loca, 2 * g).unwrap() as usize, 2 * u16_at(loca, 2 * g + 2).unwrap() as usize)
        };
        &f.table(b"glyf").unwrap()[a..b]
    }

    /// A glyph's outline with composite parts expanded in place of their ids (which differ
    /// between a font and its subset).
    fn outline(f: &Font<'_>, gid: u16) -> Vec<u8> {
        let data = glyph_data(f, gid);
        if data.len() < 10 || (u16_at(data, 0).unwrap() as i16) >= 0 {
            // Simple glyph: the fonts may pad it differently.
            let end = data.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            return data[..end].to_vec();
        }
        let (mut out, mut at) = (data[..10].to_vec(), 10);
        loop {
            let flags = u16_at(data, at).unwrap();
            let len = 4
                + if flags & 0x0001 != 0 { 4 } else { 2 }
                + [(0x0008, 2), (0x0040, 4), (0x0080, 8)]
                    .iter()
                    .find(|(bit, _)| flags & bit != 0)
                    .map_or(0, |(_, n)| *n);
            out.extend_from_slice(&data[at..at + 2]);
            out.extend(outline(f, u16_at(data, at + 2).unwrap()));
            out.extend_from_slice(&data[at + 4..at + len]);
            at += len;
            if flags & 0x0020 == 0 {
                if flags & 0x0100 != 0 {
                    let n = usize::from(u16_at(data, at).unwrap());
                    out.extend_from_slice(&data[at..at + 2 + n]);
                }
                return out;
            }
        }
    }

    #[test]
    fn a_subset_keeps_the_glyphs_it_was_asked_for() {
        let f = Font::parse(BUILTIN).unwrap();
        let s = f.subset("满意度 A".chars()).unwrap();
        assert!(s.font.len() < 8_000, "{} bytes", s.font.len());
        let back = Font::open(&s.font).unwrap();
        assert_eq!(s.widths.len(), 1 + s.map.len(), ".notdef and one glyph a character");
        assert!(usize::from(back.num_glyphs) >= s.widths.len());
        assert!("满意度A".chars().all(|c| s.map.contains_key(&c)));
        let ids: Vec<u16> = s.map.values().copied().collect();
        assert_eq!(ids, (1..=s.map.len() as u16).collect::<Vec<_>>(), "numbered in character order");
        assert_eq!(outline(&back, 0), outline(&f, 0), ".notdef");
        for (&c, &new) in &s.map {
            let old = f.glyph(c).unwrap();
            assert_eq!(outline(&back, new), outline(&f, old), "{c} outline");
            assert_eq!(back.metrics(new).unwrap(), f.metrics(old).unwrap());
            assert_eq!(s.widths[usize::from(new)], f.metrics(old).unwrap().0);
        }
        assert!(!s.map.contains_key(&'Z'));
        let sum = s.font.chunks(4).fold(0u32, |acc, c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            acc.wrapping_add(u32::from_be_bytes(w))
        });
        assert_eq!(sum, 0xB1B0_AFBA, "head.checkSumAdjustment makes the file sum right");
    }

    #[test]
    fn bad_fonts_are_refused_not_panicked_on() {
        assert!(Font::parse(b"").is_err());
        assert!(Font::parse(&BUILTIN[..100]).is_err());
        let mut broken = BUILTIN.to_vec();
        broken[12 + 8..12 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Font::parse(&broken).is_err());
    }
}
