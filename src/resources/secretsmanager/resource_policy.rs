//! The resource policy each secret carries: it denies every Secrets Manager action to every
//! principal but those it names by `aws:PrincipalArn` (Prowler's
//! `secretsmanager_has_restrictive_resource_policy`): the stack's secrets-reader role, the
//! `[secrets] admin_principals`, and whoever runs medtech. The runner is named as AWS
//! evaluates it: an IAM user, the account root or a federated user by the ARN STS gives (Prowler
//! passes role and user ARNs only, so a stack run as root fails its check); a role session
//! (`arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`) by its role's ARN, whose path STS leaves
//! out (SSO roles live under `/aws-reserved/sso.amazonaws.com/…`). That ARN is taken from
//! `admin_principals` when one of them is the role (role names are unique in an account,
//! whatever their path), and otherwise from one `iam:GetRole` of the role; never guessed, since
//! a wrong one would lock the runner out of its own secrets.
//!
//! Only the current runner is named, so two people or pipelines that run medtech without
//! being in `admin_principals` take the secrets from each other: each `up` rewrites the
//! policy to name itself and drops the other, who is then denied even the read that would
//! repair it (only a principal still named can). Every principal that runs medtech (each CI
//! role, each engineer's role) belongs in `[secrets] admin_principals`; then every run writes
//! the same policy.

use serde_json::{Value, json};

use crate::aws::{AwsResultExt, Required};
use crate::context::{Ctx, ListKey};
use crate::error::Error;

/// The resource policy `up` writes: every Secrets Manager action denied to every principal
/// but those `named` (sorted, each once), in the one shape Prowler accepts as restrictive.
fn deny_all_but(mut named: Vec<String>) -> Value {
    named.sort();
    named.dedup();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyAllButNamedPrincipals",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": named}}
        }]
    })
}

/// The policy both secrets should carry (see the module comment for who is named, and why).
pub(super) async fn desired(ctx: &Ctx) -> Result<Value, Error> {
    let mut named = ctx.settings.services.secrets.admin_principals.clone();
    named.push(reader_role_arn(ctx));
    named.push(runner_principal(ctx).await?);
    Ok(deny_all_but(named))
}

/// Puts the desired policy on the secret at `arn`; AWS refuses it should it ever grant access
/// to the world.
pub(super) async fn put(ctx: &Ctx, arn: &str) -> Result<(), Error> {
    ctx.clients
        .secrets
        .put_resource_policy()
        .secret_id(arn)
        .resource_policy(desired(ctx).await?.to_string())
        .block_public_policy(true)
        .send()
        .await
        .op("secretsmanager:PutResourcePolicy")?;
    Ok(())
}

/// The secret's resource policy in the shape `desired` writes (`normalise`); null
/// when it has none, the text itself when it is not JSON.
pub(super) async fn read(ctx: &Ctx, secret: &str) -> Result<Value, Error> {
    let out = ctx
        .clients
        .secrets
        .get_resource_policy()
        .secret_id(secret)
        .send()
        .await
        .op("secretsmanager:GetResourcePolicy")?;
    Ok(out.resource_policy().map_or(Value::Null, |text| {
        serde_json::from_str(text).map_or_else(|_| json!(text), normalise)
    }))
}

/// A policy document with the liberties IAM allows taken back, so that only a difference in
/// meaning shows as drift: one statement or one value where a list of one would do,
/// `{"AWS": "*"}` for `"*"`, and condition values in any order or repeated.
fn normalise(mut doc: Value) -> Value {
    let Some(statements) = doc.get_mut("Statement") else {
        return doc;
    };
    if statements.is_object() {
        *statements = Value::Array(vec![statements.take()]);
    }
    for statement in statements.as_array_mut().into_iter().flatten() {
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(value) = statement.get_mut(key) {
                unwrap_single(value);
            }
        }
        if let Some(principal) = statement.get_mut("Principal") {
            let mut everyone = principal.clone();
            if let Some(aws) = everyone.get_mut("AWS") {
                unwrap_single(aws);
            }
            if everyone == json!({"AWS": "*"}) {
                *principal = json!("*");
            }
        }
        let operators = statement
            .get_mut("Condition")
            .and_then(Value::as_object_mut);
        for keys in operators.into_iter().flat_map(|o| o.values_mut()) {
            for values in keys
                .as_object_mut()
                .into_iter()
                .flat_map(|k| k.values_mut())
            {
                sort_values(values);
            }
        }
    }
    doc
}

