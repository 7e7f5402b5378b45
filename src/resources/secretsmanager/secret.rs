//! The two Secrets Manager secrets: RDS credentials (`username,password,engine,host,port,
//! dbname`) and the Redis AUTH token (`auth_token`). Values are generated once, inside
//! medtech, encrypted with the stack's key, and never rotated by a re-run (`medtech rotate`
//! does that, `crate::rotation`). Properties expose the shape of a secret and whether its
//! value keeps the rules, never the value. Who may use a secret is its resource policy's
//! business (`resource_policy`).

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

use super::resource_policy;

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
                let (value, policy) = tokio::try_join!(
                    read_value(ctx, true, &arn),
                    resource_policy::read(ctx, &arn)
                )?;
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
                        resource_policy::read(ctx, &name)
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
                    None => tokio::try_join!(
                        read_value(ctx, false, &arn),
                        resource_policy::read(ctx, &arn)
                    )?,
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
            (&RESOURCE_POLICY, resource_policy::desired(ctx).await?),
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
        resource_policy::put(ctx, &arn).await?;
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
                p if p == &RESOURCE_POLICY => resource_policy::put(ctx, arn).await?,
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
