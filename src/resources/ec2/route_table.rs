//! The public and private route tables: a default route to the internet gateway or the NAT
//! gateway, and explicit associations with their two subnets (never the VPC's main table,
//! which would silently route any new subnet).

use async_trait::async_trait;
use aws_sdk_ec2::types::RouteTable as SdkTable;
use serde_json::json;

use super::api::{self, filter, tags_value};
use super::delete::delete;
use super::describe;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::Ctx;
use crate::control::{ACCESS, Control, Severity, control};
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{desired_tags, gone, sorted_ids, strings};
use crate::state::Record;

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub(crate) struct RouteTable {
    tier: Tier,
}

const ROUTING: Control = control(
    "Routes and explicit subnet associations as designed",
    Severity::High,
    ACCESS,
    "run `medtech up` to restore routes and associations",
    None,
    None,
);
static VPC_ID: Property = Property::fixed("vpc_id", ROUTING);
static ROUTES: Property = Property::in_place("routes", ROUTING);
static SUBNETS: Property = Property::in_place("associated_subnets", ROUTING);

impl RouteTable {
    pub(crate) fn new(tier: Tier) -> Self {
        Self { tier }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().route_table(self.tier)
    }

    fn subnets(&self) -> [Logical; 2] {
        Logical::subnets(self.tier)
    }

    fn gateway(&self) -> Logical {
        match self.tier {
            Tier::Public => Logical::InternetGateway,
            Tier::Private => Logical::NatGateway,
        }
    }

    fn observe(table: &SdkTable) -> Result<Observed, AwsError> {
        // Only CIDR routes that someone added: `local` is implicit, and prefix-list routes
        // belong to gateway VPC endpoints, which manage them.
        let mut routes: Vec<String> = table
            .routes()
            .iter()
            .filter(|r| r.gateway_id() != Some("local"))
            .filter_map(|r| {
                let target = r
                    .gateway_id()
                    .or(r.nat_gateway_id())
                    .or(r.transit_gateway_id())
                    .or(r.vpc_peering_connection_id())
                    .or(r.network_interface_id())
                    .unwrap_or("blackhole");
                Some(route(r.destination_cidr_block()?, target))
            })
            .collect();
        routes.sort();
        let mut subnets: Vec<&str> = table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .filter_map(|a| a.subnet_id())
            .collect();
        subnets.sort();
        Ok(Observed {
            record: Record::new(describe::id_of(table)?),
            properties: Properties::from([
                (&VPC_ID, json!(table.vpc_id())),
                (&ROUTES, json!(routes)),
                (&SUBNETS, json!(subnets)),
                (&TAGS, tags_value(table.tags())),
            ]),
        })
    }

    async fn describe(ctx: &Ctx, id: &str) -> Result<Option<SdkTable>, Error> {
        describe::by_id(ctx, id).await
    }

    async fn set_default_route(&self, ctx: &Ctx, table: &str, replace: bool) -> Result<(), Error> {
        let target = ctx.id_of(self.gateway())?;
        // The same route either way; only the target's field depends on the tier.
        let (internet, nat) = match self.tier {
            Tier::Public => (Some(target), None),
            Tier::Private => (None, Some(target)),
        };
        let ec2 = &ctx.clients.ec2;
        let result = if replace {
            let call = ec2.replace_route().route_table_id(table);
            let call = call.destination_cidr_block(DEFAULT_ROUTE);
            let call = call.set_gateway_id(internet).set_nat_gateway_id(nat);
            call.send().await.map(drop).op("ec2:ReplaceRoute")
        } else {
            let call = ec2.create_route().route_table_id(table);
            let call = call.destination_cidr_block(DEFAULT_ROUTE);
            let call = call.set_gateway_id(internet).set_nat_gateway_id(nat);
            call.send().await.map(drop).op("ec2:CreateRoute")
        };
        api::already_done(result)
    }

    async fn fix_routes(
        &self,
        ctx: &Ctx,
        table: &str,
        observed: &[String],
        desired: &[String],
    ) -> Result<(), Error> {
        // The only desired route is the default one: create it, or re-point it.
        let has_default = observed
            .iter()
            .any(|r| r.starts_with(&format!("{DEFAULT_ROUTE} ")));
        if desired.iter().any(|r| !observed.contains(r)) {
            self.set_default_route(ctx, table, has_default).await?;
        }
        for extra in observed.iter().filter(|r| !desired.contains(r)) {
            let destination = extra.split_once(' ').map_or(extra.as_str(), |(d, _)| d);
            if destination == DEFAULT_ROUTE {
                continue; // replaced above
            }
            gone(
                ctx.clients
                    .ec2
                    .delete_route()
                    .route_table_id(table)
                    .destination_cidr_block(destination)
                    .send()
                    .await
                    .op("ec2:DeleteRoute"),
            )?;
        }
        Ok(())
    }

