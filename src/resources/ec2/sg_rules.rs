//! Security-group rules as comparable strings (`tcp 5432 10.0.0.0/16`), and the calls that
//! bring a group's rules to exactly a desired set: revoke what is extra, authorize what is
//! missing. Shared by the locked-down default group and medtech's own groups.

use aws_sdk_ec2::types::builders::IpPermissionBuilder;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, SecurityGroup, UserIdGroupPair,
};

use super::api::already_done;
use super::describe;
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::Ctx;
use crate::error::Error;
use crate::resources::common::gone;

/// Where every security group medtech reads comes from.
const DESCRIBE: &str = "ec2:DescribeSecurityGroups";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Ingress,
    Egress,
}

/// A TCP rule from one IPv4 block: the only kind medtech itself grants.
pub(crate) fn tcp_from(port: u16, cidr: &str) -> String {
    format!("tcp {port} {cidr}")
}

/// Every rule of `group` in `direction`, one entry per source, with the permission that
/// revokes exactly it. A source without its address is an error: as an empty one it would
/// name a rule nobody granted and revoke nothing.
pub(crate) fn rules(
    group: &SecurityGroup,
    direction: Direction,
) -> Result<Vec<(String, IpPermission)>, AwsError> {
    let permissions = match direction {
        Direction::Ingress => group.ip_permissions(),
        Direction::Egress => group.ip_permissions_egress(),
    };
    let mut out = Vec::new();
    for p in permissions {
        let protocol = match p.ip_protocol() {
            Some("-1") | None => "all",
            Some(other) => other,
        };
        let ports = match (p.from_port(), p.to_port()) {
            (Some(from), Some(to)) if from == to => from.to_string(),
            (Some(-1), _) | (None, _) => "all".to_owned(),
            (Some(from), Some(to)) => format!("{from}-{to}"),
            (Some(from), None) => from.to_string(),
        };
        let sources = (p.ip_ranges().iter().map(Source::Ipv4))
            .chain(p.ipv6_ranges().iter().map(Source::Ipv6))
            .chain(p.prefix_list_ids().iter().map(Source::PrefixList))
            .chain(p.user_id_group_pairs().iter().map(Source::Group));
        for source in sources {
            let (address, field) = source.address();
            let address = address.required(DESCRIBE, field)?;
            let base = IpPermission::builder()
                .set_ip_protocol(p.ip_protocol().map(str::to_owned))
                .set_from_port(p.from_port())
                .set_to_port(p.to_port());
            let single = source.only(base, address).build();
            out.push((format!("{protocol} {ports} {address}"), single));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// One source a permission lists: the four kinds are four lists on the SDK's type.
enum Source<'a> {
    Ipv4(&'a IpRange),
    Ipv6(&'a Ipv6Range),
    PrefixList(&'a PrefixListId),
    Group(&'a UserIdGroupPair),
}

impl Source<'_> {
    /// Its address, with the field that holds it (named by the error when it is missing).
    fn address(&self) -> (Option<&str>, &'static str) {
        match self {
            Self::Ipv4(range) => (range.cidr_ip(), "IpRanges.CidrIp"),
            Self::Ipv6(range) => (range.cidr_ipv6(), "Ipv6Ranges.CidrIpv6"),
            Self::PrefixList(list) => (list.prefix_list_id(), "PrefixListIds.PrefixListId"),
            Self::Group(pair) => (pair.group_id(), "UserIdGroupPairs.GroupId"),
        }
    }

    /// `base` granting exactly this source, by its address alone.
    fn only(&self, base: IpPermissionBuilder, address: &str) -> IpPermissionBuilder {
        match self {
            Self::Ipv4(_) => base.ip_ranges(IpRange::builder().cidr_ip(address).build()),
            Self::Ipv6(_) => base.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(address).build()),
            Self::PrefixList(_) => {
                base.prefix_list_ids(PrefixListId::builder().prefix_list_id(address).build())
            }
            Self::Group(_) => {
                base.user_id_group_pairs(UserIdGroupPair::builder().group_id(address).build())
            }
        }
    }
}

pub(crate) fn rule_names(
    group: &SecurityGroup,
    direction: Direction,
) -> Result<Vec<String>, AwsError> {
    Ok(rules(group, direction)?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Makes `direction`'s rules of `group` exactly `desired` (which holds only `tcp_from` rules).
pub(crate) async fn converge(
    ctx: &Ctx,
    group: &SecurityGroup,
    direction: Direction,
    desired: &[(u16, String)],
) -> Result<(), Error> {
    let id = describe::id_of(group)?;
    let current = rules(group, direction)?;
    let wanted: Vec<String> = desired.iter().map(|(p, c)| tcp_from(*p, c)).collect();
    let extra: Vec<IpPermission> = current
        .iter()
        .filter(|(name, _)| !wanted.contains(name))
        .map(|(_, p)| p.clone())
        .collect();
    if !extra.is_empty() {
        let result = send(ctx, id, Edit::Revoke, direction, extra).await;
        gone(result)?;
    }
    let have: Vec<&String> = current.iter().map(|(name, _)| name).collect();
    let missing: Vec<IpPermission> = desired
        .iter()
        .filter(|(p, c)| !have.contains(&&tcp_from(*p, c)))
        .map(|(port, cidr)| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(*port))
                .to_port(i32::from(*port))
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build()
        })
        .collect();
    if !missing.is_empty() {
        let result = send(ctx, id, Edit::Authorize, direction, missing).await;
        already_done(result)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Edit {
    Revoke,
    Authorize,
}

/// One of the four rule calls: the same two fields on four unrelated SDK builders.
async fn send(
    ctx: &Ctx,
    id: &str,
    edit: Edit,
    direction: Direction,
    permissions: Vec<IpPermission>,
) -> Result<(), AwsError> {
    let (ec2, permissions) = (&ctx.clients.ec2, Some(permissions));
    macro_rules! send {
        ($call:ident, $op:literal) => {{
            let call = ec2.$call().group_id(id).set_ip_permissions(permissions);
            call.send().await.map(drop).op($op)
        }};
    }
    use {Direction::*, Edit::*};
    match (edit, direction) {
        (Revoke, Ingress) => {
            send! { revoke_security_group_ingress, "ec2:RevokeSecurityGroupIngress" }
        }
        (Revoke, Egress) => send! { revoke_security_group_egress, "ec2:RevokeSecurityGroupEgress" },
        (Authorize, Ingress) => {
            send! { authorize_security_group_ingress, "ec2:AuthorizeSecurityGroupIngress" }
        }
        (Authorize, Egress) => {
            send! { authorize_security_group_egress, "ec2:AuthorizeSecurityGroupEgress" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_with(range: IpRange) -> SecurityGroup {
        SecurityGroup::builder()
            .group_id("sg-1")
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(5432)
                    .to_port(5432)
                    .ip_ranges(range)
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_rule_is_named_by_its_source() {
        let group = group_with(IpRange::builder().cidr_ip("10.0.0.0/16").build());
        let names = rule_names(&group, Direction::Ingress).unwrap();
        assert_eq!(names, [tcp_from(5432, "10.0.0.0/16")]);
    }

    #[test]
    fn a_rule_without_its_source_is_an_error_not_a_nameless_rule() {
        let group = group_with(IpRange::builder().build());
        let text = match rule_names(&group, Direction::Ingress) {
            Ok(names) => panic!("read {names:?} from a rule without its CIDR"),
            Err(e) => e.to_string(),
        };
        assert!(text.contains("ec2:DescribeSecurityGroups"), "{text}");
        assert!(text.contains("CidrIp"), "{text}");
    }
}
