//! Password policy: a minimum length from settings and a strength estimate (zxcvbn, which knows
//! common passwords, names, keyboard patterns and the user's own details). No composition rules
//! (NIST SP 800-63B).

use crate::error::FieldError;

/// zxcvbn score required (0–4): 3 = "safely unguessable: moderate protection from offline attacks".
const MIN_SCORE: u8 = 3;
const MAX_LEN: usize = 128;

pub fn check(field: &str, password: &str, min_len: u32, user_inputs: &[&str]) -> Result<(), FieldError> {
    let len = password.chars().count();
    if len < min_len as usize {
        return Err(FieldError::new(field, format!("must be at least {min_len} characters")));
    }
    if len > MAX_LEN {
        return Err(FieldError::new(field, format!("must be at most {MAX_LEN} characters")));
    }
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if (estimate.score() as u8) < MIN_SCORE {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".to_owned());
        return Err(FieldError::new(
            field,
            format!("is too weak: {hint}. A few unrelated words make a strong, memorable password"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn length_and_strength() {
        assert!(check("password", "short", 12, &[]).is_err());
        assert!(check("password", "password1234", 12, &[]).is_err(), "common");
        assert!(check("password", "qwertyuiopasdf", 12, &[]).is_err(), "keyboard walk");
        assert!(
            check("password", "aminauwase12", 12, &["aminauwase"]).is_err(),
            "own name"
        );
        assert!(check("password", "volcano tea bicycle morning", 12, &[]).is_ok());
    }
}
