//! Where a team keeps its state in S3, as the user writes it: `s3://BUCKET/PREFIX`. Kept apart
//! from the S3 calls so that configuration can name a location without depending on the SDK.

use std::fmt;
use std::net::Ipv4Addr;

use crate::naming::EnvName;

/// An S3 object key is at most 1,024 bytes; this leaves room for `/<env>.json`.
const MAX_PREFIX_LEN: usize = 990;

/// Where a team keeps its state: a bucket and a key prefix (empty for the bucket's root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct S3Location {
    bucket: String,
    prefix: String,
}

impl S3Location {
    /// Validates `value`; the error completes "FIELD \"VALUE\": ..." with what is wrong and
    /// how to write it, as `EnvName::parse` does.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        const FIX: &str =
            "give it as s3://BUCKET or s3://BUCKET/PREFIX, e.g. s3://acme-medtech-state/teams/data";
        let rest = value
            .strip_prefix("s3://")
            .ok_or_else(|| format!("does not start with s3://; {FIX}"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|p| format!("the bucket name {bucket:?} {p}; {FIX}"))?;
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && prefix.split('/').any(str::is_empty) {
            return Err(format!(
                "the prefix {prefix:?} has an empty path segment (two slashes in a row); {FIX}"
            ));
        }
        if prefix.chars().any(char::is_control) {
            return Err(format!("the prefix holds a control character; {FIX}"));
        }
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(format!(
                "the prefix is {} bytes long; S3 keys leave at most {MAX_PREFIX_LEN} for it here",
                prefix.len()
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, without slashes at either end; empty for the bucket's root.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `PREFIX/E.json`: other tools look for exactly this key.
    pub(crate) fn state_key(&self, env: &EnvName) -> String {
        self.key(&format!("{env}.json"))
    }

    /// `PREFIX/E.lock`: other tools look for exactly this key.
    pub(crate) fn lock_key(&self, env: &EnvName) -> String {
        self.key(&format!("{env}.lock"))
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// `s3://BUCKET/KEY`, how a person names an object of this location.
    pub(crate) fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// S3's naming rules for general purpose buckets; the problem completes "the bucket name X ...".
fn check_bucket(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "is {} characters long; S3 bucket names have 3 to 63",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "holds {c:?}; S3 bucket names have only lowercase letters, digits, dots and hyphens"
        ));
    }
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alphanumeric(name.chars().next()) || !alphanumeric(name.chars().last()) {
        return Err("must start and end with a lowercase letter or a digit".into());
    }
    if name.contains("..") {
        return Err("has two dots in a row, which S3 does not allow".into());
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Err("is an IP address, which S3 does not allow as a bucket name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::env;

    #[test]
    fn locations_parse_into_keys_and_display_without_a_trailing_slash() {
        let at = S3Location::parse("s3://acme-state.team-1/medtech/teams/").unwrap();
        assert_eq!(at.bucket(), "acme-state.team-1");
        assert_eq!(at.to_string(), "s3://acme-state.team-1/medtech/teams");
        assert_eq!(at.state_key(&env()), "medtech/teams/dev.json");
        assert_eq!(at.lock_key(&env()), "medtech/teams/dev.lock");
        assert_eq!(
            at.url(&at.state_key(&env())),
            "s3://acme-state.team-1/medtech/teams/dev.json"
        );
        for root in ["s3://abc", "s3://abc/", "s3://abc///"] {
            let at = S3Location::parse(root).unwrap();
            assert_eq!(at.to_string(), "s3://abc");
            assert_eq!(at.state_key(&env()), "dev.json");
            assert_eq!(at.lock_key(&env()), "dev.lock");
        }
    }

    #[test]
    fn bad_locations_are_one_line_naming_the_value_and_the_fix() {
        for (value, problem) in [
            ("acme-state/x", "does not start with s3://"),
            ("S3://acme-state", "does not start with s3://"),
            ("s3://", "is 0 characters long"),
            ("s3://ab", "is 2 characters long"),
            (&format!("s3://{}", "a".repeat(64)), "is 64 characters long"),
            ("s3://Acme-State", "holds 'A'"),
            ("s3://acme_state", "holds '_'"),
            ("s3://-acme", "must start and end"),
            ("s3://acme.", "must start and end"),
            ("s3://acme..state", "two dots in a row"),
            ("s3://192.168.1.10", "IP address"),
            ("s3://acme-state//x", "empty path segment"),
            ("s3://acme-state/a//b", "empty path segment"),
            ("s3://acme-state/a\tb", "control character"),
            (
                &format!("s3://acme-state/{}", "p".repeat(991)),
                "991 bytes long",
            ),
        ] {
            let text = S3Location::parse(value).unwrap_err();
            assert!(text.contains(problem), "{value}: {text}");
            assert!(
                text.contains("s3://BUCKET/PREFIX") || text.contains("bytes long"),
                "{text}"
            );
            assert!(!text.contains('\n'), "{text}");
        }
    }
}
