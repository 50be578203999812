//! Form encoding the way AT writes it, so the simulator's bodies match a captured AT request byte
//! for byte (`phoneNumber=%2B254…&serviceCode=%2A384%2A44135%23&text=&…`).

/// The `Content-Type` AT sends on the session callback and the notification.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=UTF-8";

/// Encodes `(name, value)` pairs as `application/x-www-form-urlencoded`, keeping only ASCII
/// letters, digits and `-._` literal: AT escapes `*` and `#` (`%2A`, `%23`), and `+` must become
/// `%2B` or a naive decoder turns it into a space (B11.1). A space becomes `+`.
pub fn encode_form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_component(name, &mut out);
        out.push('=');
        encode_component(value, &mut out);
    }
    out
}

fn encode_component(s: &str, out: &mut String) {
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_at_escapes() {
        let body = encode_form([("phoneNumber", "+250 78"), ("serviceCode", "*789#"), ("text", "1*é")]);
        assert_eq!(body, "phoneNumber=%2B250+78&serviceCode=%2A789%23&text=1%2A%C3%A9");
    }
}
