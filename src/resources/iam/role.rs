//! IAM roles: each trusts exactly the principals it must, and gets its permissions from one
//! customer-managed policy of the same name (or, for RDS enhanced monitoring and AWS Backup,
//! the AWS managed policies made for them) — never inline policies, which the HIPAA
//! conformance pack flags.
//! Custom policies name this stack's ARNs, never `*`.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};

use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::Ctx;
use crate::control::{ACCESS_MGMT, Severity, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::{desired_tags, found, gone, listed, strings, tag_pairs};
use crate::state::Record;

use super::find::{
    POLICY, POLICY_VERSION, ROLES, RoleRead, decode_document, namesake_policy_arn, old_versions,
    read_role, stack_roles,
};
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
