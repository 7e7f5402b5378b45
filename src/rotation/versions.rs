//! A secret's versions and staging labels, as Secrets Manager keeps them: the rotation
//! protocol moves `AWSPENDING` and `AWSCURRENT` between versions, and applications read
//! whatever holds `AWSCURRENT`.

use aws_sdk_secretsmanager::types::SecretVersionsListEntry;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::aws::{AwsResultExt, ErrorKind};
use crate::context::Ctx;
use crate::error::Error;
use crate::secret_value::SecretString;

pub(crate) const CURRENT: &str = "AWSCURRENT";
pub(crate) const PENDING: &str = "AWSPENDING";

pub(crate) struct Version {
    pub id: String,
    pub stages: Vec<String>,
    pub created: Option<DateTime<Utc>>,
}

/// Every version of one secret that carries a label (Secrets Manager deprecates the others).
pub(crate) struct Versions(Vec<Version>);

impl Versions {
    pub(crate) async fn list(ctx: &Ctx, arn: &str) -> Result<Self, Error> {
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let out = ctx
                .clients
                .secrets
                .list_secret_version_ids()
                .secret_id(arn)
                .set_next_token(token)
                .send()
                .await
                .op("secretsmanager:ListSecretVersionIds")?;
            versions.extend(out.versions().iter().filter_map(version));
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(Self(versions));
            }
        }
    }

    /// The version that holds `stage`; labels are unique within a secret.
    pub(crate) fn holding(&self, stage: &str) -> Option<&Version> {
        self.0.iter().find(|v| v.stages.iter().any(|s| s == stage))
    }
}

fn version(entry: &SecretVersionsListEntry) -> Option<Version> {
    Some(Version {
        id: entry.version_id()?.to_owned(),
        stages: entry.version_stages().to_vec(),
        created: entry
            .created_date()
            .and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
    })
}

/// The JSON object stored in version `version_id`; the value stays inside this process.
pub(crate) async fn value_of(
    ctx: &Ctx,
    arn: &str,
    version_id: &str,
) -> Result<Map<String, Value>, Error> {
    let out = ctx
        .clients
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .version_id(version_id)
        .send()
        .await
        .op("secretsmanager:GetSecretValue")?;
    let text = SecretString::new(out.secret_string().unwrap_or_default().to_owned());
    match serde_json::from_str(text.expose()) {
        Ok(Value::Object(map)) => Ok(map),
        // The parse error could quote the value: say only that it is not a JSON object.
        _ => Err(Error::resource(
            arn,
            format!("version {version_id} is not a JSON object"),
        )),
    }
}

/// Writes `text` as version `version_id` labelled `AWSPENDING` only. A version of that id
/// already there (a write whose answer was lost, a run killed after it) is kept as it is,
/// whatever it holds: the value to bring in is the one Secrets Manager has.
pub(crate) async fn stage(
    ctx: &Ctx,
    arn: &str,
    version_id: &str,
    text: &SecretString,
) -> Result<(), Error> {
    let put = ctx
        .clients
        .secrets
        .put_secret_value()
        .secret_id(arn)
        .client_request_token(version_id)
        .secret_string(text.expose())
        .version_stages(PENDING)
        .send()
        .await
        .op("secretsmanager:PutSecretValue");
    match put {
        Ok(_) => Ok(()),
        Err(e) if e.is(ErrorKind::AlreadyExists) => {
            let versions = Versions::list(ctx, arn).await?;
            match versions.0.iter().find(|v| v.id == version_id) {
                Some(v) if v.stages.iter().any(|s| s == PENDING) => Ok(()),
                Some(_) => move_stage(ctx, arn, PENDING, Some(version_id), None).await,
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves `stage` onto `to` (or only off `from` when `to` is `None`). Moving `AWSCURRENT`
/// makes its old version `AWSPREVIOUS`, as Secrets Manager does by itself.
pub(crate) async fn move_stage(
    ctx: &Ctx,
    arn: &str,
    stage: &str,
    to: Option<&str>,
    from: Option<&str>,
) -> Result<(), Error> {
    ctx.clients
        .secrets
        .update_secret_version_stage()
        .secret_id(arn)
        .version_stage(stage)
        .set_move_to_version_id(to.map(str::to_owned))
        .set_remove_from_version_id(from.map(str::to_owned))
        .send()
        .await
        .op("secretsmanager:UpdateSecretVersionStage")?;
    Ok(())
}
