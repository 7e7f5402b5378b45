//! Completes the RDS secret with the instance's host and port once the instance is available,
//! so applications need the secret alone. The password is carried over untouched: this step
//! writes a new version of the same credentials, never new credentials.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::secret::{self};
use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::control::{Control, INTEGRITY, Severity, control};
use crate::error::Error;
use crate::logical::{Holds, Logical};
use crate::property::{Prop, Property};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::secret_value::SecretString;
use crate::state::Record;

pub(crate) struct SecretEndpoint;

const POINTS_AT_INSTANCE: Control = control(
    "RDS secret points at the live instance",
    Severity::Low,
    INTEGRITY,
    "run `medtech up`",
    None,
    None,
);
static HOST: Property = Property::in_place("host", POINTS_AT_INSTANCE);
static PORT: Property = Property::in_place("port", POINTS_AT_INSTANCE);

impl SecretEndpoint {
    /// The instance's host and port; the host is `None` until AWS reports one (while the
    /// instance is being created), and the port is the configured one until then.
    fn endpoint(ctx: &Ctx) -> Result<(Option<String>, u16), Error> {
        let record = ctx
            .record(Logical::RdsInstance)
            .ok_or_else(|| Error::resource(Logical::RdsInstance, "not resolved yet"))?;
        let host = record.attr("endpoint").map(str::to_owned);
        let port = record
            .attr("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(ctx.settings.services.rds.port);
        Ok((host, port))
    }
}

#[async_trait]
impl Resource for SecretEndpoint {
    fn name(&self) -> Logical {
        Logical::RdsSecretEndpoint
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![Logical::Secret(Holds::RdsCredentials), Logical::RdsInstance]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&HOST, &PORT] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let (host, port) = Self::endpoint(ctx)?;
        // Until the instance has an endpoint, the secret holds the empty host it was created
        // with: what `plan` and `verify` expect while the instance is being created.
        Ok(Properties::from([
            (&HOST, json!(host.as_deref().unwrap_or(""))),
            (&PORT, json!(port)),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let Ok(arn) = ctx.arn_of(Logical::Secret(Holds::RdsCredentials)) else {
            return Ok(None);
        };
        let value = secret::read_value(ctx, recorded.is_some(), &arn).await?;
        Ok(Some(Observed {
            record: Record::new(ctx.names().secret(Holds::RdsCredentials)),
            properties: Properties::from([
                (&HOST, value.get("host").cloned().unwrap_or(Value::Null)),
                (&PORT, value.get("port").cloned().unwrap_or(Value::Null)),
            ]),
        }))
    }

    async fn create(&self, _ctx: &Ctx) -> Result<Observed, Error> {
        Err(Error::resource(
            Logical::Secret(Holds::RdsCredentials),
            "does not exist, so its host cannot be filled in",
        ))
    }

    async fn update(&self, ctx: &Ctx, _: &Observed, _: &[Change]) -> Result<(), Error> {
        let arn = ctx.arn_of(Logical::Secret(Holds::RdsCredentials))?;
        let (host, port) = Self::endpoint(ctx)?;
        // Never an empty host into the secret applications connect with.
        let host = host.ok_or_else(|| {
            Error::resource(
                Logical::RdsInstance,
                "has no endpoint yet; AWS reports one once the instance is available: run the command again then",
            )
        })?;
        let mut value = secret::read_value(ctx, false, &arn).await?;
        value.insert("host".into(), json!(host));
        value.insert("port".into(), json!(port));
        let text = SecretString::new(Value::Object(value).to_string());
        ctx.clients
            .secrets
            .put_secret_value()
            .secret_id(&arn)
            .secret_string(text.expose())
            .send()
            .await
            .op("secretsmanager:PutSecretValue")?;
        Ok(())
    }

    async fn destroy(&self, _ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // Part of the secret, which is deleted as a whole.
        Ok(())
    }
}
