//! IAM roles: each trusts exactly the principals it must, and gets its permissions from one
//! customer-managed policy of the same name (or, for RDS enhanced monitoring and AWS Backup,
//! the AWS managed policies made for them) — never inline policies, which the HIPAA
//! conformance pack flags.
//! Custom policies name this stack's ARNs, never `*`.

use async_trait::async_trait;
use aws_sdk_iam::types::{Role, Tag};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::{Ctx, ListKey};
use crate::control::{ACCESS_MGMT, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, RoleFor};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::{desired_tags, found, gone, listed, strings, tag_pairs};
use crate::state::Record;

use super::roles::{IamRole, Permissions, Trust};

static TRUST_POLICY: Property = Property::in_place(
    "assume_role_policy",
    control(
        "Only the intended principals may assume the role",
        Severity::Critical,
        ACCESS_MGMT,
        "run `medtech up` (UpdateAssumeRolePolicy)",
        Some("iam_role_cross_service_confused_deputy_prevention"),
        None,
    ),
);
static INLINE_POLICIES: Property = Property::in_place(
    "inline_policies",
    control(
        "No inline policies",
        Severity::High,
        ACCESS_MGMT,
        "run `medtech up` to delete them",
        Some("iam_inline_policy_no_administrative_privileges"),
        Some("IAM_NO_INLINE_POLICY_CHECK"),
    ),
);
static ATTACHED_POLICIES: Property = Property::in_place(
    "attached_policies",
    control(
        "Only the intended managed policy is attached",
        Severity::High,
        ACCESS_MGMT,
        "run `medtech up`",
        Some("iam_policy_attached_only_to_group_or_roles"),
        Some("IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS"),
    ),
);
/// Only roles with a customer-managed policy have one.
static POLICY_DOCUMENT: Property = Property::in_place(
    "policy_document",
    control(
        "Least privilege: exact actions on this stack's ARNs, KMS on this key only",
        Severity::Critical,
        ACCESS_MGMT,
        "run `medtech up` (new policy version)",
        Some("iam_customer_attached_policy_no_administrative_privileges"),
        Some("IAM_CUSTOMER_POLICY_BLOCKED_KMS_ACTIONS"),
    ),
);

impl IamRole {
    /// The properties `read` reports, whichever way the role was read.
    fn observe(&self, ctx: &Ctx, read: &RoleRead) -> Observed {
        let mut inline = read.inline.clone();
        let mut attached = read.attached.clone();
        inline.sort();
        attached.sort();
        let mut props = Properties::from([
            (
                &TRUST_POLICY,
                read.role
                    .assume_role_policy_document()
                    .map_or(Value::Null, decode_document),
            ),
            (&INLINE_POLICIES, json!(inline)),
            (&ATTACHED_POLICIES, json!(attached)),
            (
                &TAGS,
                tag_pairs(read.role.tags().iter().map(|t| (t.key(), t.value()))),
            ),
        ]);
        let mut record = Record::new(self.role_name(ctx))
            .with("arn", read.role.arn())
            .with(POLICY, self.policy_arns(ctx).join(","));
        // Only roles with a customer-managed policy report its document.
        if matches!(self.permissions(), Permissions::Custom(_)) {
            let policy = read.policy.as_ref();
            props.insert(
                &POLICY_DOCUMENT,
                policy.map_or(Value::Null, |p| p.document.clone()),
            );
            if let Some(policy) = policy {
                record = record.with(POLICY_VERSION, &policy.id);
            }
        }
        Observed {
            record,
            properties: props,
        }
    }

    /// The role and, for a customer-managed policy, its document, all at once.
    async fn read_by_name(&self, ctx: &Ctx) -> Result<Option<Observed>, Error> {
        let policy =
            matches!(self.permissions(), Permissions::Custom(_)).then(|| self.policy_arn(ctx));
        Ok(read_role(
            ctx,
            &self.role_name(ctx),
            policy.as_deref().map(|arn| (arn, None)),
        )
        .await?
        .map(|read| self.observe(ctx, &read)))
    }

    /// The customer-managed policy of a role with `Permissions::Custom`.
    fn policy_arn(&self, ctx: &Ctx) -> String {
        namesake_policy_arn(ctx, &self.role_name(ctx))
    }

