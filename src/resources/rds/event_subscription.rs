//! RDS event notifications to the alarm topic, in four subscriptions: the instance's failures,
//! maintenance and configuration changes; its failovers and low storage; its parameter group's
//! configuration changes; DB security groups' changes and failures.
//!
//! Prowler's checks compare a subscription's categories as a set: `db-instance` passes with
//! exactly `configuration change`, `failure` and `maintenance` (or with every category), so the
//! instance's failovers and low storage take a subscription of their own rather than two more
//! categories in the first.
//!
//! DB security groups are EC2-Classic's: a VPC instance has none, and its VPC security groups
//! send no RDS events (their changes are EC2's, in CloudTrail). RDS still takes
//! `db-security-group` subscriptions, which is what `rds_instance_event_subscription_security_groups`
//! looks for. A VPC security group id is no DB security group (RDS answers SourceNotFound), so
//! that subscription names no source: it covers every DB security group of the account and
//! region, of which a VPC-only account has none.
//!
//! The topic is encrypted with the stack's key: RDS delivers only while the key policy lets
//! `events.rds.amazonaws.com` use the key (`kms.policy`) and the topic policy lets RDS publish
//! (SNS's default policy does, for the account's own resources). Otherwise RDS accepts the
//! subscription and drops its events; its `Status` (`no-permission`, `topic-not-exist`) is the
//! one place that shows it, checked here as `status`.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::EventSubscription;
use serde_json::{Value, json};

use super::tags::RdsTags;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::{Ctx, ListKey};
use crate::control::{ACTIVITY, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, RdsEvents};
use crate::naming::Names;
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource, Transition, diff, unchangeable};
use crate::resources::common::tags_by_arn::TagsByArn;
use crate::resources::common::{desired_tags, found, gone, strings};
use crate::resources::wait::{Pace, Waiter};
use crate::state::Record;

/// The HIPAA safeguard of a notification that must reach the people who respond to it.
const INCIDENT_PROCEDURES: &str = "164.308(a)(6) security incident procedures";

const DESCRIBE: &str = "rds:DescribeEventSubscriptions";
/// RDS's code for a name already taken (`SubscriptionAlreadyExistFault`), without the `s`
/// the generic AlreadyExists rule looks for.
const ALREADY_EXISTS: &str = "SubscriptionAlreadyExist";

/// Statuses RDS leaves by itself.
const SETTLING: [&str; 2] = ["creating", "modifying"];
/// Statuses at rest: delivering, or not, and why (RDS API reference, `EventSubscription`;
/// `all-sources-deleted` once every named source is gone).
const AT_REST: [&str; 4] = [
    DELIVERING,
    "no-permission",
    "topic-not-exist",
    "all-sources-deleted",
];
const DELIVERING: &str = "active";
/// A subscription is created or changed within a minute or two; five is a slow control plane.
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What Prowler's `rds_instance_*` event checks read of a subscription (its source type, its
/// categories as a set, whether it is enabled), each under the control of the check that
/// reads it.
struct Checked {
    source_type: Property,
    categories: Property,
    enabled: Property,
}

impl Checked {
    const fn new(title: &'static str, prowler: Option<&'static str>) -> Self {
        let control = control(
            title,
            Severity::Medium,
            ACTIVITY,
            "run `medtech up` (ModifyEventSubscription)",
            prowler,
            None,
        );
        Self {
            source_type: Property::in_place("source_type", control),
            categories: Property::in_place("event_categories", control),
            enabled: Property::in_place("enabled", control),
        }
    }
}

static CRITICAL: Checked = Checked::new(
    "RDS instance failures, maintenance and configuration changes notify the alarm topic",
    Some("rds_instance_critical_event_subscription"),
);
static AVAILABILITY: Checked = Checked::new(
    "RDS instance failovers and low storage notify the alarm topic",
    None,
);
static PARAMETER_GROUP: Checked = Checked::new(
    "Parameter group configuration changes notify the alarm topic",
    Some("rds_instance_event_subscription_parameter_groups"),
);
static SECURITY_GROUPS: Checked = Checked::new(
    "DB security group configuration changes and failures notify the alarm topic",
    Some("rds_instance_event_subscription_security_groups"),
);

static SOURCE_IDS: Property = Property::in_place(
    "source_ids",
    control(
        "Events of the stack's own instance or parameter group, or of every DB security group",
        Severity::Medium,
        ACTIVITY,
        "run `medtech up` (AddSourceIdentifierToSubscription, RemoveSourceIdentifierFromSubscription)",
        None,
        None,
    ),
);
static TOPIC: Property = Property::in_place(
    "sns_topic_arn",
    control(
        "Events go to the alarm topic",
        Severity::Medium,
        INCIDENT_PROCEDURES,
        "run `medtech up` (ModifyEventSubscription)",
        None,
        None,
    ),
);
static STATUS: Property = Property::in_place(
    "status",
    control(
        "RDS can deliver the events: the topic exists, RDS may publish to it and use its key",
        Severity::High,
        INCIDENT_PROCEDURES,
        "run `medtech up` (it restores the key policy's RDS statement); restore a topic policy that lets the account's RDS publish",
        None,
        None,
    ),
);

