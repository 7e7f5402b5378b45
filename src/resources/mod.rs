//! The stack: one module per AWS resource kind, each implementing `Resource`, and the list
//! that puts them together. Dependencies are declared by each resource; the list order is
//! only the order in reports.

mod default_security_group;
mod ec2;
mod elastic_ip;
mod internet_gateway;
mod nat_gateway;
mod route_table;
mod security_group;
mod sg_rules;
mod subnet;
mod vpc;

use crate::naming::Zone;
use crate::resource::Resource;

use default_security_group::DefaultSecurityGroup;
use elastic_ip::ElasticIp;
use internet_gateway::InternetGateway;
use nat_gateway::NatGateway;
use route_table::RouteTable;
use security_group::{SecurityGroup, Service};
use subnet::{Subnet, Tier};
use vpc::Vpc;

/// Every resource of the stack.
pub fn stack() -> Vec<Box<dyn Resource>> {
    let mut resources: Vec<Box<dyn Resource>> = vec![Box::new(Vpc), Box::new(DefaultSecurityGroup)];
    for tier in [Tier::Public, Tier::Private] {
        for zone in Zone::ALL {
            resources.push(Box::new(Subnet::new(tier, zone)));
        }
    }
    resources.extend([
        Box::new(InternetGateway) as Box<dyn Resource>,
        Box::new(ElasticIp),
        Box::new(NatGateway),
        Box::new(RouteTable::new(Tier::Public)),
        Box::new(RouteTable::new(Tier::Private)),
        Box::new(SecurityGroup::new(Service::Postgres)),
        Box::new(SecurityGroup::new(Service::Redis)),
    ]);
    resources
}
