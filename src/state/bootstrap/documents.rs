//! The documents bootstrap writes onto the bucket, and how it recognises them there already:
//! the bucket policy statement that refuses plain HTTP, the lifecycle rule that expires old
//! state versions, and the tags of the bucket and its key. Each keeps what others put beside
//! it.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration,
};
use serde_json::{Value, json};

use super::sdk::built;
use crate::aws::AwsError;

/// The tags of the bucket and its key. No `Environment`: one bucket serves every environment.
pub(super) const TAGS: [(&str, &str); 3] = [
    ("Project", crate::tags::PROJECT),
    ("ManagedBy", crate::tags::MANAGED_BY),
    ("Purpose", "state"),
];

/// State objects are small single-part writes; an upload left incomplete is nobody's.
pub(super) const ABORT_UPLOADS_AFTER_DAYS: i32 = 7;

/// The bucket policy statement that refuses plain HTTP, found again by its `Sid`.
const TLS_SID: &str = "DenyInsecureTransport";

pub(super) fn has_tags<'a>(found: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    let found: BTreeMap<&str, &str> = found.collect();
    TAGS.iter().all(|(k, v)| found.get(k) == Some(v))
}

pub(super) fn tag_list() -> String {
    TAGS.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bucket's tag set with ours in it, or `None` when `found` has them already. The call
/// that writes it replaces the whole set: others' tags go back with ours.
pub(super) fn with_tags(mut found: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    if has_tags(found.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return None;
    }
    for (key, value) in TAGS {
        found.insert(key.to_owned(), value.to_owned());
    }
    Some(found)
}

/// The rule that expires old state versions under `prefix` (the whole bucket when empty).
/// Its id names the prefix, so one bucket can hold the state of several teams, each with its
/// own rule.
pub(super) fn lifecycle_rule(
    prefix: &str,
    noncurrent_days: i32,
) -> Result<LifecycleRule, AwsError> {
    // S3 caps rule ids at 255 characters.
    let mut id = if prefix.is_empty() {
        "medtech-state".to_owned()
    } else {
        format!("medtech-state:{prefix}/")
    };
    if id.len() > 255 {
        let mut end = 255;
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        id.truncate(end);
    }
    // The trailing slash keeps `teams` from matching `teams-old/`.
    let filter = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    built(
        "s3:PutLifecycleConfiguration",
        LifecycleRule::builder()
            .id(id)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(filter).build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(noncurrent_days)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABORT_UPLOADS_AFTER_DAYS)
                    .build(),
            )
            .build(),
    )
}

/// Whether `found` is `wanted` as S3 reads it back (an empty prefix may come back as none).
fn same_rule(found: &LifecycleRule, wanted: &LifecycleRule) -> bool {
    let prefix = |r: &LifecycleRule| {
        r.filter()
            .and_then(LifecycleRuleFilter::prefix)
            .unwrap_or_default()
            .to_owned()
    };
    let narrowed = found.filter().is_some_and(|f| {
        f.tag().is_some()
            || f.and().is_some()
            || f.object_size_greater_than().is_some()
            || f.object_size_less_than().is_some()
    });
    let noncurrent = |r: &LifecycleRule| {
        r.noncurrent_version_expiration()
            .map(|e| (e.noncurrent_days(), e.newer_noncurrent_versions()))
    };
    let abort = |r: &LifecycleRule| {
        r.abort_incomplete_multipart_upload()
            .and_then(AbortIncompleteMultipartUpload::days_after_initiation)
    };
    found.id() == wanted.id()
        && found.status() == wanted.status()
        && !narrowed
        && prefix(found) == prefix(wanted)
        && noncurrent(found) == noncurrent(wanted)
        && abort(found) == abort(wanted)
}

/// The bucket's lifecycle rules with `wanted` among them, or `None` when `found` has it
/// already. The call that writes them replaces every rule: others' rules, and ours for other
/// prefixes, go back as they were.
pub(super) fn with_lifecycle_rule(
    found: &[LifecycleRule],
    wanted: LifecycleRule,
) -> Option<Vec<LifecycleRule>> {
    if found.iter().any(|r| same_rule(r, &wanted)) {
        return None;
    }
    let mut kept: Vec<LifecycleRule> = found
        .iter()
        .filter(|r| r.id() != wanted.id())
        .cloned()
        .collect();
    kept.push(wanted);
    Some(kept)
}

/// The bucket policy with a statement that denies plain HTTP to `resources`, or `None` when
/// `current` already has one. Other statements are kept; one with this `Sid` is replaced.
pub(super) fn with_tls_statement(
    current: Option<&Value>,
    resources: &[String; 2],
) -> Option<Value> {
    let statements = current
        .and_then(|p| p.get("Statement"))
        .map(as_list)
        .unwrap_or_default();
    if statements.iter().any(|s| denies_plain_http(s, resources)) {
        return None;
    }
    let mut kept: Vec<Value> = statements
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(TLS_SID))
        .collect();
    kept.push(json!({
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }));
    let mut policy = current.cloned().unwrap_or_else(|| json!({}));
    let map = policy.as_object_mut()?;
    map.insert("Version".into(), json!("2012-10-17"));
    map.insert("Statement".into(), Value::Array(kept));
    Some(policy)
}

