//! The two Secrets Manager secrets: RDS credentials (`username,password,engine,host,port,
//! dbname`) and the Redis AUTH token (`auth_token`). Values are generated once, inside
//! medtech, encrypted with the stack's key, and never rotated by a re-run (`medtech rotate`
//! does that, `crate::rotation`). Properties expose
//! the shape of a secret and whether its value keeps the rules, never the value.
//!
//! Each secret carries a resource policy that denies every Secrets Manager action to every
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

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, SecretListEntry, Tag};
use serde_json::{Map, Value, json};

use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::{Ctx, ListKey};
use crate::control::{ACCESS, AUTHN, ENCRYPTION, Severity, control};
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::{desired_tags, found, listed, recorded_attr, tag_pairs};
use crate::secret_value::{self, SecretString};
use crate::state::Record;

const SECRETS: ListKey<Vec<(String, SecretListEntry)>> = ListKey::new("secretsmanager:ListSecrets");
/// Secret values by ARN, wiped when dropped.
const VALUES: ListKey<Vec<(String, Arc<SecretString>)>> =
    ListKey::new("secretsmanager:BatchGetSecretValue");

pub(crate) struct Secret {
    holds: Holds,
}

static KMS_KEY: Property = Property::in_place(
    "kms_key_id",
    control(
        "Secret encrypted with the stack's key",
        Severity::High,
        ENCRYPTION,
        "run `medtech up` (UpdateSecret)",
        Some("secretsmanager_secret_encrypted_with_cmk"),
        Some("SECRETSMANAGER_USING_CMK"),
    ),
);
static RESOURCE_POLICY: Property = Property::in_place(
    "resource_policy",
    control(
        "Resource policy denies the secret to all but the reader role, the admins and the runner",
        Severity::High,
        ACCESS,
        "run `medtech up` (PutResourcePolicy)",
        Some("secretsmanager_has_restrictive_resource_policy"),
        None,
    ),
);
/// Never rewritten, yet declared in place: `update` refuses it itself, to say how to rotate
/// the value rather than to re-create the secret.
static VALUE: Property = Property::in_place(
    "value",
    control(
        "Secret holds the expected keys and a value within the service's rules",
        Severity::High,
        AUTHN,
        "restore the JSON keys; `medtech rotate` replaces a weak value",
        None,
        None,
    ),
);

impl Secret {
    pub(crate) fn new(holds: Holds) -> Self {
        Self { holds }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().secret(self.holds)
    }