    /// Every policy the role should have attached, sorted as `observe` reports them.
    fn policy_arns(&self, ctx: &Ctx) -> Vec<String> {
        let mut arns = match self.permissions() {
            Permissions::AwsManaged(paths) => paths
                .iter()
                .map(|path| format!("arn:{}:iam::aws:policy/{path}", ctx.clients.partition))
                .collect(),
            Permissions::Custom(_) => vec![self.policy_arn(ctx)],
        };
        arns.sort();
        arns
    }

    fn trust_policy(&self, ctx: &Ctx) -> Value {
        let trust = self.trust();
        let principal = match &trust {
            Trust::Service(service) => json!({"Service": service}),
            Trust::Configured(principals) => {
                let configured = principals(ctx);
                if configured.is_empty() {
                    json!({"AWS": ctx.clients.account_root()})
                } else {
                    let (services, arns): (Vec<&String>, Vec<&String>) = configured
                        .iter()
                        .partition(|p| p.ends_with(".amazonaws.com"));
                    let mut principal = serde_json::Map::new();
                    if !arns.is_empty() {
                        principal.insert("AWS".into(), json!(arns));
                    }
                    if !services.is_empty() {
                        principal.insert("Service".into(), json!(services));
                    }
                    Value::Object(principal)
                }
            }
        };
        let mut statement = json!({
            "Effect": "Allow",
            "Principal": principal,
            "Action": "sts:AssumeRole"
        });
        // Service roles: only on behalf of this account (confused-deputy protection).
        if matches!(trust, Trust::Service(_)) {
            statement["Condition"] =
                json!({"StringEquals": {"aws:SourceAccount": ctx.clients.account_id}});
        }
        json!({"Version": "2012-10-17", "Statement": [statement]})
    }

    fn tags(&self, ctx: &Ctx) -> Result<Vec<Tag>, Error> {
        ctx.tags(&self.role_name(ctx))
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| Error::resource(self.logical(), e.to_string()))
            })
            .collect()
    }

    async fn ensure_policy(&self, ctx: &Ctx) -> Result<(), Error> {
        let Permissions::Custom(document) = self.permissions() else {
            return Ok(());
        };
        let document = document(ctx)?.to_string();
        let created = ctx
            .clients
            .iam
            .create_policy()
            .policy_name(self.role_name(ctx))
            .description(self.description())
            .policy_document(&document)
            .set_tags(Some(self.tags(ctx)?))
            .send()
            .await
            .op("iam:CreatePolicy");
        match created {
            Err(e) if e.is(ErrorKind::AlreadyExists) => {
                self.new_policy_version(ctx, &document).await
            }
            other => other.map(drop).map_err(Error::from),
        }
    }

    /// Replaces the policy's document, keeping within IAM's five versions.
    async fn new_policy_version(&self, ctx: &Ctx, document: &str) -> Result<(), Error> {
        let iam = &ctx.clients.iam;
        let arn = self.policy_arn(ctx);
        let (old, all) = old_versions(iam, &arn).await?;
        if all >= 5
            && let Some(oldest) = old
                .iter()
                .min_by_key(|v| v.create_date().map(|d| d.secs()))
                .and_then(|v| v.version_id())
        {
            delete_policy_version(iam, &arn, oldest).await?;
        }
        iam.create_policy_version()
            .policy_arn(&arn)
            .policy_document(document)
            .set_as_default(true)
            .send()
            .await
            .op("iam:CreatePolicyVersion")?;
        Ok(())
    }

    async fn attach(&self, ctx: &Ctx) -> Result<(), Error> {
        for arn in self.policy_arns(ctx) {
            ctx.clients
                .iam
                .attach_role_policy()
                .role_name(self.role_name(ctx))
                .policy_arn(arn)
                .send()
                .await
                .op("iam:AttachRolePolicy")?;
        }
        Ok(())
    }
}

/// A role as IAM reports it. `policy`: the default version of the customer-managed policy
/// named like the role, `None` when there is no such policy (or it was not asked for).
#[derive(Clone)]
struct RoleRead {
    role: Role,
    inline: Vec<String>,
    attached: Vec<String>,
    policy: Option<PolicyVersion>,
}

/// One version of a customer-managed policy.
#[derive(Clone)]
struct PolicyVersion {
    id: String,
    is_default: bool,
    document: Value,
}

