//! A small TrueType subsetter for the PDF export: keeps only the glyphs a document uses (and the
//! components of composite glyphs), renumbered from 1, so a Chinese report embeds a few kilobytes
//! of font instead of megabytes. Handles plain TrueType (`glyf`) fonts and the first face of a
//! collection (`ttcf`); CFF-flavoured OpenType fonts are refused.
//!
//! The font shipped with Switchboard (`assets/fonts/`) is itself such a subset of WenQuanYi Micro
//! Hei (Apache-2.0): Latin-1, punctuation and the 3,755 level-1 characters of GB 2312 — the
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
    long_loca: bool,
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
        for t in [b"head", b"hhea", b"maxp", b"loca", b"hmtx", b"cmap"] {
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
            long_loca: false,
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
        f.long_loca = u16_at(head, 50)? == 1;
        let hhea = f.table(b"hhea")?;
        f.ascent = u16_at(hhea, 4)? as i16;
        f.descent = u16_at(hhea, 6)? as i16;
        f.num_hmetrics = u16_at(hhea, 34)?.max(1);
        f.num_glyphs = u16_at(f.table(b"maxp")?, 4)?;
        f.cmap = f.read_cmap()?;
        Ok(f)
    }

    fn table(&self, tag: &[u8; 4]) -> Result<&'a [u8], FontError> {
        let (off, len) = *self.tables.get(tag).ok_or(FontError::Missing("table"))?;
        Ok(&self.data[off..off + len])
    }

    fn read_cmap(&self) -> Result<BTreeMap<char, u16>, FontError> {
        let cmap = self.table(b"cmap")?;
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

    fn glyph_data(&self, gid: u16) -> Result<&'a [u8], FontError> {
        let loca = self.table(b"loca")?;
        let g = usize::from(gid);
        let (a, b) = if self.long_loca {
            (u32_at(loca, 4 * g)? as usize, u32_at(loca, 4 * g + 4)? as usize)
        } else {
            (2 * u16_at(loca, 2 * g)? as usize, 2 * u16_at(loca, 2 * g + 2)? as usize)
        };
        self.table(b"glyf")?.get(a..b.max(a)).ok_or(FontError::Malformed("loca"))
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

    /// Components of a composite glyph: (offset of the glyph index in `data`, glyph index).
    fn components(data: &[u8]) -> Result<Vec<(usize, u16)>, FontError> {
        let mut out = Vec::new();
        if data.len() < 10 || (u16_at(data, 0)? as i16) >= 0 {
            return Ok(out);
        }
        let mut at = 10;
        loop {
            let flags = u16_at(data, at)?;
            out.push((at + 2, u16_at(data, at + 2)?));
            at += 4 + if flags & 0x0001 != 0 { 4 } else { 2 };
            at += match flags {
                f if f & 0x0008 != 0 => 2,
                f if f & 0x0040 != 0 => 4,
                f if f & 0x0080 != 0 => 8,
                _ => 0,
            };
            if flags & 0x0020 == 0 {
                return Ok(out);
            }
        }
    }

    /// A font with only the glyphs of `chars` (and `.notdef`), renumbered in character order.
    pub fn subset(&self, chars: impl IntoIterator<Item = char>) -> Result<Subset, FontError> {
        let chars: BTreeSet<char> = chars.into_iter().filter(|c| self.glyph(*c).is_some()).collect();
        // Old glyph ids in new order: .notdef, the characters' glyphs, then composite parts.
        let mut order: Vec<u16> = vec![0];
        let mut new_id: BTreeMap<u16, u16> = BTreeMap::from([(0, 0)]);
        let mut add = |g: u16, order: &mut Vec<u16>| -> Result<u16, FontError> {
            if let Some(&n) = new_id.get(&g) {
                return Ok(n);
            }
            let n = u16::try_from(order.len()).map_err(|_| FontError::Malformed("too many glyphs"))?;
            order.push(g);
            new_id.insert(g, n);
            Ok(n)
        };
        let mut map = BTreeMap::new();
        for &c in &chars {
            if let Some(g) = self.glyph(c) {
                map.insert(c, add(g, &mut order)?);
            }
        }
        let mut i = 0;
        while i < order.len() {
            for (_, comp) in Self::components(self.glyph_data(order[i])?)? {
                if comp < self.num_glyphs {
                    add(comp, &mut order)?;
                }
            }
            i += 1;
        }
        let mut glyf = Vec::new();
        let mut loca = Vec::with_capacity(4 * (order.len() + 1));
        let mut hmtx = Vec::with_capacity(4 * order.len());
        let mut widths = Vec::with_capacity(order.len());
        for &g in &order {
            loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());
            let mut data = self.glyph_data(g)?.to_vec();
            for (at, comp) in Self::components(&data)? {
                let n = new_id.get(&comp).copied().unwrap_or(0);
                data[at..at + 2].copy_from_slice(&n.to_be_bytes());
            }
            glyf.extend_from_slice(&data);
            while glyf.len() % 4 != 0 {
                glyf.push(0);
            }
            let (adv, lsb) = self.metrics(g)?;
            hmtx.extend_from_slice(&adv.to_be_bytes());
            hmtx.extend_from_slice(&lsb.to_be_bytes());
            widths.push(adv);
        }
        loca.extend_from_slice(&(glyf.len() as u32).to_be_bytes());
        let n = order.len() as u16;
        let mut head = self.table(b"head")?.to_vec();
        head.get_mut(8..12).ok_or(FontError::Malformed("head"))?.copy_from_slice(&[0; 4]);
        head.get_mut(50..52).ok_or(FontError::Malformed("head"))?.copy_from_slice(&1u16.to_be_bytes());
        let mut hhea = self.table(b"hhea")?.to_vec();
        hhea.get_mut(34..36).ok_or(FontError::Malformed("hhea"))?.copy_from_slice(&n.to_be_bytes());
        let mut maxp = self.table(b"maxp")?.to_vec();
        maxp.get_mut(4..6).ok_or(FontError::Malformed("maxp"))?.copy_from_slice(&n.to_be_bytes());
        // post format 3: no glyph names.
        let mut post = self.table(b"post").map(|p| p.get(..32).unwrap_or(p).to_vec()).unwrap_or_default();
        post.resize(32, 0);
        post[0..4].copy_from_slice(&0x0003_0000u32.to_be_bytes());
        let mut tables: Vec<([u8; 4], Vec<u8>)> = vec![
            (*b"cmap", cmap_format4(&map)),
            (*b"glyf", glyf),
            (*b"head", head),
            (*b"hhea", hhea),
            (*b"hmtx", hmtx),
            (*b"loca", loca),
            (*b"maxp", maxp),
            (*b"post", post),
        ];
        // Kept as they are: names (the licence notice lives there), metrics and hinting.
        for tag in [b"OS/2", b"cvt ", b"fpgm", b"gasp", b"name", b"prep"] {
            if let Ok(t) = self.table(tag) {
                tables.push((*tag, t.to_vec()));
            }
        }
        tables.sort_by_key(|a| a.0);
        Ok(Subset {
            font: write_font(&tables),
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
    /// The TrueType file.
    pub font: Vec<u8>,
    /// Character → glyph id in `font`.
    pub map: BTreeMap<char, u16>,
    /// Advance width of each glyph, font units.
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

/// A `cmap` table with one (3, 1) format-4 subtable for the BMP characters of `map`.
fn cmap_format4(map: &BTreeMap<char, u16>) -> Vec<u8> {
    // Runs of consecutive characters with consecutive glyphs share a segment.
    let mut segs: Vec<(u16, u16, u16)> = Vec::new(); // (start, end, delta)
    for (&c, &g) in map.iter().filter(|(c, _)| (**c as u32) < 0xFFFF) {
        let cp = c as u32 as u16;
        let delta = g.wrapping_sub(cp);
        match segs.last_mut() {
            Some(s) if s.1.wrapping_add(1) == cp && s.2 == delta => s.1 = cp,
            _ => segs.push((cp, cp, delta)),
        }
    }
    segs.push((0xFFFF, 0xFFFF, 1));
    let n = segs.len() as u16;
    let pow = 1u16 << (15 - n.leading_zeros().min(15)).min(15);
    let search = 2 * pow.min(n);
    let mut t = Vec::new();
    for v in [4u16, 0, 0, 2 * n, search, search.trailing_zeros() as u16 - 1, 2 * n - search] {
        t.extend_from_slice(&v.to_be_bytes());
    }
    for s in &segs {
        t.extend_from_slice(&s.1.to_be_bytes());
    }
    t.extend_from_slice(&[0, 0]);
    for s in &segs {
        t.extend_from_slice(&s.0.to_be_bytes());
    }
    for s in &segs {
        t.extend_from_slice(&s.2.to_be_bytes());
    }
    for _ in &segs {
        t.extend_from_slice(&[0, 0]);
    }
    let len = t.len() as u16;
    t[2..4].copy_from_slice(&len.to_be_bytes());
    let mut out = Vec::with_capacity(12 + t.len());
    for v in [0u16, 1, 3, 1] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&12u32.to_be_bytes());
    out.extend_from_slice(&t);
    out
}

fn checksum(d: &[u8]) -> u32 {
    d.chunks(4).fold(0u32, |acc, c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        acc.wrapping_add(u32::from_be_bytes(w))
    })
}

/// Writes a TrueType file from tables sorted by tag.
fn write_font(tables: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let n = tables.len() as u16;
    let pow = 1u16 << (15 - n.leading_zeros());
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for v in [n, pow * 16, pow.trailing_zeros() as u16, n * 16 - pow * 16] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut off = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, data) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(off as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        if tag == b"head" {
            head_at = Some(off);
        }
        off += data.len().div_ceil(4) * 4;
    }
    for (_, data) in tables {
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    if let Some(h) = head_at {
        let adj = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[h + 8..h + 12].copy_from_slice(&adj.to_be_bytes());
    }
    out
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

    /// A glyph's outline data with composite parts expanded (their ids differ between fonts).
    fn outline(f: &Font<'_>, gid: u16) -> Vec<u8> {
        let mut data = f.glyph_data(gid).unwrap().to_vec();
        let comps = Font::components(&data).unwrap();
        for (at, _) in &comps {
            data[*at..*at + 2].copy_from_slice(&[0, 0]);
        }
        for (_, comp) in comps {
            data.extend(outline(f, comp));
        }
        data
    }

    #[test]
    fn a_subset_keeps_the_glyphs_it_was_asked_for() {
        let f = Font::parse(BUILTIN).unwrap();
        let s = f.subset("满意度 A".chars()).unwrap();
        assert!(s.font.len() < 8_000, "{} bytes", s.font.len());
        let back = Font::parse(&s.font).unwrap();
        assert_eq!(back.num_glyphs as usize, s.widths.len());
        for c in "满意度A".chars() {
            let (old, new) = (f.glyph(c).unwrap(), back.glyph(c).unwrap());
            assert_eq!(new, s.map[&c]);
            assert_eq!(outline(&back, new), outline(&f, old), "{c} outline");
            assert_eq!(back.metrics(new).unwrap(), f.metrics(old).unwrap());
        }
        assert_eq!(back.glyph('Z'), None);
        assert_eq!(checksum(&s.font), 0xB1B0_AFBA, "head.checkSumAdjustment makes the file sum right");
    }

    #[test]
    fn bad_fonts_are_refused_not_panicked_on() {
        assert!(Font::parse(b"").is_err());
        assert!(Font::parse(&BUILTIN[..100]).is_err());
        let mut broken = BUILTIN.to_vec();
        broken[12 + 8..12 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Font::parse(&broken).is_err());
    }

    /// Regenerates the shipped subset from the system's WenQuanYi Micro Hei (Debian/Ubuntu
    /// package fonts-wqy-microhei): `cargo test -p switchboard-engine --lib regenerate_builtin_font
    /// -- --ignored`. The characters are listed in assets/fonts/charset.txt.
    #[test]
    #[ignore = "writes crates/engine/assets/fonts/wqy-microhei-gb2312.ttf"]
    fn regenerate_builtin_font() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/fonts");
        let src = std::fs::read("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").unwrap();
        let chars = std::fs::read_to_string(dir.join("charset.txt")).unwrap();
        let s = Font::parse(&src).unwrap().subset(chars.chars().filter(|c| !c.is_control())).unwrap();
        std::fs::write(dir.join("wqy-microhei-gb2312.ttf"), &s.font).unwrap();
    }
}