    fn keys(&self) -> Vec<&'static str> {
        match self.holds {
            Holds::RdsCredentials => {
                vec!["dbname", "engine", "host", "password", "port", "username"]
            }
            Holds::RedisAuthToken => vec!["auth_token"],
        }
    }

    /// A freshly generated value. The RDS host is filled in once the instance exists.
    fn generate(&self, ctx: &Ctx) -> Result<SecretString, Error> {
        let random = |e: getrandom::Error| {
            Error::resource(self.name(), format!("no randomness from the OS: {e}"))
        };
        let value = match self.holds {
            Holds::RdsCredentials => {
                let rds = &ctx.settings.services.rds;
                let password = secret_value::rds_password().map_err(random)?;
                json!({
                    "username": rds.master_username,
                    "password": password.expose(),
                    "engine": "postgres",
                    "host": "",
                    "port": rds.port,
                    "dbname": rds.database_name,
                })
            }
            Holds::RedisAuthToken => {
                let token = secret_value::redis_auth_token().map_err(random)?;
                json!({"auth_token": token.expose()})
            }
        };
        Ok(SecretString::new(value.to_string()))
    }

    /// `read`; `expected`: the secret should exist (recorded, or just created), so its value is
    /// read alongside its description rather than after it.
    async fn look(
        &self,
        ctx: &Ctx,
        recorded: Option<&Record>,
        expected: bool,
    ) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        // (ListSecrets leaves out secrets scheduled for deletion, as the check below does.)
        let listed = listed(ctx, recorded, &SECRETS, || list_secrets(ctx)).await?;
        let (arn, kms_key_id, tags, value, policy) = match listed {
            Some(s) => {
                let arn = s.arn.required("secretsmanager:ListSecrets", "ARN")?;
                let (value, policy) =
                    tokio::try_join!(read_value(ctx, true, &arn), read_policy(ctx, &arn))?;
                (arn, s.kms_key_id, s.tags, value, policy)
            }
            None => {
                let describe = async {
                    ctx.clients
                        .secrets
                        .describe_secret()
                        .secret_id(&name)
                        .send()
                        .await
                        .op("secretsmanager:DescribeSecret")
                };
                let (described, read) = if expected {
                    let (d, v, p) = tokio::join!(
                        describe,
                        read_value(ctx, false, &name),
                        read_policy(ctx, &name)
                    );
                    (d, Some((v, p)))
                } else {
                    (describe.await, None)
                };
                let Some(secret) = found(described)? else {
                    return Ok(None);
                };
                // Scheduled for deletion: not live, though its name is still taken (create
                // restores it).
                if secret.deleted_date().is_some() {
                    return Ok(None);
                }
                let arn = secret
                    .arn
                    .required("secretsmanager:DescribeSecret", "ARN")?;
                let (value, policy) = match read {
                    Some((value, policy)) => (value?, policy?),
                    None => tokio::try_join!(read_value(ctx, false, &arn), read_policy(ctx, &arn))?,
                };
                (arn, secret.kms_key_id, secret.tags, value, policy)
            }
        };
        let value = self.assess(&value);
        Ok(Some(Observed {
            record: Record::new(&name).with("arn", &arn),
            properties: Properties::from([
                (&KMS_KEY, json!(kms_key_id)),
                (&RESOURCE_POLICY, policy),
                (&VALUE, json!(value)),
                (
                    &TAGS,
                    tag_pairs(
                        tags.iter()
                            .flatten()
                            .filter_map(|t| Some((t.key()?, t.value()?))),
                    ),
                ),
            ]),
        }))
    }

    /// Whether the stored value has the promised shape and strength; says which rule fails,
    /// never what the value is.
    fn assess(&self, value: &Map<String, Value>) -> String {
        let mut keys: Vec<&str> = value.keys().map(String::as_str).collect();
        keys.sort();
        if keys != self.keys() {
            return format!("keys are {keys:?}");
        }
        // A value that is not a string keeps no rule.
        let keeps = |k: &str, rule: fn(&str) -> bool| {
            value.get(k).and_then(Value::as_str).is_some_and(rule)
        };
        let ok = match self.holds {
            Holds::RdsCredentials => keeps("password", secret_value::is_valid_rds_password),
            Holds::RedisAuthToken => keeps("auth_token", secret_value::is_valid_redis_token),
        };
        if ok {
            "ok".into()
        } else {
            "weak or malformed".into()
        }
    }

    fn tags(&self, ctx: &Ctx) -> Vec<Tag> {
        ctx.tags(&self.aws_name(ctx))
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }
}

/// Reads the JSON value of the secret at `arn`; `batched`: from one BatchGetSecretValue for
/// both of the stack's secrets while nothing has changed in this run (a plain read of a
/// recorded secret; never before a write). The value stays inside this process.
pub(crate) async fn read_value(
    ctx: &Ctx,
    batched: bool,
    arn: &str,
) -> Result<Map<String, Value>, Error> {
    let from_batch = if batched {
        ctx.listed(&VALUES, || batch_values(ctx))
            .await?
            .and_then(|all| {
                all.iter()
                    .find(|(a, _)| a == arn)
                    .map(|(_, value)| Arc::clone(value))
            })
    } else {
        None
    };
    let text = match from_batch {
        Some(text) => text,
        None => {
            let out = ctx
                .clients
                .secrets
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .op("secretsmanager:GetSecretValue")?;
            // A binary secret (no SecretString) is none that medtech wrote.
            let Some(text) = out.secret_string() else {
                return Err(Error::resource(
                    arn,
                    "its value is binary, not a JSON object",
                ));
            };
            Arc::new(SecretString::new(text.to_owned()))
        }
    };
    match serde_json::from_str(text.expose()) {
        Ok(Value::Object(map)) => Ok(map),
        // The parse error could quote the value: say only that it is not a JSON object.
        _ => Err(Error::resource(arn, "its value is not a JSON object")),
    }
}

/// The string under `key` in the value of `secret`, to hand to the service it guards: a
/// missing one would be sent as an empty password or token.
pub(crate) fn field(
    secret: Logical,
    value: &Map<String, Value>,
    key: &str,
) -> Result<SecretString, Error> {
    match value.get(key).and_then(Value::as_str) {
        Some(text) => Ok(SecretString::new(text.to_owned())),
        None => Err(Error::resource(
            secret,
            format!(
                "its value has no {key} string; put the one the service uses back under {key}, or replace it on both sides with `medtech rotate`"
            ),
        )),
    }
}

