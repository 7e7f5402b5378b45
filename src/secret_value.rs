//! Generated credentials: drawn from the OS's CSPRNG with rejection sampling (no modulo bias),
//! within each service's character rules, and wiped from memory when dropped. The value is
//! only ever written to Secrets Manager and passed to the service that needs it; `Debug` and
//! `Display` never show it (it has no `Display` at all).

use std::fmt;

use zeroize::Zeroizing;

/// RDS master passwords: printable ASCII except `/`, `@`, `"` and space.
pub(crate) const RDS_PASSWORD_LEN: usize = 40;
const RDS_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&*()-_=+[]{}<>?~^";

/// ElastiCache AUTH tokens: 16–128 characters; alphanumerics avoid every quoting problem.
pub(crate) const REDIS_TOKEN_LEN: usize = 64;
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A secret string that does not print itself.
pub(crate) struct SecretString(Zeroizing<String>);

impl SecretString {
    pub(crate) fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The value, for the one call that sends it to AWS.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// A random version-4 UUID from the OS's CSPRNG (lock ids, secret version ids).
pub(crate) fn random_uuid() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

pub(crate) fn rds_password() -> Result<SecretString, getrandom::Error> {
    generate(RDS_ALPHABET, RDS_PASSWORD_LEN)
}

pub(crate) fn redis_auth_token() -> Result<SecretString, getrandom::Error> {
    generate(ALPHANUMERIC, REDIS_TOKEN_LEN)
}

/// Whether `value` satisfies the RDS master-password rules medtech promises (≥ 32 chars).
pub(crate) fn is_valid_rds_password(value: &str) -> bool {
    value.len() >= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/@\"".contains(&b))
}

pub(crate) fn is_valid_redis_token(value: &str) -> bool {
    value.len() == REDIS_TOKEN_LEN && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn generate(alphabet: &[u8], len: usize) -> Result<SecretString, getrandom::Error> {
    // Bytes at or above the largest multiple of the alphabet's size are drawn again, so every
    // character is equally likely.
    let limit = 256 - (256 % alphabet.len());
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        getrandom::fill(buf.as_mut())?;
        for &b in buf.iter() {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(SecretString(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_follow_the_service_rules() {
        for _ in 0..200 {
            let p = rds_password().unwrap();
            assert!(is_valid_rds_password(p.expose()));
            let t = redis_auth_token().unwrap();
            assert!(is_valid_redis_token(t.expose()));
        }
        assert_ne!(
            rds_password().unwrap().expose(),
            rds_password().unwrap().expose()
        );
    }

    #[test]
    fn debug_never_shows_the_value() {
        let t = redis_auth_token().unwrap();
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn rules_reject_forbidden_characters() {
        assert!(!is_valid_rds_password(&format!("{}/", "a".repeat(40))));
        assert!(!is_valid_rds_password(&format!("{}@", "a".repeat(40))));
        assert!(!is_valid_rds_password(&format!("{} ", "a".repeat(40))));
        assert!(!is_valid_rds_password("short"));
        assert!(!is_valid_redis_token(&"a".repeat(63)));
    }
}