/// A stack resource, and how its AWS name is made.
type Named = (Logical, fn(&Names) -> String);

/// One subscription: which source type, which of its sources, which categories.
struct Spec {
    source_type: &'static str,
    /// Sorted, as compared.
    categories: &'static [&'static str],
    /// The stack resource that is the subscription's one source, and its name; `None`: every
    /// source of the type.
    source: Option<Named>,
    checked: &'static Checked,
}

pub(crate) struct RdsEventSubscription {
    events: RdsEvents,
}

/// Every subscription of the account and region, the batched list the four reads take theirs
/// from. Unfiltered, yet its cost cannot grow with the account: RDS allows 20 event
/// subscriptions per account and region, one page of the 100 asked for.
const SUBSCRIPTIONS: ListKey<Vec<EventSubscription>> = ListKey::new(DESCRIBE);

async fn all_subscriptions(ctx: &Ctx) -> Result<Vec<EventSubscription>, Error> {
    let listed = ctx
        .clients
        .rds
        .describe_event_subscriptions()
        .max_records(100);
    Ok(listed
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .op(DESCRIBE)?)
}

impl RdsEventSubscription {
    pub(crate) fn new(events: RdsEvents) -> Self {
        Self { events }
    }

    fn spec(&self) -> Spec {
        match self.events {
            RdsEvents::Critical => Spec {
                source_type: "db-instance",
                categories: &["configuration change", "failure", "maintenance"],
                source: Some((Logical::RdsInstance, Names::rds_instance)),
                checked: &CRITICAL,
            },
            RdsEvents::Availability => Spec {
                source_type: "db-instance",
                categories: &["failover", "low storage"],
                source: Some((Logical::RdsInstance, Names::rds_instance)),
                checked: &AVAILABILITY,
            },
            RdsEvents::ParameterGroup => Spec {
                source_type: "db-parameter-group",
                categories: &["configuration change"],
                source: Some((Logical::DbParameterGroup, Names::db_parameter_group)),
                checked: &PARAMETER_GROUP,
            },
            RdsEvents::SecurityGroups => Spec {
                source_type: "db-security-group",
                categories: &["configuration change", "failure"],
                source: None,
                checked: &SECURITY_GROUPS,
            },
        }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().rds_event_subscription(self.name().as_str())
    }

    /// The names of its sources: deterministic, so known before the sources exist.
    fn source_ids(&self, ctx: &Ctx) -> Vec<String> {
        self.spec()
            .source
            .map(|(_, name)| name(ctx.names()))
            .into_iter()
            .collect()
    }

    fn categories(&self) -> Vec<String> {
        self.spec()
            .categories
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }

    async fn describe(&self, ctx: &Ctx) -> Result<Option<EventSubscription>, Error> {
        Ok(found(
            ctx.clients
                .rds
                .describe_event_subscriptions()
                .subscription_name(self.aws_name(ctx))
                .send()
                .await
                .op(DESCRIBE),
        )?
        .and_then(|out| out.event_subscriptions_list().first().cloned()))
    }

    /// What `read` reports of one description, with its tags.
    fn observed(&self, sub: &EventSubscription, tags: Value) -> Result<Observed, AwsError> {
        let checked = self.spec().checked;
        let sorted = |list: &[String]| {
            let mut list = list.to_vec();
            list.sort();
            list
        };
        let name = sub
            .cust_subscription_id()
            .required(DESCRIBE, "CustSubscriptionId")?;
        let arn = sub
            .event_subscription_arn()
            .required(DESCRIBE, "EventSubscriptionArn")?;
        Ok(Observed {
            record: Record::new(name).with("arn", arn),
            properties: Properties::from([
                (&checked.source_type, json!(sub.source_type())),
                (
                    &checked.categories,
                    json!(sorted(sub.event_categories_list())),
                ),
                (&checked.enabled, json!(sub.enabled())),
                (&SOURCE_IDS, json!(sorted(sub.source_ids_list()))),
                (&TOPIC, json!(sub.sns_topic_arn())),
                (&STATUS, json!(sub.status())),
                (&TAGS, tags),
            ]),
        })
    }

