//! Reading IAM and KMS policy documents as AWS returns them: URL-encoded or not, a field a
//! string or a list, actions matched as IAM matches them.

use serde_json::Value;

/// `Value` as a list of values: a JSON policy field may be a string or a list.
pub(crate) fn as_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    }
}

pub(crate) fn as_strings(v: Option<&Value>) -> Vec<String> {
    as_list(v)
        .into_iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("{x} is not a string"))
                .to_owned()
        })
        .collect()
}

/// IAM returns policy documents URL-encoded (RFC 3986); the emulator sometimes does not.
pub(crate) fn policy_json(doc: &str) -> Value {
    if let Ok(v) = serde_json::from_str(doc) {
        return v;
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape in {doc}")));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).unwrap();
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("policy document is not JSON ({e}): {text}"))
}

/// Case-insensitive glob (`*`, `?`) as IAM matches actions.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Asserts that a policy statement's principal is not everyone.
pub(crate) fn assert_not_public(statement: &Value, what: &str) {
    let principal = statement.get("Principal").cloned().unwrap_or(Value::Null);
    assert!(
        principal != "*" && principal.get("AWS") != Some(&Value::from("*")),
        "{what}: {statement}"
    );
}