/// `["x"]` as `"x"`.
fn unwrap_single(value: &mut Value) {
    if let Value::Array(list) = value
        && let [one] = list.as_mut_slice()
    {
        *value = one.take();
    }
}

/// A condition's values as a sorted list without repeats (`"x"` as `["x"]`).
fn sort_values(values: &mut Value) {
    if values.is_string() {
        *values = Value::Array(vec![values.take()]);
    }
    if let Some(list) = values.as_array_mut()
        && list.iter().all(Value::is_string)
    {
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        list.dedup();
    }
}

/// The secrets-reader role's ARN, built from its name rather than read from its record: the
/// role's policy names the secrets' ARNs, so the role is made after them and a dependency back
/// would be a cycle. `aws:PrincipalArn` is compared as text, so the ARN holds before the role
/// exists and again after it is re-made. medtech makes the role without a path.
fn reader_role_arn(ctx: &Ctx) -> String {
    let c = &ctx.clients;
    format!(
        "arn:{}:iam::{}:role/{}",
        c.partition,
        c.account_id,
        ctx.names().secrets_reader_role()
    )
}

/// The runner's `aws:PrincipalArn`: the caller's ARN, or for a role session the role's, path
/// included (see the module comment).
async fn runner_principal(ctx: &Ctx) -> Result<String, Error> {
    let c = &ctx.clients;
    let Some(role) = session_role(&c.caller_arn) else {
        return Ok(c.caller_arn.clone());
    };
    let roles = format!("arn:{}:iam::{}:role/", c.partition, c.account_id);
    match configured_role(
        &ctx.settings.services.secrets.admin_principals,
        &roles,
        role,
    ) {
        Some(arn) => Ok(arn.to_owned()),
        None => role_arn_from_iam(ctx, role).await,
    }
}

/// The role of a role session's ARN (`arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`);
/// `None` for any other principal (IAM user, root, federated user), whose ARN as STS gives it
/// is already its `aws:PrincipalArn`.
fn session_role(caller: &str) -> Option<&str> {
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    let ["arn", _, "sts", _, _, resource] = parts.as_slice() else {
        return None;
    };
    let (role, _session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    Some(role)
}

/// The configured principal that is the role `name` (an ARN under `roles`, the account's
/// `arn:…:iam::ACCOUNT:role/` prefix, whose last segment is `name`): its path is the role's,
/// since a role name is unique in an account whatever the path. Compared exactly, as
/// `aws:PrincipalArn` is.
fn configured_role<'a>(configured: &'a [String], roles: &str, name: &str) -> Option<&'a str> {
    configured
        .iter()
        .find(|arn| {
            arn.strip_prefix(roles)
                .and_then(|path_and_name| path_and_name.rsplit('/').next())
                == Some(name)
        })
        .map(String::as_str)
}

/// The runner's role as IAM gave it, once per run while nothing changes (both secrets, and
/// every read of a run, ask for it).
const RUNNER_ROLE: ListKey<String> = ListKey::new("iam:GetRole");