    /// Source type, categories, topic and enabled, all as desired, in one call (a category
    /// needs its source type sent with it).
    async fn modify(&self, ctx: &Ctx) -> Result<(), Error> {
        ctx.clients
            .rds
            .modify_event_subscription()
            .subscription_name(self.aws_name(ctx))
            .sns_topic_arn(ctx.arn_of(Logical::AlarmTopic)?)
            .source_type(self.spec().source_type)
            .set_event_categories(Some(self.categories()))
            .enabled(true)
            .send()
            .await
            .op("rds:ModifyEventSubscription")?;
        Ok(())
    }

    /// Adds the sources it lacks and removes the ones it should not have.
    async fn set_sources(&self, ctx: &Ctx, change: &Change) -> Result<(), Error> {
        let rds = &ctx.clients.rds;
        let name = self.aws_name(ctx);
        let have = strings(change.observed.as_ref());
        let want = strings(Some(&change.desired));
        for id in want.iter().filter(|id| !have.contains(id)) {
            rds.add_source_identifier_to_subscription()
                .subscription_name(&name)
                .source_identifier(id)
                .send()
                .await
                .op("rds:AddSourceIdentifierToSubscription")?;
        }
        for id in have.iter().filter(|id| !want.contains(id)) {
            rds.remove_source_identifier_from_subscription()
                .subscription_name(&name)
                .source_identifier(id)
                .send()
                .await
                .op("rds:RemoveSourceIdentifierFromSubscription")?;
        }
        Ok(())
    }

    /// Waits until RDS has finished creating or changing it; returns its status then.
    async fn wait_settled(&self, ctx: &Ctx) -> Result<String, Error> {
        Waiter {
            resource: self.name(),
            goal: DELIVERING,
            pending: &SETTLING,
            target: &AT_REST,
            timeout: TIMEOUT,
            pace: Pace::Adaptive,
        }
        .until_target(ctx, || async {
            let Some(sub) = self.describe(ctx).await? else {
                return Ok(None);
            };
            let status = sub.status().required(DESCRIBE, "Status")?.to_owned();
            Ok(Some((status.clone(), status)))
        })
        .await
    }

    /// The error for a subscription RDS cannot deliver: it names what RDS needs.
    fn undeliverable(&self, status: &str) -> Error {
        Error::resource(
            self.name(),
            format!(
                "RDS reports the subscription's status as {status}: its events are dropped. RDS needs the alarm topic to exist, its policy to let this account's RDS publish (SNS's default policy does) and its key's policy to let events.rds.amazonaws.com use the key (the kms.policy check); fix them, then run `medtech up`"
            ),
        )
    }

    /// Brings one that existed before this create (its answer was lost, or it was made by
    /// hand) to the desired settings.
    async fn adopt(&self, ctx: &Ctx) -> Result<(), Error> {
        let current = self.read_back(ctx, None).await?;
        let changes = diff(&self.desired(ctx).await?, &current.properties);
        if changes.is_empty() {
            return Ok(());
        }
        self.update(ctx, &current, &changes).await
    }
}

#[async_trait]
impl Resource for RdsEventSubscription {
    fn name(&self) -> Logical {
        Logical::RdsEventSubscription(self.events)
    }

    /// The key directly: a repaired key policy is what lets RDS deliver again, so the
    /// subscription is read anew after it.
    fn depends_on(&self) -> Vec<Logical> {
        let mut needs = vec![Logical::AlarmTopic, Logical::KmsKey];
        needs.extend(self.spec().source.map(|(source, _)| source));
        needs
    }

