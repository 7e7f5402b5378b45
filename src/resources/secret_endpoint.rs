//! Completes the RDS secret with the instance's host and port once the instance is available,
//! so applications need the secret alone. The password is carried over untouched: this step
//! writes a new version of the same credentials, never new credentials.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rds_instance::RdsInstance;
use super::secret::{self, Secret};
use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::resource::{Change, Observed, Properties, Resource};
use crate::secret_value::SecretString;
use crate::state::Record;

pub struct SecretEndpoint;

impl SecretEndpoint {
    pub const NAME: &'static str = "rds-secret-endpoint";

    fn endpoint(ctx: &Ctx) -> Result<(String, u16), Error> {
        let record = ctx
            .record(RdsInstance::NAME)
            .ok_or_else(|| Error::resource(RdsInstance::NAME, "not resolved yet"))?;
        let host = record.attr("endpoint").unwrap_or_default().to_owned();
        let port = record
            .attr("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(secret::RDS_PORT);
        Ok((host, port))
    }
}

#[async_trait]
impl Resource for SecretEndpoint {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> &'static str {
        "secret_endpoint"
    }

    fn depends_on(&self) -> Vec<&'static str> {
        vec![Secret::RDS, RdsInstance::NAME]
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let (host, port) = Self::endpoint(ctx)?;
        Ok(Properties::from([
            ("host", json!(host)),
            ("port", json!(port)),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let Ok(arn) = ctx.arn_of(Secret::RDS) else {
            return Ok(None);
        };
        let value = secret::read_value(ctx, recorded.is_some(), &arn).await?;
        Ok(Some(Observed {
            record: Record::new(ctx.names().rds_secret()),
            properties: Properties::from([
                ("host", value.get("host").cloned().unwrap_or(Value::Null)),
                ("port", value.get("port").cloned().unwrap_or(Value::Null)),
            ]),
        }))
    }

    async fn create(&self, _ctx: &Ctx) -> Result<Observed, Error> {
        Err(Error::resource(
            Secret::RDS,
            "does not exist, so its host cannot be filled in",
        ))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        _changes: &[Change],
    ) -> Result<(), Error> {
        let arn = ctx.arn_of(Secret::RDS)?;
        let (host, port) = Self::endpoint(ctx)?;
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
