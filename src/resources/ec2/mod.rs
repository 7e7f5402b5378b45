//! EC2: the network tier (VPC, subnets, gateways, route tables, network ACLs, security groups,
//! endpoints, flow logs), and the EC2 API plumbing they share (`api`).

pub(crate) mod api;
pub(crate) mod default_network_acl;
pub(crate) mod default_security_group;
mod delete;
pub(crate) mod describe;
pub(crate) mod elastic_ip;
pub(crate) mod flow_log;
pub(crate) mod internet_gateway;
mod lockdown;
pub(crate) mod nat_gateway;
pub(crate) mod network_acl;
pub(crate) mod route_table;
pub(crate) mod security_group;
pub(crate) mod sg_rules;
pub(crate) mod subnet;
pub(crate) mod vpc;
pub(crate) mod vpc_endpoint;