/// The ARN of the runner's role `name` as IAM gives it, path included.
async fn role_arn_from_iam(ctx: &Ctx, name: &str) -> Result<String, Error> {
    let get = || async {
        let out = ctx
            .clients
            .iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .op("iam:GetRole")?;
        Ok(out
            .role()
            .map(|r| r.arn().to_owned())
            .required("iam:GetRole", "Role.Arn")?)
    };
    match ctx.listed(&RUNNER_ROLE, get).await? {
        Some(arn) => Ok(arn.as_ref().clone()),
        None => get().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: &str = "arn:aws:iam::123456789012:role/";

    #[test]
    fn only_a_role_session_names_a_role() {
        assert_eq!(
            session_role("arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42"),
            Some("ci-deploy")
        );
        assert_eq!(
            session_role(
                "arn:aws-us-gov:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/jane@example.com"
            ),
            Some("AWSReservedSSO_Admin_0123abcd")
        );
        for principal in [
            "arn:aws:iam::123456789012:user/ops/jane",
            "arn:aws:iam::123456789012:root",
            "arn:aws:sts::123456789012:federated-user/jane",
            "arn:aws:iam::123456789012:role/assumed-role/x/y",
            "arn:aws:sts::123456789012:assumed-role/no-session",
        ] {
            assert_eq!(session_role(principal), None, "{principal}");
        }
    }

    #[test]
    fn a_configured_role_is_found_by_its_name_whatever_its_path() {
        let configured = [
            "arn:aws:iam::123456789012:user/ci-deploy".to_owned(),
            "arn:aws:iam::210987654321:role/ci-deploy".to_owned(),
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd".to_owned(),
            "arn:aws:iam::123456789012:role/ci/ci-deploy".to_owned(),
        ];
        assert_eq!(
            configured_role(&configured, ROLES, "AWSReservedSSO_Admin_0123abcd"),
            Some(configured[2].as_str())
        );
        // Not the user of that name, nor the role of that name in another account.
        assert_eq!(
            configured_role(&configured, ROLES, "ci-deploy"),
            Some(configured[3].as_str())
        );
        // A role name that only ends like a configured one, or differs in case, is another.
        assert_eq!(configured_role(&configured, ROLES, "deploy"), None);
        assert_eq!(configured_role(&configured, ROLES, "CI-DEPLOY"), None);
    }

    #[test]
    fn the_policy_names_each_principal_once_in_order() {
        let policy = deny_all_but(vec!["b".into(), "a".into(), "b".into()]);
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalArn"],
            json!(["a", "b"])
        );
        assert_eq!(normalise(policy.clone()), policy);
    }

    #[test]
    fn a_policy_written_otherwise_but_meaning_the_same_reads_as_desired() {
        let desired = deny_all_but(vec!["arn:b".into(), "arn:a".into()]);
        let same = json!({
            "Version": "2012-10-17",
            "Statement": {
                "Sid": "DenyAllButNamedPrincipals",
                "Effect": "Deny",
                "Principal": {"AWS": ["*"]},
                "Action": ["secretsmanager:*"],
                "Resource": ["*"],
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": ["arn:b", "arn:a", "arn:b"]}}
            }
        });
        assert_eq!(normalise(same), desired);
        let one = json!({"Statement": [{"Condition": {"StringNotEquals": {"aws:PrincipalArn": "arn:a"}}}]});
        assert_eq!(
            normalise(one)["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalArn"],
            json!(["arn:a"])
        );
    }

    #[test]
    fn a_policy_that_means_more_still_differs() {
        let desired = deny_all_but(vec!["arn:a".into()]);
        for (what, change) in [
            (
                "another principal",
                json!({"StringNotEquals": {"aws:PrincipalArn": ["arn:a", "arn:b"]}}),
            ),
            (
                "a pattern",
                json!({"StringNotLike": {"aws:PrincipalArn": ["arn:a"]}}),
            ),
        ] {
            let mut wider = desired.clone();
            wider["Statement"][0]["Condition"] = change;
            assert_ne!(normalise(wider), desired, "{what}");
        }
        let mut named = desired.clone();
        named["Statement"][0]["Principal"] = json!({"AWS": "arn:aws:iam::123456789012:root"});
        assert_ne!(normalise(named), desired);
    }
}
