//! Text in a report PDF: the two standard fonts (Helvetica and Helvetica-Bold, never embedded)
//! in the WinAnsi encoding, their true widths, and text fitted to a width: shortened with an
//! ellipsis or wrapped. Any character WinAnsi lacks becomes "?", so no name or label, whatever
//! its script, can break the file or the layout.

use pdf_writer::Name;

use super::metrics::{HELVETICA, HELVETICA_BOLD};

/// The ellipsis in WinAnsi.
const ELLIPSIS: u8 = 0x85;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    /// Helvetica, `/F1`.
    Regular,
    /// Helvetica-Bold, `/F2`.
    Bold,
}

impl Font {
    pub fn name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    /// The advance of one WinAnsi byte, in 1/1000 em.
    fn advance(self, b: u8) -> u16 {
        let table = match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        };
        table[usize::from(b.max(32)) - 32]
    }

    /// The width of encoded text at `size` points.
    pub fn width(self, text: &[u8], size: f32) -> f32 {
        let units: u32 = text.iter().map(|&b| u32::from(self.advance(b))).sum();
        units as f32 * size / 1000.0
    }

    /// The width of `text` once encoded.
    pub fn width_of(self, text: &str, size: f32) -> f32 {
        self.width(&encode(text), size)
    }
}

/// `text` in WinAnsi: Latin-1 as it is, the typographic characters WinAnsi adds (curly quotes,
/// dashes, the ellipsis, the euro…) at their codes, white space as a space, the rest as "?".
pub fn encode(text: &str) -> Vec<u8> {
    text.chars().map(winansi).collect()
}

fn winansi(c: char) -> u8 {
    match c as u32 {
        0x20..=0x7E | 0xA0..=0xFF => c as u8,
        _ if c.is_whitespace() => b' ',
        0x20AC => 0x80,
        0x201A => 0x82,
        0x0192 => 0x83,
        0x201E => 0x84,
        0x2026 => 0x85,
        0x2020 => 0x86,
        0x2021 => 0x87,
        0x02C6 => 0x88,
        0x2030 => 0x89,
        0x0160 => 0x8A,
        0x2039 => 0x8B,
        0x0152 => 0x8C,
        0x017D => 0x8E,
        0x2018 => 0x91,
        0x2019 => 0x92,
        0x201C => 0x93,
        0x201D => 0x94,
        0x2022 => 0x95,
        0x2013 => 0x96,
        0x2014 => 0x97,
        0x02DC => 0x98,
        0x2122 => 0x99,
        0x0161 => 0x9A,
        0x203A => 0x9B,
        0x0153 => 0x9C,
        0x017E => 0x9E,
        0x0178 => 0x9F,
        _ => b'?',
    }
}

/// `text` encoded, shortened with an ellipsis when it is wider than `avail` at `size`.
pub fn fit(font: Font, text: &str, size: f32, avail: f32) -> Vec<u8> {
    let mut bytes = encode(text);
    if font.width(&bytes, size) <= avail {
        return bytes;
    }
    let room = avail - font.width(&[ELLIPSIS], size);
    let mut used = 0.0;
    let mut keep = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let w = f32::from(font.advance(b)) * size / 1000.0;
        if used + w > room {
            break;
        }
        used += w;
        keep = i + 1;
    }
    bytes.truncate(keep);
    while bytes.last() == Some(&b' ') {
        bytes.pop();
    }
    bytes.push(ELLIPSIS);
    bytes
}

/// The largest size up to `size` (and no smaller than `min`) at which `text` fits `avail`,
/// and the text at that size (shortened if it does not fit even at `min`).
pub fn shrink(font: Font, text: &str, size: f32, min: f32, avail: f32) -> (Vec<u8>, f32) {
    let bytes = encode(text);
    let at_one = font.width(&bytes, 1.0);
    if at_one * size <= avail {
        return (bytes, size);
    }
    if at_one * min <= avail {
        return (bytes, avail / at_one);
    }
    (fit(font, text, min, avail), min)
}

/// `text` in lines no wider than `avail`, broken at spaces (a word wider than a line is
/// shortened with an ellipsis).
pub fn wrap(font: Font, text: &str, size: f32, avail: f32) -> Vec<Vec<u8>> {
    let space = font.width(b" ", size);
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut width = 0.0;
    for word in text.split_whitespace() {
        let mut w = encode(word);
        let mut ww = font.width(&w, size);
        if ww > avail {
            w = fit(font, word, size, avail);
            ww = font.width(&w, size);
        }
        if !line.is_empty() && width + space + ww > avail {
            lines.push(std::mem::take(&mut line));
            width = 0.0;
        }
        if !line.is_empty() {
            line.push(b' ');
            width += space;
        }
        line.extend_from_slice(&w);
        width += ww;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_helveticas() {
        // the digits are all 556 units, so figures line up in columns
        assert!((Font::Regular.width(b"1234567890", 10.0) - 55.6).abs() < 0.001);
        assert!((Font::Bold.width_of("W", 1.0) - 0.944).abs() < 0.001);
        assert!((Font::Regular.width_of("i", 1.0) - 0.222).abs() < 0.001);
    }

    #[test]
    fn any_character_encodes_to_one_byte() {
        assert_eq!(encode("Café – “ok” €5…"), b"Caf\xE9 \x96 \x93ok\x94 \x805\x85".to_vec());
        assert_eq!(encode("Кигали 北京 🎨"), b"?????? ?? ?".to_vec());
        assert_eq!(encode("a\tb\nc\u{0}"), b"a b c?".to_vec());
    }

    #[test]
    fn long_text_is_shortened_to_fit() {
        let long = "Kivu Blue promotion, second wave, northern province distributors";
        let cut = fit(Font::Regular, long, 8.0, 100.0);
        assert!(Font::Regular.width(&cut, 8.0) <= 100.0);
        assert_eq!(cut.last(), Some(&ELLIPSIS));
        assert!(cut.starts_with(b"Kivu Blue"));
        assert_eq!(fit(Font::Regular, "short", 8.0, 100.0), b"short".to_vec());
        assert_eq!(fit(Font::Regular, "anything", 8.0, 0.0), vec![ELLIPSIS]);
    }

    #[test]
    fn notes_wrap_at_spaces() {
        let lines = wrap(Font::Regular, "one two three four five six seven", 10.0, 60.0);
        assert!(lines.len() > 1);
        for l in &lines {
            assert!(Font::Regular.width(l, 10.0) <= 60.0, "{}", String::from_utf8_lossy(l));
        }
        assert_eq!(lines.concat().len() + lines.len() - 1, 33);
        let (t, size) = shrink(Font::Bold, "1,250,000 RWF", 14.0, 9.0, 60.0);
        assert!((9.0..14.0).contains(&size) && Font::Bold.width(&t, size) <= 60.001);
    }
}
