//! The public and private network ACLs, each explicitly associated with its tier's two subnets,
//! and the entry machinery the locked-down default ACL shares (`entries`, `converge`). Without
//! them every subnet uses the VPC's default ACL, which admits everything from everywhere
//! (Prowler `ec2_networkacl_allow_ingress_any_port`).
//!
//! An ACL is stateless: a reply is a packet of its own, checked against the entries of the
//! direction it travels, so each flow below needs an entry for its request and one for its
//! reply, in each ACL it crosses. `VPC` is the VPC's CIDR; ephemeral ports are 1024-65535 (the
//! NAT gateway maps connections onto that whole range, Linux clients use 32768-60999).
//!
//! - Private hosts to the internet through the NAT (HTTPS only: PHI leaves the VPC encrypted,
//!   164.312(e)(1); no plain HTTP). Request: private out tcp 443 to 0.0.0.0/0, public in from
//!   `VPC`, public out tcp 443 to 0.0.0.0/0. Reply: public in tcp ephemeral from 0.0.0.0/0,
//!   public out tcp ephemeral to `VPC`, private in tcp ephemeral from 0.0.0.0/0 (the NAT
//!   rewrites only the destination of a reply: its source is still the internet server).
//! - The S3 gateway endpoint: a route to S3's prefix list, not an interface, so the packets
//!   carry S3's public addresses. ACL entries take no prefix lists: private out tcp 443 and
//!   private in tcp ephemeral from 0.0.0.0/0, the entries of the NAT flow.
//! - Interface endpoints (Secrets Manager, Kinesis, tcp 443), PostgreSQL (the configured port)
//!   and Redis (6379) live in the private subnets, reached from inside the VPC, and RDS
//!   Multi-AZ and Redis replicate between the two private subnets. Private in and out: all of
//!   `VPC`. The security groups narrow each interface to its one port; a port list here would
//!   need ephemeral replies from `VPC` anyway, which already cover 5432 and 6379.
//! - Path MTU discovery: the NAT gateway and routers on the way answer a packet too big for
//!   the next hop with ICMP 3:4 (fragmentation needed), which senders must receive. In on both
//!   tiers from 0.0.0.0/0; public out to `VPC` (the NAT's own, to private hosts).
//! - DNS (the VPC resolver), NTP (Amazon Time Sync), the instance metadata service: EC2 does
//!   not filter them with ACLs, so no UDP entry. Flow logs are captured and delivered by AWS
//!   outside the subnets: no entry either.
//!
//! From the internet nothing may reach SSH or RDP (Prowler `..._tcp_port_22`/`_3389`, Config
//! `NACL_NO_UNRESTRICTED_SSH_RDP`): 22 is below the ephemeral range, and the range skips 3389.
//! The price: a reply to a connection that happens to use source port 3389 is dropped, one
//! NAT mapping in 64 512, which the client retries as any lost connection. A stateless entry
//! cannot tell a reply from a new connection, so the ephemeral range is open inbound to both:
//! what keeps the internet from opening one is routing (private addresses, and a NAT that
//! admits nothing unsolicited) and the security groups (the VPC's CIDR only).
//!
//! The emulator sends no packets: reachability is argued here and checked against the entries
//! by the unit tests below (`every_flow_passes_each_acl_it_crosses_both_ways`), not tested.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IcmpTypeCode, NetworkAcl as SdkAcl, NetworkAclEntry, PortRange, RuleAction,
};
use serde_json::json;

use super::api::{self, already_done, filter, tags_value};
use super::delete::delete;
use super::describe;
use super::sg_rules::Direction;
use crate::aws::{AwsError, AwsResultExt, ErrorKind, Required};
use crate::context::Ctx;
use crate::control::{ACCESS, Severity, TRANSMISSION, control};
use crate::error::Error;
use crate::logical::{Logical, Tier};
use crate::property::{Prop, Property, TAGS};
use crate::resource::{Change, Observed, Properties, Resource};
use crate::resources::common::{desired_tags, gone, sorted_ids, strings};
use crate::state::Record;

/// Where every network ACL medtech reads comes from.
const DESCRIBE: &str = "ec2:DescribeNetworkAcls";
/// The internet, as entries and Prowler name it.
const INTERNET: &str = "0.0.0.0/0";
const INTERNET_V6: &str = "::/0";
/// The `*` entry of every ACL, which denies what no other entry matched: EC2 reports it with
/// this number and lets nobody change it, so it is neither listed nor converged.
const STAR: i32 = 32767;
const SSH: i32 = 22;
const RDP: i32 = 3389;
const HTTPS: (i32, i32) = (443, 443);
const EPHEMERAL: (i32, i32) = (1024, 65535);
/// ICMP destination unreachable (3), fragmentation needed (4): path MTU discovery.
const FRAG_NEEDED: (i32, i32) = (3, 4);
/// IANA protocol numbers, as EC2 reports them.
const ALL: &str = "-1";
const ICMP: &str = "1";
const TCP: &str = "6";
const UDP: &str = "17";