/// A policy field may be one value or a list of them.
fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn denies_plain_http(statement: &Value, resources: &[String; 2]) -> bool {
    let strings = |field: &str| -> Vec<String> {
        statement
            .get(field)
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let principal = statement.get("Principal");
    let everyone = principal == Some(&json!("*"))
        || principal
            .and_then(|p| p.get("AWS"))
            .is_some_and(|aws| as_list(aws) == [json!("*")]);
    let insecure = statement
        .pointer("/Condition/Bool/aws:SecureTransport")
        .map(as_list)
        .is_some_and(|v| v == [json!("false")] || v == [json!(false)]);
    let actions = strings("Action");
    let covered = strings("Resource");
    statement.get("Effect") == Some(&json!("Deny"))
        && everyone
        && insecure
        && actions.iter().any(|a| a == "s3:*" || a == "*")
        && resources.iter().all(|r| covered.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::location::S3Location;

    fn resources() -> [String; 2] {
        [
            "arn:aws:s3:::team-state".to_owned(),
            "arn:aws:s3:::team-state/*".to_owned(),
        ]
    }

    #[test]
    fn the_tls_statement_is_added_once_and_others_are_kept() {
        let added = with_tls_statement(None, &resources()).unwrap();
        assert!(with_tls_statement(Some(&added), &resources()).is_none());

        let theirs = json!({"Version": "2012-10-17", "Id": "theirs", "Statement": {
            "Sid": "ReadForAuditors", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/audit"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::team-state/*"}});
        let merged = with_tls_statement(Some(&theirs), &resources()).unwrap();
        assert_eq!(merged["Id"], "theirs");
        let sids: Vec<&str> = merged["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(sids, ["ReadForAuditors", TLS_SID]);

        // Written another way (lists, a boolean, AWS's principal form), it still counts.
        let equivalent = json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": ["*"]},
            "Action": ["s3:*"], "Resource": [resources()[1], resources()[0]],
            "Condition": {"Bool": {"aws:SecureTransport": false}}}]});
        assert!(with_tls_statement(Some(&equivalent), &resources()).is_none());
        // Covering only the objects is not enough; a stale statement of ours is replaced.
        let partial = json!({"Statement": [{"Sid": TLS_SID, "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": resources()[1],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
        let fixed = with_tls_statement(Some(&partial), &resources()).unwrap();
        assert_eq!(fixed["Statement"].as_array().unwrap().len(), 1);
        assert!(denies_plain_http(&fixed["Statement"][0], &resources()));
    }

    #[test]
    fn the_lifecycle_rule_is_scoped_to_the_prefix() {
        // The location gives the prefix without slashes at either end.
        let at = S3Location::parse("s3://team-state/medtech/teams/").unwrap();
        assert_eq!(at.prefix(), "medtech/teams");
        assert_eq!(S3Location::parse("s3://team-state").unwrap().prefix(), "");
        let nested = lifecycle_rule(at.prefix(), 30).unwrap();
        assert_eq!(
            nested.filter().and_then(|f| f.prefix()),
            Some("medtech/teams/")
        );
        let rule = lifecycle_rule("teams", 30).unwrap();
        assert_eq!(rule.id(), Some("medtech-state:teams/"));
        assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("teams/"));
        assert_eq!(
            rule.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
            Some(30)
        );
        let root = lifecycle_rule("", 90).unwrap();
        assert_eq!(root.id(), Some("medtech-state"));
        assert_eq!(root.filter().and_then(|f| f.prefix()), Some(""));
        let long = lifecycle_rule(&"é".repeat(200), 90).unwrap();
        assert!(long.id().unwrap().len() <= 255);
    }

    #[test]
    fn tags_hold_when_ours_are_there_among_others() {
        assert!(has_tags(
            [
                ("Owner", "ops"),
                ("Project", "medtech"),
                ("ManagedBy", "medtech"),
                ("Purpose", "state")
            ]
            .into_iter()
        ));
        assert!(!has_tags(
            [("Project", "medtech"), ("ManagedBy", "medtech")].into_iter()
        ));
        assert!(!has_tags(
            [
                ("Project", "other"),
                ("ManagedBy", "medtech"),
                ("Purpose", "state")
            ]
            .into_iter()
        ));
    }

    #[test]
    fn ours_are_added_to_others_tags_and_rules_only_when_missing() {
        let theirs = BTreeMap::from([("Owner".to_owned(), "ops".to_owned())]);
        let tagged = with_tags(theirs).unwrap();
        assert_eq!(tagged.len(), 4, "{tagged:?}");
        assert_eq!(tagged["Owner"], "ops");
        assert!(with_tags(tagged).is_none());

        let logs = LifecycleRule::builder()
            .id("logs")
            .status(ExpirationStatus::Enabled)
            .build()
            .unwrap();
        let stale = lifecycle_rule("teams", 30).unwrap();
        let rules = with_lifecycle_rule(&[logs, stale], lifecycle_rule("teams", 90).unwrap())
            .expect("a rule of other days is replaced");
        let ids: Vec<_> = rules.iter().filter_map(LifecycleRule::id).collect();
        assert_eq!(ids, ["logs", "medtech-state:teams/"]);
        assert!(with_lifecycle_rule(&rules, lifecycle_rule("teams", 90).unwrap()).is_none());
        // Another prefix's rule stays beside this one.
        let both = with_lifecycle_rule(&rules, lifecycle_rule("other", 90).unwrap()).unwrap();
        assert_eq!(both.len(), 3);
    }
}
