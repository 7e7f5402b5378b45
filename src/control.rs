//! What a check means for an auditor: how bad a failure is, which HIPAA Security Rule
//! safeguard it supports, how to fix it, and the equivalent Prowler check and AWS Config rule
//! (HIPAA conformance pack) so auditors can cross-reference. Each resource declares the control
//! of each of its properties beside the property (`property::Property`); the controls here are
//! the ones every resource shares.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

/// What a check means for an auditor.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct Control {
    pub title: &'static str,
    pub severity: Severity,
    pub safeguard: &'static str,
    pub fix: &'static str,
    #[serde(serialize_with = "dash_if_none")]
    pub prowler: Option<&'static str>,
    #[serde(serialize_with = "dash_if_none")]
    pub config_rule: Option<&'static str>,
}

/// How every report shows a control without a Prowler check or Config rule: `-`, which the
/// JSON document has always carried there.
pub(crate) fn shown(equivalent: Option<&'static str>) -> &'static str {
    equivalent.unwrap_or("-")
}

fn dash_if_none<S: serde::Serializer>(
    equivalent: &Option<&'static str>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(shown(*equivalent))
}

pub(crate) const ENCRYPTION: &str = "164.312(a)(2)(iv) encryption and decryption";
pub(crate) const TRANSMISSION: &str = "164.312(e)(1) transmission security";
pub(crate) const AUDIT: &str = "164.312(b) audit controls";
pub(crate) const CONTINGENCY: &str = "164.308(a)(7) contingency plan";
pub(crate) const BACKUP: &str = "164.308(a)(7)(ii)(A) data backup plan";
pub(crate) const ACCESS: &str = "164.312(a)(1) access control";
pub(crate) const ACCESS_MGMT: &str = "164.308(a)(4) information access management";
pub(crate) const ACTIVITY: &str = "164.308(a)(1)(ii)(D) information system activity review";
pub(crate) const INTEGRITY: &str = "164.312(c)(1) integrity";
pub(crate) const AUTHN: &str = "164.312(d) person or entity authentication";
pub(crate) const PASSWORD_MGMT: &str = "164.308(a)(5)(ii)(D) password management";

/// A control: title, severity, safeguard, fix, then the Prowler check and the Config rule
/// (HIPAA conformance pack) it matches, if any.
pub(crate) const fn control(
    title: &'static str,
    severity: Severity,
    safeguard: &'static str,
    fix: &'static str,
    prowler: Option<&'static str>,
    config_rule: Option<&'static str>,
) -> Control {
    Control {
        title,
        severity,
        safeguard,
        fix,
        prowler,
        config_rule,
    }
}

/// The resource exists.
pub(crate) const EXISTS: Control = control(
    "The resource exists",
    Severity::Critical,
    INTEGRITY,
    "run `medtech up` to re-create it",
    None,
    None,
);

/// Exactly one resource carries its name and environment.
pub(crate) const UNIQUE: Control = control(
    "Exactly one resource carries this name and environment",
    Severity::High,
    INTEGRITY,
    "delete the copies medtech did not create, keep the one in state",
    None,
    None,
);

/// AWS has finished a change, so its settings can be checked.
pub(crate) const SETTLED: Control = control(
    "AWS has finished creating or changing the resource (its settings are checked once it has)",
    Severity::High,
    INTEGRITY,
    "wait for AWS to finish, or run `medtech up`, which waits, then verify again",
    None,
    None,
);

/// The resource found is the one state recorded.
pub(crate) const RECORDED: Control = control(
    "The resource is the one recorded in state",
    Severity::Medium,
    INTEGRITY,
    "run `medtech state refresh` after checking why it changed",
    None,
    None,
);

/// The checks every resource gets besides its own properties, by property name.
pub(crate) const COMMON: [(&str, Control); 4] = [
    ("exists", EXISTS),
    ("unique", UNIQUE),
    ("settled", SETTLED),
    ("recorded", RECORDED),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON document's fields keep their shape: a string always, `-` for none.
    #[test]
    fn a_missing_equivalent_is_a_dash_in_json() {
        let none = serde_json::to_value(EXISTS).unwrap();
        assert_eq!(
            (&none["prowler"], &none["config_rule"]),
            (&"-".into(), &"-".into())
        );
        let named = control("t", Severity::Low, INTEGRITY, "f", Some("p"), Some("c"));
        let named = serde_json::to_value(named).unwrap();
        assert_eq!(
            (&named["prowler"], &named["config_rule"]),
            (&"p".into(), &"c".into())
        );
    }
}
