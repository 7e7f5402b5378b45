//! One delete call per EC2 kind, by id: the SDK gives every kind its own request builder with no
//! trait in common, so each kind's call is written once, by `deleted!`. Not the VPC endpoints'
//! delete: it answers refusals that its caller must read.

use aws_sdk_ec2::types::{
    Address, FlowLog, InternetGateway, NatGateway, NetworkAcl, RouteTable, SecurityGroup, Subnet,
    Vpc,
};

use crate::aws::{AwsError, AwsResultExt};
use crate::context::Ctx;
use crate::error::Error;
use crate::resources::common::gone;

/// An EC2 item with its delete call.
pub(crate) trait Deleted {
    /// Deletes the item `id`; its answer carries nothing to check.
    fn delete(ctx: &Ctx, id: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}

macro_rules! deleted {
    ($($item:ident: $op:literal, $delete:ident($set_id:ident);)*) => {$(
        impl Deleted for $item {
            async fn delete(ctx: &Ctx, id: &str) -> Result<(), AwsError> {
                let call = ctx.clients.ec2.$delete().$set_id(id);
                call.send().await.op($op)?;
                Ok(())
            }
        }
    )*};
}

// kind: the call as errors name it, its request(the id's setter)
deleted! {
    Vpc: "ec2:DeleteVpc", delete_vpc(vpc_id);
    Subnet: "ec2:DeleteSubnet", delete_subnet(subnet_id);
    SecurityGroup: "ec2:DeleteSecurityGroup", delete_security_group(group_id);
    RouteTable: "ec2:DeleteRouteTable", delete_route_table(route_table_id);
    NetworkAcl: "ec2:DeleteNetworkAcl", delete_network_acl(network_acl_id);
    Address: "ec2:ReleaseAddress", release_address(allocation_id);
    InternetGateway: "ec2:DeleteInternetGateway", delete_internet_gateway(internet_gateway_id);
    NatGateway: "ec2:DeleteNatGateway", delete_nat_gateway(nat_gateway_id);
    FlowLog: "ec2:DeleteFlowLogs", delete_flow_logs(flow_log_ids);
}

/// Deletes the item `id` of kind `T`; one already gone is no error.
pub(crate) async fn delete<T: Deleted>(ctx: &Ctx, id: &str) -> Result<(), Error> {
    gone(T::delete(ctx, id).await)
}
