//! The PostgreSQL parameter group: TLS required for every connection (`rds.force_ssl=1`) and
//! every connection and disconnection logged, in the family RDS names for the configured
//! major version (see `rds_engine`). A family cannot change, so a new major is refused here,
//! before anything is touched.

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter};
use serde_json::{Map, Value, json};

use super::engine;
use super::tags::RdsTags;
use crate::aws::{AwsResultExt, ErrorKind, Required};
use crate::context::Ctx;
use crate::control::{Severity, TRANSMISSION, control};
use crate::error::Error;
use crate::logical::Logical;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, unchangeable};
use crate::resources::common::tags_by_arn::TagsByArn;
use crate::resources::common::{desired_tags, found, gone};
use crate::state::Record;

/// The parameters medtech sets; all are dynamic, so they apply without a reboot.
const PARAMETERS: [(&str, &str); 3] = [
    ("rds.force_ssl", "1"),
    ("log_connections", "1"),
    ("log_disconnections", "1"),
];

pub(crate) struct DbParameterGroup;

static PARAMETERS_SET: Property = Property::in_place(
    "parameters",
    control(
        "TLS forced (rds.force_ssl=1); connections and disconnections logged",
        Severity::Critical,
        TRANSMISSION,
        "run `medtech up` (ModifyDBParameterGroup)",
        Some("rds_instance_transport_encrypted"),
        Some("RDS_LOGGING_ENABLED"),
    ),
);
/// A family cannot change, yet it is declared in place: `update` refuses a new one itself, to
/// say that it is a major version change and how to go back.
static FAMILY: Property = Property::in_place(
    "family",
    control(
        "Parameter group of the engine's family",
        Severity::Medium,
        TRANSMISSION,
        "change the config back",
        None,
        None,
    ),
);

impl DbParameterGroup {
    async fn set_parameters(ctx: &Ctx) -> Result<(), Error> {
        let parameters = PARAMETERS
            .iter()
            .map(|(name, value)| {
                Parameter::builder()
                    .parameter_name(*name)
                    .parameter_value(*value)
                    .apply_method(ApplyMethod::Immediate)
                    .build()
            })
            .collect();
        ctx.clients
            .rds
            .modify_db_parameter_group()
            .db_parameter_group_name(ctx.names().db_parameter_group())
            .set_parameters(Some(parameters))
            .send()
            .await
            .op("rds:ModifyDBParameterGroup")?;
        Ok(())
    }
}

#[async_trait]
impl Resource for DbParameterGroup {
    fn name(&self) -> Logical {
        Logical::DbParameterGroup
    }

    fn depends_on(&self) -> Vec<Logical> {
        vec![]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&FAMILY, &PARAMETERS_SET, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let parameters: Map<String, Value> = PARAMETERS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        Ok(Properties::from([
            (
                &FAMILY,
                json!(engine::for_major(ctx, self.name()).await?.family),
            ),
            (&PARAMETERS_SET, Value::Object(parameters)),
            (&TAGS, desired_tags(ctx, &ctx.names().db_parameter_group())),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let rds = &ctx.clients.rds;
        let name = ctx.names().db_parameter_group();
        let group = found(
            rds.describe_db_parameter_groups()
                .db_parameter_group_name(&name)
                .send()
                .await
                .op("rds:DescribeDBParameterGroups"),
        )?
        .and_then(|out| out.db_parameter_groups().first().cloned());
        let Some(group) = group else {
            return Ok(None);
        };
        // Only the parameters the user set: the engine defaults run to hundreds.
        let listed = rds
            .describe_db_parameters()
            .db_parameter_group_name(&name)
            .source("user")
            .into_paginator();
        let listed = listed.items().send().try_collect().await;
        let parameters: Map<String, Value> = listed
            .op("rds:DescribeDBParameters")?
            .iter()
            .filter_map(|p| Some((p.parameter_name()?.to_owned(), json!(p.parameter_value()?))))
            .collect();
        let arn = group
            .db_parameter_group_arn()
            .required("rds:DescribeDBParameterGroups", "DBParameterGroupArn")?
            .to_owned();
        Ok(Some(Observed {
            record: Record::new(&name).with("arn", &arn),
            properties: Properties::from([
                (&FAMILY, json!(group.db_parameter_group_family())),
                (&PARAMETERS_SET, Value::Object(parameters)),
                (&TAGS, RdsTags::read(ctx, recorded, &arn).await?),
            ]),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = ctx.names().db_parameter_group();
        let family = engine::for_major(ctx, self.name()).await?.family;
        let created = ctx
            .clients
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(&name)
            .db_parameter_group_family(family)
            .description(format!(
                "medtech {}: TLS only, connections logged",
                ctx.settings.env()
            ))
            .set_tags(Some(RdsTags::sdk(ctx, &name)))
            .send()
            .await
            .op("rds:CreateDBParameterGroup");
        match created {
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            other => other.map(drop)?,
        }
        ctx.set_record(self.name(), Record::new(&name))?;
        Self::set_parameters(ctx).await?;
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        // Only a new major version changes the family: refused before the other changes.
        if let Some(change) = changes.iter().find(|c| c.property == &FAMILY) {
            return Err(engine::refuse_major_change(self.name(), change));
        }
        for change in changes {
            match change.property {
                p if p == &PARAMETERS_SET => Self::set_parameters(ctx).await?,
                p if p == &TAGS => {
                    let name = ctx.names().db_parameter_group();
                    RdsTags::rewrite(ctx, self.name(), &current.record, &name).await?;
                }
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, _current: &Observed) -> Result<(), Error> {
        // InvalidDBParameterGroupState while an instance still uses it: the engine retries.
        gone(
            ctx.clients
                .rds
                .delete_db_parameter_group()
                .db_parameter_group_name(ctx.names().db_parameter_group())
                .send()
                .await
                .op("rds:DeleteDBParameterGroup"),
        )
    }
}