/// The policy a role's permissions come from, as its record keeps it: the role's reads then
/// know, without asking IAM, whether there is a namesake policy to read and at which version.
const POLICY: &str = "policy";
const POLICY_VERSION: &str = "policy_version";

/// The ARN of the customer-managed policy that shares the role's name.
fn namesake_policy_arn(ctx: &Ctx, role_name: &str) -> String {
    let c = &ctx.clients;
    format!(
        "arn:{}:iam::{}:policy/{role_name}",
        c.partition, c.account_id
    )
}

/// One role, read by name: its trust policy and tags, inline policy names, attached policy
/// ARNs and, with `policy` (its ARN, and the version last seen as its default if known), that
/// policy's default version, all at once. `None` when the role does not exist.
async fn read_role(
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
async fn policy_version(
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

const ROLES: ListKey<Vec<(String, RoleRead)>> = ListKey::new("iam:StackRoles");

/// Every recorded role of the stack, read by name and all at once: the batched list the
/// roles' reads take their item from. It asks only for the stack's own roles and policies, so
/// its cost does not grow with what else the account holds (an account-wide listing such as
/// `GetAccountAuthorizationDetails` pages through every role and policy of every team). Each
/// record says which policy its role runs on: the namesake customer-managed one is read (at
/// the recorded version), an AWS-managed one is not; a record from before records said so
/// gets the namesake asked for.
async fn stack_roles(ctx: &Ctx) -> Result<Vec<(String, RoleRead)>, Error> {
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

/// Takes a policy off the role, whether a drift added it or `destroy` clears the role.
async fn detach_policy(iam: &aws_sdk_iam::Client, role: &str, arn: &str) -> Result<(), Error> {
    gone(
        iam.detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .op("iam:DetachRolePolicy"),
    )
}

/// Deletes an inline policy of the role: medtech never makes one.
async fn delete_inline_policy(
    iam: &aws_sdk_iam::Client,
    role: &str,
    policy: &str,
) -> Result<(), Error> {
    gone(
        iam.delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .op("iam:DeleteRolePolicy"),
    )
}

/// The versions of the policy at `arn` other than its default one, in the order IAM lists
/// them, and how many versions it has in all (IAM keeps five at most).
async fn old_versions(
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

async fn delete_policy_version(
    iam: &aws_sdk_iam::Client,
    arn: &str,
    version: &str,
) -> Result<(), Error> {
    gone(
        iam.delete_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .op("iam:DeletePolicyVersion"),
    )
}

/// IAM returns policy documents URL-encoded.
fn decode_document(raw: &str) -> Value {
    let text = percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
}

#[async_trait]
impl Resource for IamRole {
    fn name(&self) -> Logical {
        self.logical()
    }

    fn depends_on(&self) -> Vec<Logical> {
        self.needs()
    }

    fn properties(&self) -> &'static [Prop] {
        match self.permissions() {
            Permissions::Custom(_) => {
                const {
                    &[
                        &TRUST_POLICY,
                        &INLINE_POLICIES,
                        &ATTACHED_POLICIES,
                        &POLICY_DOCUMENT,
                        &TAGS,
                    ]
                }
            }
            Permissions::AwsManaged(_) => {
                const { &[&TRUST_POLICY, &INLINE_POLICIES, &ATTACHED_POLICIES, &TAGS] }
            }
        }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let mut props = Properties::from([
            (&TRUST_POLICY, self.trust_policy(ctx)),
            (&INLINE_POLICIES, json!([])),
            (&ATTACHED_POLICIES, json!(self.policy_arns(ctx))),
            (&TAGS, desired_tags(ctx, &self.role_name(ctx))),
        ]);
        if let Permissions::Custom(document) = self.permissions() {
            props.insert(&POLICY_DOCUMENT, document(ctx)?);
        }
        Ok(props)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        if let Some(read) = listed(ctx, recorded, &ROLES, || stack_roles(ctx)).await? {
            return Ok(Some(self.observe(ctx, &read)));
        }
        let name = self.role_name(ctx);
        // Unrecorded, the role is most likely not there yet (a first `up`, a `plan` of a new
        // environment): one call says so, rather than one for each of its parts.
        if recorded.is_none()
            && found(
                ctx.clients
                    .iam
                    .get_role()
                    .role_name(&name)
                    .send()
                    .await
                    .op("iam:GetRole"),
            )?
            .is_none()
        {
            return Ok(None);
        }
        self.read_by_name(ctx).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = self.role_name(ctx);
        let created = ctx
            .clients
            .iam
            .create_role()
            .role_name(&name)
            .description(self.description())
            .assume_role_policy_document(self.trust_policy(ctx).to_string())
            .set_tags(Some(self.tags(ctx)?))
            .send()
            .await
            .op("iam:CreateRole");
        let arn = match created {
            Ok(out) => out.role().map(|r| r.arn().to_owned()),
            // A retried create whose first response was lost; adopted by the read below.
            Err(e) if e.is(ErrorKind::AlreadyExists) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(arn) = arn {
            ctx.set_record(self.logical(), Record::new(&name).with("arn", arn))?;
        }
        self.ensure_policy(ctx).await?;
        self.attach(ctx).await?;
        self.read_by_name(ctx).await?.ok_or_else(|| {
            Error::Aws(AwsError::unexpected(
                "iam:GetRole",
                format!("{name} created but not found"),
            ))
        })
    }

    async fn update(&self, ctx: &Ctx, _: &Observed, changes: &[Change]) -> Result<(), Error> {
        let iam = &ctx.clients.iam;
        let name = self.role_name(ctx);
        for change in changes {
            match change.property {
                p if p == &TRUST_POLICY => {
                    iam.update_assume_role_policy()
                        .role_name(&name)
                        .policy_document(self.trust_policy(ctx).to_string())
                        .send()
                        .await
                        .op("iam:UpdateAssumeRolePolicy")?;
                }
                p if p == &INLINE_POLICIES => {
                    for policy in strings(change.observed.as_ref()) {
                        delete_inline_policy(iam, &name, &policy).await?;
                    }
                }
                p if p == &ATTACHED_POLICIES => {
                    let wanted = self.policy_arns(ctx);
                    for arn in strings(change.observed.as_ref()) {
                        if !wanted.contains(&arn) {
                            detach_policy(iam, &name, &arn).await?;
                        }
                    }
                    self.ensure_policy(ctx).await?;
                    self.attach(ctx).await?;
                }
                p if p == &POLICY_DOCUMENT => {
                    if let Permissions::Custom(document) = self.permissions() {
                        if change.observed.as_ref().is_none_or(Value::is_null) {
                            self.ensure_policy(ctx).await?;
                        } else {
                            self.new_policy_version(ctx, &document(ctx)?.to_string())
                                .await?;
                        }
                    }
                }
                p if p == &TAGS => {
                    iam.tag_role()
                        .role_name(&name)
                        .set_tags(Some(self.tags(ctx)?))
                        .send()
                        .await
                        .op("iam:TagRole")?;
                }
                _ => return Err(unchangeable(self.logical(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        let iam = &ctx.clients.iam;
        let name = self.role_name(ctx);
        // A role cannot be deleted while policies are attached or inline.
        let attached = match iam
            .list_attached_role_policies()
            .role_name(&name)
            .send()
            .await
            .op("iam:ListAttachedRolePolicies")
        {
            Ok(out) => out.attached_policies().to_vec(),
            Err(e) if e.is(ErrorKind::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for policy in attached {
            let arn = policy
                .policy_arn()
                .required("iam:ListAttachedRolePolicies", "PolicyArn")?;
            detach_policy(iam, &name, arn).await?;
        }
        let inline = iam
            .list_role_policies()
            .role_name(&name)
            .send()
            .await
            .op("iam:ListRolePolicies")?;
        for policy in inline.policy_names() {
            delete_inline_policy(iam, &name, policy).await?;
        }
        if matches!(self.permissions(), Permissions::Custom(_)) {
            let arn = self.policy_arn(ctx);
            match old_versions(iam, &arn).await {
                Ok((old, _)) => {
                    for version in &old {
                        let id = version
                            .version_id()
                            .required("iam:ListPolicyVersions", "VersionId")?;
                        delete_policy_version(iam, &arn, id).await?;
                    }
                    gone(
                        iam.delete_policy()
                            .policy_arn(&arn)
                            .send()
                            .await
                            .op("iam:DeletePolicy"),
                    )?;
                }
                Err(e) if e.is(ErrorKind::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        gone(
            iam.delete_role()
                .role_name(&name)
                .send()
                .await
                .op("iam:DeleteRole"),
        )
    }
}