    /// Associates each subnet with this table, moving it from another table if it has one.
    async fn associate(&self, ctx: &Ctx, table: &str, subnet: &str) -> Result<(), Error> {
        let out = ctx
            .clients
            .ec2
            .describe_route_tables()
            .filters(filter("association.subnet-id", subnet))
            .send()
            .await
            .op("ec2:DescribeRouteTables")?;
        let existing = out
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .find(|a| a.subnet_id() == Some(subnet));
        match existing {
            Some(a) if a.route_table_id() == Some(table) => Ok(()),
            Some(a) => {
                ctx.clients
                    .ec2
                    .replace_route_table_association()
                    .association_id(a.route_table_association_id().required(
                        "ec2:DescribeRouteTables",
                        "Associations.RouteTableAssociationId",
                    )?)
                    .route_table_id(table)
                    .send()
                    .await
                    .op("ec2:ReplaceRouteTableAssociation")?;
                Ok(())
            }
            None => {
                let associated = ctx
                    .clients
                    .ec2
                    .associate_route_table()
                    .route_table_id(table)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .op("ec2:AssociateRouteTable");
                // The step's read-back checks the association a lost answer hid.
                api::already_done(associated)
            }
        }
    }

    async fn disassociate_all_but(
        &self,
        ctx: &Ctx,
        table: &str,
        keep: &[String],
    ) -> Result<(), Error> {
        let Some(current) = Self::describe(ctx, table).await? else {
            return Ok(());
        };
        for association in current.associations() {
            let ours = association
                .subnet_id()
                .is_some_and(|s| keep.iter().any(|k| k == s));
            if association.main() == Some(true) || ours {
                continue;
            }
            if let Some(id) = association.route_table_association_id() {
                gone(
                    ctx.clients
                        .ec2
                        .disassociate_route_table()
                        .association_id(id)
                        .send()
                        .await
                        .op("ec2:DisassociateRouteTable"),
                )?;
            }
        }
        Ok(())
    }
}

fn route(destination: &str, target: &str) -> String {
    format!("{destination} -> {target}")
}

#[async_trait]
impl Resource for RouteTable {
    fn name(&self) -> Logical {
        Logical::RouteTable(self.tier)
    }

    fn depends_on(&self) -> Vec<Logical> {
        let [a, b] = self.subnets();
        vec![Logical::Vpc, self.gateway(), a, b]
    }

    fn properties(&self) -> &'static [Prop] {
        const { &[&VPC_ID, &ROUTES, &SUBNETS, &TAGS] }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        Ok(Properties::from([
            (&VPC_ID, json!(ctx.id_of(Logical::Vpc)?)),
            (
                &ROUTES,
                json!([route(DEFAULT_ROUTE, &ctx.id_of(self.gateway())?)]),
            ),
            (&SUBNETS, json!(sorted_ids(ctx, &self.subnets())?)),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]))
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        describe::read(ctx, self.name(), recorded, &name, Self::observe).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let call = ctx.clients.ec2.create_route_table();
        let call = call.vpc_id(ctx.id_of(Logical::Vpc)?);
        let out = api::create_once(ctx, call, &self.aws_name(ctx))
            .await
            .op("ec2:CreateRouteTable")?;
        let id = out.route_table().and_then(SdkTable::route_table_id);
        let operation = "ec2:CreateRouteTable";
        let record = api::record_created(ctx, self.name(), operation, id, "route table id")?;
        self.set_default_route(ctx, &record.id, false).await?;
        for subnet in sorted_ids(ctx, &self.subnets())? {
            self.associate(ctx, &record.id, &subnet).await?;
        }
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, self.aws_name(ctx));
        for change in changes {
            match change.property {
                p if p == &ROUTES => {
                    self.fix_routes(
                        ctx,
                        id,
                        &strings(change.observed.as_ref()),
                        &strings(Some(&change.desired)),
                    )
                    .await?;
                }
                p if p == &SUBNETS => {
                    let desired = strings(Some(&change.desired));
                    let observed = strings(change.observed.as_ref());
                    for subnet in desired.iter().filter(|s| !observed.contains(s)) {
                        self.associate(ctx, id, subnet).await?;
                    }
                    self.disassociate_all_but(ctx, id, &desired).await?;
                }
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let id = &current.record.id;
        self.disassociate_all_but(ctx, id, &[]).await?;
        delete::<SdkTable>(ctx, id).await
    }
}