/// One numbered entry of an ACL, in one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    rule: i32,
    allow: bool,
    protocol: String,
    /// TCP and UDP: the destination ports; `None` is all of them.
    ports: Option<(i32, i32)>,
    /// ICMP: type and code.
    icmp: Option<(i32, i32)>,
    /// The far end: an IPv4 or an IPv6 block.
    cidr: String,
}

impl Entry {
    fn allow(rule: i32, protocol: &str, cidr: &str) -> Self {
        Self {
            rule,
            allow: true,
            protocol: protocol.to_owned(),
            ports: None,
            icmp: None,
            cidr: cidr.to_owned(),
        }
    }

    fn all(rule: i32, cidr: &str) -> Self {
        Self::allow(rule, ALL, cidr)
    }

    fn tcp(rule: i32, ports: (i32, i32), cidr: &str) -> Self {
        Self {
            ports: Some(ports),
            ..Self::allow(rule, TCP, cidr)
        }
    }

    fn frag_needed(rule: i32, cidr: &str) -> Self {
        Self {
            icmp: Some(FRAG_NEEDED),
            ..Self::allow(rule, ICMP, cidr)
        }
    }

    /// The entry as AWS described it; one without its number or its block is an error, not
    /// an entry nobody made.
    fn from_sdk(entry: &NetworkAclEntry) -> Result<Self, AwsError> {
        let cidr = entry.cidr_block().or(entry.ipv6_cidr_block());
        Ok(Self {
            rule: entry
                .rule_number()
                .required(DESCRIBE, "Entries.RuleNumber")?,
            allow: entry.rule_action() == Some(&RuleAction::Allow),
            protocol: entry.protocol().unwrap_or(ALL).to_owned(),
            ports: entry.port_range().and_then(|p| Some((p.from()?, p.to()?))),
            icmp: entry
                .icmp_type_code()
                .and_then(|i| Some((i.r#type()?, i.code()?))),
            cidr: cidr.required(DESCRIBE, "Entries.CidrBlock")?.to_owned(),
        })
    }

    /// How plans and reports show it: `110 allow tcp 1024-3388 0.0.0.0/0`.
    fn name(&self) -> String {
        let action = if self.allow { "allow" } else { "deny" };
        let protocol = match self.protocol.as_str() {
            ALL => "all".to_owned(),
            ICMP => "icmp".to_owned(),
            TCP => "tcp".to_owned(),
            UDP => "udp".to_owned(),
            other => format!("protocol-{other}"),
        };
        let detail = match (self.ports, self.icmp) {
            (Some((from, to)), _) if from == to => format!(" {from}"),
            (Some((from, to)), _) => format!(" {from}-{to}"),
            (None, Some((kind, code))) => format!(" {kind}:{code}"),
            (None, None) => String::new(),
        };
        format!("{} {action} {protocol}{detail} {}", self.rule, self.cidr)
    }

    /// Whether a packet `probe` asks about matches it (whatever its action).
    fn matches(&self, probe: Probe) -> bool {
        match probe {
            // Prowler's "any port": an entry for every protocol, nothing narrower.
            Probe::AllTraffic => self.protocol == ALL,
            Probe::Port(port) => {
                self.protocol == ALL
                    || ([TCP, UDP].contains(&self.protocol.as_str())
                        && self
                            .ports
                            .is_none_or(|(from, to)| from <= port && port <= to))
            }
        }
    }
}

/// What an internet-facing check asks of the inbound entries.
#[derive(Clone, Copy, Debug)]
enum Probe {
    AllTraffic,
    /// TCP or UDP to this port (Config counts both for SSH and RDP).
    Port(i32),
}

/// Whether the inbound `entries` let `probe` in from anywhere on the internet: as EC2
/// evaluates them, the lowest-numbered entry that matches decides, per address family.
fn admits_from_internet(entries: &[Entry], probe: Probe) -> bool {
    [INTERNET, INTERNET_V6].iter().any(|anywhere| {
        let mut from_anywhere: Vec<&Entry> =
            entries.iter().filter(|e| e.cidr == *anywhere).collect();
        from_anywhere.sort_by_key(|e| e.rule);
        from_anywhere
            .into_iter()
            .find(|e| e.matches(probe))
            .is_some_and(|e| e.allow)
    })
}

/// The entries of `acl` in `direction`, in rule order, without the `*` one.
pub(crate) fn entries(acl: &SdkAcl, direction: Direction) -> Result<Vec<Entry>, AwsError> {
    let egress = direction == Direction::Egress;
    let mut out = acl
        .entries()
        .iter()
        .filter(|e| e.egress() == Some(egress))
        .map(Entry::from_sdk)
        .collect::<Result<Vec<_>, _>>()?;
    out.retain(|e| e.rule != STAR);
    out.sort_by_key(|e| e.rule);
    Ok(out)
}

pub(crate) fn names(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(Entry::name).collect()
}

/// The fields of an entry on a create or replace request: the same setters on two unrelated
/// SDK builders.
macro_rules! entry_fields {
    ($call:expr, $entry:expr, $egress:expr) => {
        $call
            .rule_number($entry.rule)
            .egress($egress)
            .rule_action(if $entry.allow {
                RuleAction::Allow
            } else {
                RuleAction::Deny
            })
            .protocol(&$entry.protocol)
            .cidr_block(&$entry.cidr)
            .set_port_range(
                $entry
                    .ports
                    .map(|(from, to)| PortRange::builder().from(from).to(to).build()),
            )
            .set_icmp_type_code(
                $entry
                    .icmp
                    .map(|(kind, code)| IcmpTypeCode::builder().r#type(kind).code(code).build()),
            )
    };
}

/// Makes the entries of `acl` in `direction` exactly `desired`: extra rule numbers go first
/// (a hole closes before anything else changes), entries that differ are replaced in place
/// under their number, missing ones are created.
pub(crate) async fn converge(
    ctx: &Ctx,
    acl: &SdkAcl,
    direction: Direction,
    desired: &[Entry],
) -> Result<(), Error> {
    let id = describe::id_of(acl)?;
    let egress = direction == Direction::Egress;
    let current = entries(acl, direction)?;
    let ec2 = &ctx.clients.ec2;
    for extra in current
        .iter()
        .filter(|c| !desired.iter().any(|d| d.rule == c.rule))
    {
        let call = ec2.delete_network_acl_entry().network_acl_id(id);
        let call = call.rule_number(extra.rule).egress(egress);
        gone(call.send().await.op("ec2:DeleteNetworkAclEntry"))?;
    }
    for want in desired {
        match current.iter().find(|c| c.rule == want.rule) {
            Some(have) if have == want => {}
            Some(_) => {
                let call = ec2.replace_network_acl_entry().network_acl_id(id);
                let call = entry_fields!(call, want, egress);
                call.send().await.op("ec2:ReplaceNetworkAclEntry")?;
            }
            None => {
                let call = ec2.create_network_acl_entry().network_acl_id(id);
                let call = entry_fields!(call, want, egress);
                // A retry after a lost answer meets the entry the first call made.
                already_done(call.send().await.op("ec2:CreateNetworkAclEntry"))?;
            }
        }
    }
    Ok(())
}

/// The VPC's default ACL, the one a subnet falls back to.
pub(crate) async fn default_acl(ctx: &Ctx, vpc: &str) -> Result<Option<SdkAcl>, Error> {
    let filters = vec![filter("vpc-id", vpc), filter("default", "true")];
    Ok(describe::filtered(ctx, filters).await?.into_iter().next())
}

/// The subnet's association (every subnet has exactly one): its id, and the ACL it names.
async fn association_of(ctx: &Ctx, subnet: &str) -> Result<Option<(String, String)>, Error> {
    let filters = vec![filter("association.subnet-id", subnet)];
    let acls: Vec<SdkAcl> = describe::filtered(ctx, filters).await?;
    let found = acls
        .iter()
        .flat_map(SdkAcl::associations)
        .find(|a| a.subnet_id() == Some(subnet));
    let Some(association) = found else {
        return Ok(None);
    };
    let id = association.network_acl_association_id();
    let id = id.required(DESCRIBE, "Associations.NetworkAclAssociationId")?;
    let acl = association.network_acl_id();
    let acl = acl.required(DESCRIBE, "Associations.NetworkAclId")?;
    Ok(Some((id.to_owned(), acl.to_owned())))
}

/// Moves `subnet` onto `acl`: EC2 has no disassociation, a subnet only changes ACLs.
async fn associate(ctx: &Ctx, resource: Logical, acl: &str, subnet: &str) -> Result<(), Error> {
    let Some((association, current)) = association_of(ctx, subnet).await? else {
        return Err(Error::resource(
            resource,
            format!("subnet {subnet} has no network ACL association to move"),
        ));
    };
    if current == acl {
        return Ok(());
    }
    let call = ctx.clients.ec2.replace_network_acl_association();
    let call = call.association_id(association).network_acl_id(acl);
    match call.send().await.op("ec2:ReplaceNetworkAclAssociation") {
        // A retry after a lost answer names the association the first call replaced.
        Err(e) if e.is(ErrorKind::NotFound) => {
            let now = association_of(ctx, subnet).await?;
            if now.is_some_and(|(_, moved_to)| moved_to == acl) {
                Ok(())
            } else {
                Err(e.into())
            }
        }
        other => other.map(drop).map_err(Error::from),
    }
}

pub(crate) struct NetworkAcl {
    tier: Tier,
}

static VPC_ID: Property = api::in_stack_vpc("Network ACL in the stack's VPC");
static INGRESS: Property = Property::in_place(
    "ingress",
    control(
        "Inbound entries exactly as designed: the VPC, replies on ephemeral ports, path MTU discovery",
        Severity::High,
        ACCESS,
        "run `medtech up` to restore the entries",
        None,
        None,
    ),
);
static EGRESS: Property = Property::in_place(
    "egress",
    control(
        "Outbound entries exactly as designed: HTTPS to the internet, the rest inside the VPC",
        Severity::High,
        TRANSMISSION,
        "run `medtech up` to restore the entries",
        None,
        None,
    ),
);
static SUBNETS: Property = Property::in_place(
    "associated_subnets",
    control(
        "The tier's two subnets use its network ACL, not the VPC's default one",
        Severity::High,
        ACCESS,
        "run `medtech up` to move them back",
        None,
        None,
    ),
);
const INTERNET_FIX: &str = "run `medtech up` to remove the entry";
static ANY_PORT: Property = Property::in_place(
    "internet_any_port",
    control(
        "No inbound entry admits all traffic from the internet",
        Severity::Critical,
        ACCESS,
        INTERNET_FIX,
        Some("ec2_networkacl_allow_ingress_any_port"),
        None,
    ),
);
static INTERNET_SSH: Property = Property::in_place(
    "internet_ssh",
    control(
        "No inbound entry admits SSH (port 22) from the internet",
        Severity::Critical,
        ACCESS,
        INTERNET_FIX,
        Some("ec2_networkacl_allow_ingress_tcp_port_22"),
        Some("NACL_NO_UNRESTRICTED_SSH_RDP"),
    ),
);
static INTERNET_RDP: Property = Property::in_place(
    "internet_rdp",
    control(
        "No inbound entry admits RDP (port 3389) from the internet",
        Severity::Critical,
        ACCESS,
        INTERNET_FIX,
        Some("ec2_networkacl_allow_ingress_tcp_port_3389"),
        Some("NACL_NO_UNRESTRICTED_SSH_RDP"),
    ),
);
/// The checks on what the inbound entries let in from the internet, with what each asks.
static INTERNET_CHECKS: [(Prop, Probe); 3] = [
    (&ANY_PORT, Probe::AllTraffic),
    (&INTERNET_SSH, Probe::Port(SSH)),
    (&INTERNET_RDP, Probe::Port(RDP)),
];

/// The entries of `tier`'s ACL in `direction`, `vpc` being the VPC's CIDR: the flows of the
/// module comment, one entry each.
fn table(tier: Tier, direction: Direction, vpc: &str) -> Vec<Entry> {
    match (tier, direction) {
        // The NAT's traffic from the private hosts, and every reply to what either tier sent
        // out (the same four entries on both tiers).
        (_, Direction::Ingress) => vec![
            Entry::all(100, vpc),
            Entry::tcp(110, (EPHEMERAL.0, RDP - 1), INTERNET),
            Entry::tcp(120, (RDP + 1, EPHEMERAL.1), INTERNET),
            Entry::frag_needed(130, INTERNET),
        ],
        (Tier::Public, Direction::Egress) => vec![
            Entry::tcp(100, HTTPS, INTERNET),
            Entry::tcp(110, EPHEMERAL, vpc),
            Entry::frag_needed(120, vpc),
        ],
        (Tier::Private, Direction::Egress) => {
            vec![Entry::all(100, vpc), Entry::tcp(110, HTTPS, INTERNET)]
        }
    }
}

impl NetworkAcl {
    pub(crate) fn new(tier: Tier) -> Self {
        Self { tier }
    }

    fn aws_name(&self, ctx: &Ctx) -> String {
        ctx.names().network_acl(self.tier)
    }

    fn subnets(&self) -> [Logical; 2] {
        Logical::subnets(self.tier)
    }

    fn table(&self, ctx: &Ctx, direction: Direction) -> Vec<Entry> {
        table(
            self.tier,
            direction,
            &ctx.settings.network.vpc_cidr.to_string(),
        )
    }

    fn observe(acl: &SdkAcl) -> Result<Observed, AwsError> {
        let ingress = entries(acl, Direction::Ingress)?;
        let egress = entries(acl, Direction::Egress)?;
        let mut subnets: Vec<&str> = acl
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        subnets.sort();
        let mut properties = Properties::from([
            (&VPC_ID, json!(acl.vpc_id())),
            (&INGRESS, json!(names(&ingress))),
            (&EGRESS, json!(names(&egress))),
            (&SUBNETS, json!(subnets)),
            (&TAGS, tags_value(acl.tags())),
        ]);
        for (check, probe) in &INTERNET_CHECKS {
            properties.insert(*check, json!(admits_from_internet(&ingress, *probe)));
        }
        Ok(Observed {
            record: Record::new(describe::id_of(acl)?),
            properties,
        })
    }

    async fn describe(&self, ctx: &Ctx, id: &str) -> Result<SdkAcl, Error> {
        describe::by_id(ctx, id)
            .await?
            .ok_or_else(|| Error::resource(self.name(), format!("{id} not found")))
    }

    /// Both directions' entries to the table, side by side.
    async fn converge_entries(&self, ctx: &Ctx, acl: &SdkAcl) -> Result<(), Error> {
        let (ingress, egress) = (
            self.table(ctx, Direction::Ingress),
            self.table(ctx, Direction::Egress),
        );
        tokio::try_join!(
            converge(ctx, acl, Direction::Ingress, &ingress),
            converge(ctx, acl, Direction::Egress, &egress),
        )?;
        Ok(())
    }

    /// Moves every subnet on `acl` but those in `keep` back to the VPC's default ACL.
    async fn release_all_but(&self, ctx: &Ctx, acl: &SdkAcl, keep: &[String]) -> Result<(), Error> {
        let leaving: Vec<&str> = acl
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .filter(|s| !keep.iter().any(|k| k == s))
            .collect();
        if leaving.is_empty() {
            return Ok(());
        }
        let vpc = acl.vpc_id().required(DESCRIBE, "VpcId")?;
        let default = default_acl(ctx, vpc).await?.ok_or_else(|| {
            Error::resource(
                self.name(),
                format!("the VPC {vpc} has no default network ACL"),
            )
        })?;
        let default = describe::id_of(&default)?;
        for subnet in leaving {
            associate(ctx, self.name(), default, subnet).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for NetworkAcl {
    fn name(&self) -> Logical {
        Logical::NetworkAcl(self.tier)
    }

    fn depends_on(&self) -> Vec<Logical> {
        let [a, b] = self.subnets();
        vec![Logical::Vpc, a, b]
    }

    fn properties(&self) -> &'static [Prop] {
        const {
            &[
                &VPC_ID,
                &INGRESS,
                &EGRESS,
                &SUBNETS,
                &ANY_PORT,
                &INTERNET_SSH,
                &INTERNET_RDP,
                &TAGS,
            ]
        }
    }

    async fn desired(&self, ctx: &Ctx) -> Result<Properties, Error> {
        let mut properties = Properties::from([
            (&VPC_ID, json!(ctx.id_of(Logical::Vpc)?)),
            (&INGRESS, json!(names(&self.table(ctx, Direction::Ingress)))),
            (&EGRESS, json!(names(&self.table(ctx, Direction::Egress)))),
            (&SUBNETS, json!(sorted_ids(ctx, &self.subnets())?)),
            (&TAGS, desired_tags(ctx, &self.aws_name(ctx))),
        ]);
        for (check, _) in &INTERNET_CHECKS {
            properties.insert(*check, json!(false));
        }
        Ok(properties)
    }

    async fn read(&self, ctx: &Ctx, recorded: Option<&Record>) -> Result<Option<Observed>, Error> {
        let name = self.aws_name(ctx);
        describe::read(ctx, self.name(), recorded, &name, Self::observe).await
    }

    async fn create(&self, ctx: &Ctx) -> Result<Observed, Error> {
        let call = ctx.clients.ec2.create_network_acl();
        let call = call.vpc_id(ctx.id_of(Logical::Vpc)?);
        let out = api::create_once(ctx, call, &self.aws_name(ctx))
            .await
            .op("ec2:CreateNetworkAcl")?;
        let acl = out.network_acl().ok_or_else(|| {
            AwsError::unexpected("ec2:CreateNetworkAcl", "no network ACL in the response")
        })?;
        let operation = "ec2:CreateNetworkAcl";
        let record =
            api::record_created(ctx, self.name(), operation, acl.network_acl_id(), "ACL id")?;
        // Every entry before any subnet moves: a subnet never sits behind a half-built ACL.
        self.converge_entries(ctx, acl).await?;
        for subnet in sorted_ids(ctx, &self.subnets())? {
            associate(ctx, self.name(), &record.id, &subnet).await?;
        }
        self.read_back(ctx, Some(&record)).await
    }

    async fn update(&self, ctx: &Ctx, current: &Observed, changes: &[Change]) -> Result<(), Error> {
        let (id, name) = (&current.record.id, self.aws_name(ctx));
        let (mut entries_drifted, mut subnets) = (false, None);
        for change in changes {
            match change.property {
                p if p == &SUBNETS => subnets = Some(strings(Some(&change.desired))),
                p if p == &INGRESS
                    || p == &EGRESS
                    || INTERNET_CHECKS.iter().any(|(check, _)| p == *check) =>
                {
                    entries_drifted = true;
                }
                _ => api::retag_or_refuse(ctx, self.name(), id, &name, change).await?,
            }
        }
        // The entries first, so that a subnet moved back lands behind the right ones.
        if entries_drifted {
            self.converge_entries(ctx, &self.describe(ctx, id).await?)
                .await?;
        }
        if let Some(desired) = subnets {
            for subnet in &desired {
                associate(ctx, self.name(), id, subnet).await?;
            }
            let acl = self.describe(ctx, id).await?;
            self.release_all_but(ctx, &acl, &desired).await?;
        }
        Ok(())
    }

    async fn destroy(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let id = &current.record.id;
        // EC2 deletes no ACL a subnet still uses (DependencyViolation), and a subnet cannot be
        // without one: its subnets go back to the default ACL first.
        if let Some(acl) = describe::by_id::<SdkAcl>(ctx, id).await? {
            self.release_all_but(ctx, &acl, &[]).await?;
        }
        delete::<SdkAcl>(ctx, id).await
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const VPC: &str = "10.0.0.0/16";

    /// Where one end of a flow sits: which subnet (and so which ACL), and its address.
    #[derive(Clone, Copy, Debug)]
    struct End {
        /// `None`: the internet, behind no ACL of ours.
        tier: Option<Tier>,
        subnet: &'static str,
        ip: Ipv4Addr,
    }

    const APP: End = End {
        tier: Some(Tier::Private),
        subnet: "private-a",
        ip: Ipv4Addr::new(10, 0, 32, 10),
    };
    /// An interface endpoint, the RDS standby or a Redis replica: the other private subnet.
    const DATA_B: End = End {
        tier: Some(Tier::Private),
        subnet: "private-b",
        ip: Ipv4Addr::new(10, 0, 48, 20),
    };
    const DATA_A: End = End {
        ip: Ipv4Addr::new(10, 0, 32, 20),
        ..APP
    };
    const NAT: End = End {
        tier: Some(Tier::Public),
        subnet: "public-a",
        ip: Ipv4Addr::new(10, 0, 0, 10),
    };
    /// An HTTPS server on the internet, or S3 through the gateway endpoint.
    const SERVER: End = End {
        tier: None,
        subnet: "",
        ip: Ipv4Addr::new(52, 94, 133, 131),
    };
    /// A router on the internet path, answering with ICMP.
    const ROUTER: End = End {
        ip: Ipv4Addr::new(203, 0, 113, 1),
        ..SERVER
    };
    const ATTACKER: End = End {
        ip: Ipv4Addr::new(198, 51, 100, 7),
        ..SERVER
    };

    #[derive(Clone, Copy, Debug)]
    enum Sent {
        Tcp(i32),
        Udp(i32),
        /// Type and code.
        Icmp(i32, i32),
    }

    /// One packet on one stretch of its way: from `from` to `to`, with these addresses.
    #[derive(Clone, Copy, Debug)]
    struct Hop {
        from: End,
        to: End,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        sent: Sent,
    }

    fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
        let (net, bits) = cidr.split_once('/').unwrap();
        let (net, bits): (Ipv4Addr, u32) = (net.parse().unwrap(), bits.parse().unwrap());
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        u32::from(ip) & mask == u32::from(net) & mask
    }

    /// EC2's evaluation: the lowest-numbered matching entry decides; none matches: `*`, deny.
    fn passes(tier: Tier, direction: Direction, peer: Ipv4Addr, sent: Sent) -> bool {
        let entries = table(tier, direction, VPC);
        let matching = entries.iter().find(|e| {
            in_cidr(peer, &e.cidr)
                && match sent {
                    Sent::Tcp(port) => e.matches(Probe::Port(port)) && e.protocol != UDP,
                    Sent::Udp(port) => e.matches(Probe::Port(port)) && e.protocol != TCP,
                    Sent::Icmp(kind, code) => {
                        e.protocol == ALL || (e.protocol == ICMP && e.icmp == Some((kind, code)))
                    }
                }
        });
        matching.is_some_and(|e| e.allow)
    }

    /// Whether each ACL the hop crosses lets it through: out of its subnet, judged by its
    /// destination; into the next, by its source. Within one subnet no ACL applies.
    fn crosses(hop: Hop) -> Result<(), String> {
        if hop.from.subnet == hop.to.subnet {
            return Ok(());
        }
        let out = hop.from.tier.map(|t| (t, Direction::Egress, hop.dst));
        let inn = hop.to.tier.map(|t| (t, Direction::Ingress, hop.src));
        for (tier, direction, peer) in out.into_iter().chain(inn) {
            if !passes(tier, direction, peer, hop.sent) {
                return Err(format!("{tier:?} {direction:?} drops {hop:?}"));
            }
        }
        Ok(())
    }

    /// The packets of a TCP connection from `client` to `server:port` that replies from
    /// `client_port`, directly or through the NAT.
    fn connection(client: End, server: End, port: i32, client_port: i32, nat: bool) -> Vec<Hop> {
        let request = |from: End, to: End, src: End| Hop {
            from,
            to,
            src: src.ip,
            dst: server.ip,
            sent: Sent::Tcp(port),
        };
        let reply = |from: End, to: End, dst: End| Hop {
            from,
            to,
            src: server.ip,
            dst: dst.ip,
            sent: Sent::Tcp(client_port),
        };
        if nat {
            vec![
                request(client, NAT, client),
                request(NAT, server, NAT),
                reply(server, NAT, NAT),
                reply(NAT, client, client),
            ]
        } else {
            vec![
                request(client, server, client),
                reply(server, client, client),
            ]
        }
    }

    fn frag_needed(from: End, to: End, src: End) -> Hop {
        Hop {
            from,
            to,
            src: src.ip,
            dst: to.ip,
            sent: Sent::Icmp(FRAG_NEEDED.0, FRAG_NEEDED.1),
        }
    }

    /// A packet straight from `from` to `to`.
    fn direct(from: End, to: End, sent: Sent) -> Hop {
        Hop {
            from,
            to,
            src: from.ip,
            dst: to.ip,
            sent,
        }
    }

    /// Ephemeral ports a client or the NAT may pick, the ends of each range among them.
    const EPHEMERAL_PORTS: [i32; 7] = [1024, 3388, 3390, 32768, 49152, 60999, 65535];

    /// The flows of the module comment, as packets, for one ephemeral port.
    fn flows(ephemeral: i32) -> Vec<(&'static str, Vec<Hop>)> {
        vec![
            (
                "HTTPS to the internet through the NAT",
                connection(APP, SERVER, 443, ephemeral, true),
            ),
            (
                "S3 through the gateway endpoint",
                connection(APP, SERVER, 443, ephemeral, false),
            ),
            (
                "PostgreSQL from the other private subnet",
                connection(APP, DATA_B, 5432, ephemeral, false),
            ),
            (
                "Redis from the other private subnet",
                connection(APP, DATA_B, 6379, ephemeral, false),
            ),
            (
                "an interface endpoint in the other private subnet",
                connection(APP, DATA_B, 443, ephemeral, false),
            ),
            (
                "replication between the private subnets",
                connection(DATA_A, DATA_B, 6379, ephemeral, false),
            ),
            (
                "fragmentation needed, from the NAT to a private host",
                vec![frag_needed(NAT, APP, NAT)],
            ),
            (
                "fragmentation needed, from a router to the NAT",
                vec![frag_needed(ROUTER, NAT, ROUTER)],
            ),
            (
                "fragmentation needed, from a router, relayed by the NAT",
                vec![
                    frag_needed(ROUTER, NAT, ROUTER),
                    frag_needed(NAT, APP, ROUTER),
                ],
            ),
        ]
    }

    #[test]
    fn every_flow_passes_each_acl_it_crosses_both_ways() {
        for port in EPHEMERAL_PORTS {
            for (flow, hops) in flows(port) {
                for hop in hops {
                    if let Err(dropped) = crosses(hop) {
                        panic!("{flow} (ephemeral port {port}): {dropped}");
                    }
                }
            }
        }
    }

    #[test]
    fn nothing_else_gets_through() {
        let http_via_nat = connection(APP, SERVER, 80, 32768, true);
        let refused = [
            (
                "SSH from the internet to the NAT",
                direct(ATTACKER, NAT, Sent::Tcp(SSH)),
            ),
            (
                "SSH from the internet to a private host",
                direct(ATTACKER, APP, Sent::Tcp(SSH)),
            ),
            (
                "RDP from the internet",
                direct(ATTACKER, APP, Sent::Tcp(RDP)),
            ),
            (
                "RDP over UDP from the internet",
                direct(ATTACKER, NAT, Sent::Udp(RDP)),
            ),
            (
                "DNS queries to the NAT",
                direct(ATTACKER, NAT, Sent::Udp(53)),
            ),
            (
                "ping from the internet",
                direct(ATTACKER, APP, Sent::Icmp(8, 0)),
            ),
            (
                "DNS out to the internet",
                direct(APP, SERVER, Sent::Udp(53)),
            ),
            ("plain HTTP out of the private subnets", http_via_nat[0]),
            ("plain HTTP out of the NAT", http_via_nat[1]),
            // The price of keeping RDP out (see the module comment).
            (
                "a reply to the NAT's port 3389",
                connection(APP, SERVER, 443, RDP, true)[2],
            ),
        ];
        for (what, hop) in refused {
            assert!(crosses(hop).is_err(), "{what} gets through: {hop:?}");
        }
    }

    #[test]
    fn the_tables_pass_the_internet_checks_and_a_wide_entry_fails_them() {
        for tier in Tier::ALL {
            let ingress = table(tier, Direction::Ingress, VPC);
            for (check, probe) in &INTERNET_CHECKS {
                assert!(!admits_from_internet(&ingress, *probe), "{tier:?} {check}");
            }
        }
        let wide = [Entry::all(50, INTERNET)];
        for (check, probe) in &INTERNET_CHECKS {
            assert!(admits_from_internet(&wide, *probe), "{check}");
        }
        let ssh = [Entry::tcp(50, (SSH, SSH), INTERNET_V6)];
        assert!(admits_from_internet(&ssh, Probe::Port(SSH)));
        assert!(!admits_from_internet(&ssh, Probe::AllTraffic));
        // EC2 stops at the first match: a deny before a wide allow keeps SSH out.
        let denied_first = [
            Entry {
                allow: false,
                ..Entry::tcp(40, (SSH, SSH), INTERNET)
            },
            Entry::tcp(50, (1, 65535), INTERNET),
        ];
        assert!(!admits_from_internet(&denied_first, Probe::Port(SSH)));
        assert!(admits_from_internet(&denied_first, Probe::Port(RDP)));
    }

    #[test]
    fn entries_read_back_as_they_were_sent_and_without_the_star() {
        let sent = Entry::frag_needed(130, INTERNET);
        let acl = SdkAcl::builder()
            .network_acl_id("acl-1")
            .entries(
                NetworkAclEntry::builder()
                    .rule_number(130)
                    .egress(false)
                    .rule_action(RuleAction::Allow)
                    .protocol(ICMP)
                    .cidr_block(INTERNET)
                    .icmp_type_code(IcmpTypeCode::builder().r#type(3).code(4).build())
                    .build(),
            )
            .entries(
                NetworkAclEntry::builder()
                    .rule_number(STAR)
                    .egress(false)
                    .rule_action(RuleAction::Deny)
                    .protocol(ALL)
                    .cidr_block(INTERNET)
                    .build(),
            )
            .build();
        assert_eq!(sent.name(), "130 allow icmp 3:4 0.0.0.0/0");
        assert_eq!(entries(&acl, Direction::Ingress).unwrap(), [sent]);
        assert!(entries(&acl, Direction::Egress).unwrap().is_empty());
        assert_eq!(
            names(&table(Tier::Public, Direction::Egress, VPC)),
            [
                "100 allow tcp 443 0.0.0.0/0",
                "110 allow tcp 1024-65535 10.0.0.0/16",
                "120 allow icmp 3:4 10.0.0.0/16",
            ]
        );
    }

    #[test]
    fn an_entry_without_its_block_is_an_error_not_an_entry() {
        let acl = SdkAcl::builder()
            .entries(
                NetworkAclEntry::builder()
                    .rule_number(100)
                    .egress(true)
                    .build(),
            )
            .build();
        let text = match entries(&acl, Direction::Egress) {
            Ok(read) => panic!("read {read:?} from an entry without a CIDR"),
            Err(e) => e.to_string(),
        };
        assert!(text.contains(DESCRIBE), "{text}");
        assert!(text.contains("CidrBlock"), "{text}");
    }
}
