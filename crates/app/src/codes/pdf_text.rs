//! Text on the printed sheets: the three standard fonts, their widths, and lines fitted into a
//! box, so that nothing crosses the margins the layout in [`super::pdf`] sets.

/// The smallest size text is shrunk to before it is shortened with "...".
const MIN_TEXT: f32 = 5.5;

/// The three standard fonts the sheets use (no embedding needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    /// Helvetica, `/F1`.
    Regular,
    /// Helvetica-Bold, `/F2`.
    Bold,
    /// Courier-Bold, `/F3`: the codes, every character 0.6 em wide.
    Mono,
}

impl Font {
    pub(super) fn resource(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
            Font::Mono => b"F3",
        }
    }

    /// A character's advance at most, in em: exact for Courier, an upper bound from the
    /// Helvetica metrics by class of character otherwise, so fitted text never runs over.
    fn max_advance(self, c: char) -> f32 {
        if self == Font::Mono {
            return 0.6;
        }
        match c {
            ' ' | ',' | '.' | ':' | ';' | '\'' | '-' | '(' | ')' | '/' | '!' | '|' | 'i' | 'j' | 'l' | 'f' | 't' => {
                0.333
            }
            '0'..='9' | '#' | '$' | '?' => 0.611,
            '*' | '+' | '<' | '=' | '>' | 'r' => 0.584,
            'a'..='z' => 0.889,
            'A'..='Z' => 0.944,
            _ => 1.015,
        }
    }

    /// A character's usual advance, in em, for centring.
    fn advance(self, c: char) -> f32 {
        if self == Font::Mono {
            return 0.6;
        }
        match c {
            ' ' | ',' | '.' | ':' | ';' | '\'' | '/' | '!' | '|' | 'i' | 'j' | 'l' | 'f' | 't' => 0.28,
            '-' | '(' | ')' | 'r' => 0.333,
            '0'..='9' | '#' | '$' | '?' | '*' | '+' => 0.556,
            'a'..='z' => 0.54,
            'A'..='Z' => 0.7,
            _ => 0.8,
        }
    }

    /// The widest `text` can be at `size`.
    pub fn max_width(self, text: &str, size: f32) -> f32 {
        if self == Font::Mono {
            return 0.6 * size * text.chars().count() as f32;
        }
        text.chars().map(|c| self.max_advance(c)).sum::<f32>() * size
    }

    fn width(self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }
}

/// Above the baseline / below it, in em, bounding every glyph of the three fonts (accents too).
pub const ASCENT: f32 = 0.95;
pub const DESCENT: f32 = 0.25;

/// A line of text placed on the page: `(x, y)` is the start of its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub font: Font,
    pub size: f32,
    pub x: f32,
    pub y: f32,
    pub text: String,
}

impl Line {
    /// The box the line's ink stays within: left, bottom, right, top.
    pub fn bounds(&self) -> [f32; 4] {
        [
            self.x,
            self.y - DESCENT * self.size,
            self.x + self.font.max_width(&self.text, self.size),
            self.y + ASCENT * self.size,
        ]
    }
}

/// `text` in `font` at `size` or smaller, so that it fits `avail` points; below
/// [`MIN_TEXT`] it is shortened with "..." instead (a code is never shortened: see [`code_line`]).
pub(super) fn fit(text: &str, font: Font, size: f32, avail: f32) -> (String, f32) {
    let full = font.max_width(text, 1.0);
    if full * size <= avail {
        return (text.to_owned(), size);
    }
    if full * MIN_TEXT <= avail {
        return (text.to_owned(), avail / full);
    }
    let mut cut: String = text.to_owned();
    while !cut.is_empty() && font.max_width(&cut, MIN_TEXT) + font.max_width("...", MIN_TEXT) > avail {
        cut.pop();
    }
    (format!("{}...", cut.trim_end()), MIN_TEXT)
}

/// A line centred on `cx`, kept within `left..right`.
pub(super) fn centred(text: &str, font: Font, size: f32, left: f32, right: f32, y: f32) -> Line {
    let (text, size) = fit(text, font, size, right - left);
    let cx = (left + right) / 2.0;
    let max = font.max_width(&text, size);
    let x = (cx - font.width(&text, size) / 2.0).clamp(left, (right - max).max(left));
    Line { font, size, x, y, text }
}

/// A line ending at `right` (by its widest), kept within `left..right`.
pub(super) fn right_aligned(text: &str, font: Font, size: f32, left: f32, right: f32, y: f32) -> Line {
    let (text, size) = fit(text, font, size, right - left);
    let x = right - font.max_width(&text, size);
    Line { font, size, x, y, text }
}

/// A code, whole, as large as 14 pt and no larger than its card's safe width.
pub(super) fn code_line(code: &str, left: f32, right: f32, y: f32) -> Line {
    let size = 14.0f32.min((right - left) / Font::Mono.max_width(code, 1.0).max(0.1));
    let w = Font::Mono.max_width(code, size);
    Line {
        font: Font::Mono,
        size,
        x: (left + right - w) / 2.0,
        y,
        text: code.to_owned(),
    }
}

/// A line starting at `left`, fitted to end by `right`.
pub(super) fn centred_left(text: &str, font: Font, size: f32, left: f32, right: f32, y: f32) -> Line {
    let (text, size) = fit(text, font, size, (right - left).max(1.0));
    Line {
        font,
        size,
        x: left,
        y,
        text,
    }
}

/// Standard fonts use WinAnsi: keep Latin-1, replace the rest.
pub(super) fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
        .collect()
}