/// The values of the stack's recorded secrets, keyed by ARN.
async fn batch_values(ctx: &Ctx) -> Result<Vec<(String, Arc<SecretString>)>, Error> {
    let arns: Vec<String> = [
        Logical::Secret(Holds::RdsCredentials),
        Logical::Secret(Holds::RedisAuthToken),
    ]
    .iter()
    .filter_map(|&s| ctx.arn_of(s).ok())
    .collect();
    let out = ctx
        .clients
        .secrets
        .batch_get_secret_value()
        .set_secret_id_list(Some(arns))
        .send()
        .await
        .op("secretsmanager:BatchGetSecretValue")?;
    Ok(out
        .secret_values()
        .iter()
        .filter_map(|v| {
            Some((
                v.arn()?.to_owned(),
                Arc::new(SecretString::new(v.secret_string()?.to_owned())),
            ))
        })
        .collect())
}

/// The stack's live secrets (not scheduled for deletion) from one ListSecrets, by name.
async fn list_secrets(ctx: &Ctx) -> Result<Vec<(String, SecretListEntry)>, Error> {
    let names = Holds::ALL.map(|h| ctx.names().secret(h));
    let out = ctx
        .clients
        .secrets
        .list_secrets()
        .filters(
            Filter::builder()
                .key(FilterNameStringType::Name)
                .set_values(Some(names.to_vec()))
                .build(),
        )
        .send()
        .await
        .op("secretsmanager:ListSecrets")?;
    // The name filter matches prefixes: keep exact names only.
    Ok(out
        .secret_list()
        .iter()
        .filter_map(|s| Some((s.name()?.to_owned(), s.clone())))
        .filter(|(name, _)| names.contains(name))
        .collect())
}

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
async fn desired_policy(ctx: &Ctx) -> Result<Value, Error> {
    let mut named = ctx.settings.services.secrets.admin_principals.clone();
    named.push(reader_role_arn(ctx));
    named.push(runner_principal(ctx).await?);
    Ok(deny_all_but(named))
}

/// Puts the desired policy on the secret at `arn`; AWS refuses it should it ever grant access
/// to the world.
async fn put_policy(ctx: &Ctx, arn: &str) -> Result<(), Error> {
    ctx.clients
        .secrets
        .put_resource_policy()
        .secret_id(arn)
        .resource_policy(desired_policy(ctx).await?.to_string())
        .block_public_policy(true)
        .send()
        .await
        .op("secretsmanager:PutResourcePolicy")?;
    Ok(())
}

/// The secret's resource policy in the shape `desired` writes (`normalise_policy`); null
/// when it has none, the text itself when it is not JSON.
async fn read_policy(ctx: &Ctx, secret: &str) -> Result<Value, Error> {
    let out = ctx
        .clients
        .secrets
        .get_resource_policy()
        .secret_id(secret)
        .send()
        .await
        .op("secretsmanager:GetResourcePolicy")?;
    Ok(out.resource_policy().map_or(Value::Null, |text| {
        serde_json::from_str(text).map_or_else(|_| json!(text), normalise_policy)
    }))
}

