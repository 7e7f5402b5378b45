//! How medtech finds its roles in IAM: one role by name with its policies, the stack's roles
//! all at once, and a customer-managed policy's versions. Reads only; `role.rs` changes them.

use aws_sdk_iam::types::Role;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::aws::{AwsError, AwsResultExt};
use crate::context::{Ctx, ListKey};
use crate::error::Error;
use crate::logical::{Logical, RoleFor};
use crate::resources::common::found;
use crate::state::Record;

/// A role as IAM reports it. `policy`: the default version of the customer-managed policy
/// named like the role, `None` when there is no such policy (or it was not asked for).
#[derive(Clone)]
pub(super) struct RoleRead {
    pub(super) role: Role,
    pub(super) inline: Vec<String>,
    pub(super) attached: Vec<String>,
    pub(super) policy: Option<PolicyVersion>,
}

/// One version of a customer-managed policy.
#[derive(Clone)]
pub(super) struct PolicyVersion {
    pub(super) id: String,
    pub(super) is_default: bool,
    pub(super) document: Value,
}

/// The policy a role's permissions come from, as its record keeps it: the role's reads then
/// know, without asking IAM, whether there is a namesake policy to read and at which version.
pub(super) const POLICY: &str = "policy";
pub(super) const POLICY_VERSION: &str = "policy_version";

/// The ARN of the customer-managed policy that shares the role's name.
pub(super) fn namesake_policy_arn(ctx: &Ctx, role_name: &str) -> String {
    let c = &ctx.clients;
    format!(
        "arn:{}:iam::{}:policy/{role_name}",
        c.partition, c.account_id
    )
}

/// One role, read by name: its trust policy and tags, inline policy names, attached policy
/// ARNs and, with `policy` (its ARN, and the version last seen as its default if known), that
/// policy's default version, all at once. `None` when the role does not exist.
pub(super) async fn read_role(
    ctx: &Ctx,
    name: &str,
    policy: Option<(&str, Option<&str>)>,
) -> Result<Option<RoleRead>, Error> {
    let iam = &ctx.clients.iam;
    let document = async {
        match policy {
            Some((arn, known)) => default_version(ctx, arn, known).await,
            None => Ok(None),
        }
    };
    let (role, inline, attached, policy) = tokio::join!(
        iam.get_role().role_name(name).send(),
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
        document,
    );
    let role = found(role.op("iam:GetRole"))?;
    let inline = found(inline.op("iam:ListRolePolicies"))?;
    let attached = found(attached.op("iam:ListAttachedRolePolicies"))?;
    let policy = policy?;
    let (Some(role), Some(inline), Some(attached)) = (role.and_then(|r| r.role), inline, attached)
    else {
        return Ok(None);
    };
    Ok(Some(RoleRead {
        role,
        inline: inline.policy_names,
        attached: attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect(),
        policy,
    }))
}

/// The default version of the customer-managed policy at `arn`; `None` when the policy does
/// not exist. `known`, the version last seen as the default, is asked for directly: one call
/// when it still is, and GetPolicy only when it is not (someone made another the default).
async fn default_version(
    ctx: &Ctx,
    arn: &str,
    known: Option<&str>,
) -> Result<Option<PolicyVersion>, Error> {
    if let Some(known) = known
        && let Some(version) = policy_version(ctx, arn, known).await?
        && version.is_default
    {
        return Ok(Some(version));
    }
    let Some(out) = found(
        ctx.clients
            .iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .op("iam:GetPolicy"),
    )?
    else {
        return Ok(None);
    };
    match out.policy().and_then(|p| p.default_version_id()) {
        Some(version) => policy_version(ctx, arn, version).await,
        None => Ok(None),
    }
}

/// One version of the policy at `arn`; `None` when it (or the policy) does not exist.
pub(super) async fn policy_version(
    ctx: &Ctx,
    arn: &str,
    version: &str,
) -> Result<Option<PolicyVersion>, Error> {
    let out = found(
        ctx.clients
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .op("iam:GetPolicyVersion"),
    )?;
    Ok(out
        .as_ref()
        .and_then(|o| o.policy_version())
        .map(|v| PolicyVersion {
            id: version.to_owned(),
            is_default: v.is_default_version(),
            document: v.document().map_or(Value::Null, decode_document),
        }))
}

pub(super) const ROLES: ListKey<Vec<(String, RoleRead)>> = ListKey::new("iam:StackRoles");

/// Every recorded role of the stack, read by name and all at once: the batched list the
/// roles' reads take their item from. It asks only for the stack's own roles and policies, so
/// its cost does not grow with what else the account holds (an account-wide listing such as
/// `GetAccountAuthorizationDetails` pages through every role and policy of every team). Each
/// record says which policy its role runs on: the namesake customer-managed one is read (at
/// the recorded version), an AWS-managed one is not; a record from before records said so
/// gets the namesake asked for.
pub(super) async fn stack_roles(ctx: &Ctx) -> Result<Vec<(String, RoleRead)>, Error> {
    let records: Vec<Record> = RoleFor::ALL
        .into_iter()
        .filter_map(|role| ctx.record(Logical::Role(role)))
        .collect();
    let reads = records.iter().map(|record| async move {
        let namesake = namesake_policy_arn(ctx, &record.id);
        let policy = match record.attr(POLICY) {
            Some(policy) if policy != namesake => None,
            _ => Some((namesake.as_str(), record.attr(POLICY_VERSION))),
        };
        read_role(ctx, &record.id, policy).await
    });
    let read = futures::future::try_join_all(reads).await?;
    Ok(records
        .into_iter()
        .zip(read)
        .filter_map(|(record, role)| Some((record.id, role?)))
        .collect())
}

/// The versions of the policy at `arn` other than its default one, in the order IAM lists
/// them, and how many versions it has in all (IAM keeps five at most).
pub(super) async fn old_versions(
    iam: &aws_sdk_iam::Client,
    arn: &str,
) -> Result<(Vec<aws_sdk_iam::types::PolicyVersion>, usize), AwsError> {
    let versions = iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .op("iam:ListPolicyVersions")?
        .versions
        .unwrap_or_default();
    let all = versions.len();
    let old = versions
        .into_iter()
        .filter(|v| !v.is_default_version())
        .collect();
    Ok((old, all))
}

/// IAM returns policy documents URL-encoded.
pub(super) fn decode_document(raw: &str) -> Value {
    let text = percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
}