    fn properties(&self) -> &'static [Prop] {
        match self.events {
            RdsEvents::Critical => {
                const {
                    &[
                        &CRITICAL.source_type,
                        &CRITICAL.categories,
                        &CRITICAL.enabled,
                        &SOURCE_IDS,
                        &TOPIC,
                        &STATUS,
                        &TAGS,
                    ]
                }
            }
            RdsEvents::Availability => {
                const {
                    &[
                        &AVAILABILITY.source_type,
                        &AVAILABILITY.categories,
                        &AVAILABILITY.enabled,
                        &SOURCE_IDS,
                        &TOPIC,
                        &STATUS,
                        &TAGS,
                    ]
                }
            }
            RdsEvents::ParameterGroup => {
                const {
                    &[
                        &PARAMETER_GROUP.source_type,
                        &PARAMETER_GROUP.categories,
                        &PARAMETER_GROUP.enabled,
                        &SOURCE_IDS,
                        &TOPIC,
                        &STATUS,
                        &TAGS,
                    ]
                }
            }
            RdsEvents::SecurityGroups => {
                const {
                    &[
                        &SECURITY_GROUPS.source_type,
                        &SECURITY_GROUPS.categories,
                        &SECURITY_GROUPS.enabled,
                        &SOURCE_IDS,
                        &TOPIC,
                        &STATUS,
                        &TAGS,
                    ]
                }
            }
        }
    }

    fn in_transition(&self, observed: &Observed) -> Option<Transition> {
        Transition::of(observed, &STATUS, &SETTLING)
    }

    async fn settle(&self, ctx: &Ctx, _observed: &Observed) -> Result<(), Error> {
        self.wait_settled(ctx).await.map(drop)
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let spec = self.spec();
        let checked = spec.checked;
        Ok(Properties::from([
            (&checked.source_type, json!(spec.source_type)),
            (&checked.categories, json!(spec.categories)),
            (&checked.enabled, json!(true)),
            (&SOURCE_IDS, json!(self.source_ids(ctx))),
            (&TOPIC, json!(ctx.arn_of(Logical::AlarmTopic)?)),
            (&STATUS, json!(DELIVERING)),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let listed = ctx
            .listed(&SUBSCRIPTIONS, || all_subscriptions(ctx))
            .await?;
        let sub = match listed {
            Some(list) => {
                let name = self.aws_name(ctx);
                list.iter()
                    .find(|s| s.cust_subscription_id() == Some(name.as_str()))
                    .cloned()
            }
            None => self.describe(ctx).await?,
        };
        let Some(sub) = sub else {
            return Ok(None);
        };
        let arn = sub
            .event_subscription_arn()
            .required(DESCRIBE, "EventSubscriptionArn")?;
        let tags = RdsTags::read(ctx, recorded, arn).await?;
        Ok(Some(self.observed(&sub, tags)?))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let name = self.aws_name(ctx);
        let sources = self.source_ids(ctx);
        let created = ctx
            .clients
            .rds
            .create_event_subscription()
            .subscription_name(&name)
            .sns_topic_arn(ctx.arn_of(Logical::AlarmTopic)?)
            .source_type(self.spec().source_type)
            .set_event_categories(Some(self.categories()))
            .set_source_ids((!sources.is_empty()).then_some(sources))
            .enabled(true)
            .set_tags(Some(RdsTags::sdk(ctx, &name)))
            .send()
            .await
            .op("rds:CreateEventSubscription");
        let adopted = match created {
            Err(e) if e.code.as_deref() == Some(ALREADY_EXISTS) => true,
            other => other.map(|_| false)?,
        };
        ctx.set_record(self.name(), Record::new(&name))?;
        self.wait_settled(ctx).await?;
        if adopted {
            self.adopt(ctx).await?;
        }
        self.read_back(ctx, None).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let checked = self.spec().checked;
        let (mut modify, mut sources, mut tags, mut deliver) = (false, None, false, false);
        for change in changes {
            match change.property {
                p if p == &checked.source_type
                    || p == &checked.categories
                    || p == &checked.enabled
                    || p == &TOPIC =>
                {
                    modify = true;
                }
                p if p == &SOURCE_IDS => sources = Some(change),
                p if p == &TAGS => tags = true,
                // A modification makes RDS look at the topic and its key again.
                p if p == &STATUS => (modify, deliver) = (true, true),
                _ => return Err(unchangeable(self.name(), change)),
            }
        }
        if modify {
            self.modify(ctx).await?;
        }
        if let Some(change) = sources {
            self.set_sources(ctx, change).await?;
        }
        if tags {
            RdsTags::rewrite(ctx, self.name(), &current.record, &self.aws_name(ctx)).await?;
        }
        let status = self.wait_settled(ctx).await?;
        if deliver && status != DELIVERING {
            return Err(self.undeliverable(&status));
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        // RDS refuses to delete one it is still creating or changing.
        if self.in_transition(current).is_some() {
            self.wait_settled(ctx).await?;
        }
        let name = self.aws_name(ctx);
        gone(
            ctx.clients
                .rds
                .delete_event_subscription()
                .subscription_name(&name)
                .send()
                .await
                .op("rds:DeleteEventSubscription"),
        )?;
        Waiter {
            resource: self.name(),
            goal: "deleted",
            pending: &[],
            target: &[],
            timeout: TIMEOUT,
            pace: Pace::Adaptive,
        }
        .until_gone(ctx, || async {
            Ok(self
                .describe(ctx)
                .await?
                .map(|sub| sub.status().unwrap_or("deleting").to_owned()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_sorted_as_they_are_compared() {
        for events in RdsEvents::ALL {
            let categories = RdsEventSubscription::new(events).spec().categories;
            assert!(
                categories.is_sorted(),
                "{events:?}: {categories:?} is not sorted"
            );
        }
    }

    #[test]
    fn the_instance_subscription_has_the_categories_prowler_compares_as_a_set() {
        // rds_instance_critical_event_subscription passes on exactly these (or on all).
        assert_eq!(
            RdsEventSubscription::new(RdsEvents::Critical)
                .spec()
                .categories,
            ["configuration change", "failure", "maintenance"]
        );
    }
}