/// A policy document with the liberties IAM allows taken back, so that only a difference in
/// meaning shows as drift: one statement or one value where a list of one would do,
/// `{"AWS": "*"}` for `"*"`, and condition values in any order or repeated.
fn normalise_policy(mut doc: Value) -> Value {
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

#[async_trait]
impl Resource for Secret {
    fn name(&self) -> Logical {
        Logical::Secret(self.holds)
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::KmsKey]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&KMS_KEY, &RESOURCE_POLICY, &VALUE, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&KMS_KEY, json!(ctx.arn_of(Logical::KmsKey)?)),
            (&RESOURCE_POLICY, desired_policy(ctx).await?),
            (&VALUE, json!("ok")),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        self.look(ctx, recorded, recorded.is_some()).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = self.aws_name(ctx);
        let value = self.generate(ctx)?;
        let created = ctx
            .clients
            .secrets
            .create_secret()
            .name(&name)
            .description(format!(
                "medtech {}: {}",
                ctx.settings.env(),
                match self.holds {
                    Holds::RdsCredentials => "PostgreSQL master credentials",
                    Holds::RedisAuthToken => "Redis AUTH token",
                }
            ))
            .kms_key_id(ctx.arn_of(Logical::KmsKey)?)
            .secret_string(value.expose())
            .set_tags(Some(self.tags(ctx)))
            .send()
            .await
            .op("secretsmanager:CreateSecret");
        drop(value);
        let arn = match created {
            Ok(out) => out.arn.required("secretsmanager:CreateSecret", "ARN")?,
            // The name is taken: by a live secret (a create whose response was lost: adopted
            // by the read below), or by one scheduled for deletion by an earlier destroy,
            // which is restored rather than leaving the name blocked for its recovery window.
            Err(e)
                if e.is(ErrorKind::AlreadyExists)
                    || e.code.as_deref() == Some("InvalidRequestException") =>
            {
                let described = ctx
                    .clients
                    .secrets
                    .describe_secret()
                    .secret_id(&name)
                    .send()
                    .await
                    .op("secretsmanager:DescribeSecret")?;
                if described.deleted_date().is_none()
                    && e.code.as_deref() == Some("InvalidRequestException")
                {
                    return Err(e.into());
                }
                if described.deleted_date().is_some() {
                    ctx.status(
                        self.name(),
                        "restoring the secret a previous destroy scheduled for deletion",
                    );
                    ctx.clients
                        .secrets
                        .restore_secret()
                        .secret_id(&name)
                        .send()
                        .await
                        .op("secretsmanager:RestoreSecret")?;
                }
                described
                    .arn
                    .required("secretsmanager:DescribeSecret", "ARN")?
            }
            Err(e) => return Err(e.into()),
        };
        // Before anything reads the secret back: from here on, only the principals it names
        // may use it.
        put_policy(ctx, &arn).await?;
        let observed = self.look(ctx, None, true).await?.ok_or_else(|| {
            Error::Aws(AwsError::unexpected(
                "secretsmanager:DescribeSecret",
                format!("{name} created but not found"),
            ))
        })?;
        ctx.set_record(self.name(), observed.record.clone())?;
        Ok(observed)
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let secrets = &ctx.clients.secrets;
        let arn = recorded_attr(self.name(), &current.record, "arn")?;
        for change in changes {
            match change.property {
                p if p == &KMS_KEY => {
                    secrets
                        .update_secret()
                        .secret_id(arn)
                        .kms_key_id(ctx.arn_of(Logical::KmsKey)?)
                        .send()
                        .await
                        .op("secretsmanager:UpdateSecret")?;
                }
                p if p == &RESOURCE_POLICY => put_policy(ctx, arn).await?,
                p if p == &TAGS => {
                    secrets
                        .tag_resource()
                        .secret_id(arn)
                        .set_tags(Some(self.tags(ctx)))
                        .send()
                        .await
                        .op("secretsmanager:TagResource")?;
                }
                // Rewriting the value would break the database or cache it belongs to.
                p if p == &VALUE => {
                    return Err(Error::resource(
                        self.name(),
                        format!(
                            "the stored value {}; `up` never rewrites credentials: replace a weak one with `medtech rotate`, or restore the expected JSON keys {:?}",
                            change
                                .observed
                                .as_ref()
                                .and_then(Value::as_str)
                                .unwrap_or("is unreadable"),
                            self.keys()
                        ),
                    ));
                }
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let retirement = &ctx.settings.services.destroy;
        let call = ctx
            .clients
            .secrets
            .delete_secret()
            .secret_id(current.record.attr("arn").unwrap_or(&current.record.id));
        let call = if retirement.force_delete_secrets {
            call.force_delete_without_recovery(true)
        } else {
            call.recovery_window_in_days(retirement.secret_recovery_window_days)
        };
        match call.send().await.op("secretsmanager:DeleteSecret") {
            // Already scheduled for deletion (a retry whose first response was lost).
            Err(e) if e.code.as_deref() == Some("InvalidRequestException") => {
                let described = ctx
                    .clients
                    .secrets
                    .describe_secret()
                    .secret_id(&current.record.id)
                    .send()
                    .await
                    .op("secretsmanager:DescribeSecret");
                match described {
                    Ok(d) if d.deleted_date().is_some() => Ok(()),
                    Err(d) if d.is(ErrorKind::NotFound) => Ok(()),
                    _ => Err(e.into()),
                }
            }
            other => crate::resources::common::gone(other),
        }
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
        assert_eq!(normalise_policy(policy.clone()), policy);
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
        assert_eq!(normalise_policy(same), desired);
        let one = json!({"Statement": [{"Condition": {"StringNotEquals": {"aws:PrincipalArn": "arn:a"}}}]});
        assert_eq!(
            normalise_policy(one)["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalArn"],
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
            assert_ne!(normalise_policy(wider), desired, "{what}");
        }
        let mut named = desired.clone();
        named["Statement"][0]["Principal"] = json!({"AWS": "arn:aws:iam::123456789012:root"});
        assert_ne!(normalise_policy(named), desired);
    }
}
