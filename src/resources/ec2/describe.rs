//! One describe call per EC2 kind, and the look-ups built on it: by the id in state or by the
//! environment's name tags (`find`, and the `read` of most kinds on it), and from one list of
//! the whole VPC (`listed`). The SDK gives every kind its own request builder with no trait in
//! common, so each kind's call is written once, by `described!`, and everything else is generic
//! over `Described`.

use aws_sdk_ec2::types::{
    Address, Filter, FlowLog, InternetGateway, NatGateway, NetworkAcl, RouteTable, SecurityGroup,
    Subnet, Tag, Vpc, VpcEndpoint,
};

use futures::future::BoxFuture;

use super::api::{filter, is_ours, name_filters};
use crate::aws::{AwsError, AwsResultExt, Required};
use crate::context::{Ctx, ListKey};
use crate::error::Error;
use crate::logical::Logical;
use crate::resource::Observed;
use crate::resources::common::{self, Lookup};
use crate::state::Record;

/// An EC2 item with its describe call.
pub(crate) trait Described: Clone + Send + Sync + 'static {
    /// What errors call an item of the kind (a look-up that finds several).
    const KIND: &'static str;
    /// The describe operation, as errors name it.
    const OP: &'static str;
    /// The id's field, as the error for an item without one names it.
    const ID: &'static str;
    /// For kinds whose reads of recorded items share one describe of the whole VPC: its key.
    const LIST: Option<ListKey<Vec<(String, Self)>>> = None;

    fn id(&self) -> Option<&str>;

    fn tags(&self) -> &[Tag];

    /// One describe call; `None` leaves that part of the request out. Boxed: an SDK call's
    /// future is deep, every read nests it in several generic layers (the VPC's list, the
    /// look-up, the read ahead), and unboxed the compiler's layout query overflows its depth
    /// limit in a release build.
    fn call(
        ctx: &Ctx,
        ids: Option<Vec<String>>,
        filters: Option<Vec<Filter>>,
    ) -> BoxFuture<'_, Result<Vec<Self>, AwsError>>;
}

macro_rules! described {
    ($($item:ident $kind:literal: $op:literal, $id:literal, $get_id:ident,
       $describe:ident($set_ids:ident, $set_filters:ident) -> $items:ident $(, $in_vpc:ident)?;)*) => {$(
        impl Described for $item {
            const KIND: &'static str = $kind;
            const OP: &'static str = $op;
            const ID: &'static str = $id;
            $(const LIST: Option<ListKey<Vec<(String, Self)>>> =
                Some(ListKey::new(described!(@$in_vpc $op)));)?

            fn id(&self) -> Option<&str> {
                self.$get_id()
            }

            fn tags(&self) -> &[Tag] {
                $item::tags(self)
            }

            fn call(
                ctx: &Ctx,
                ids: Option<Vec<String>>,
                filters: Option<Vec<Filter>>,
            ) -> BoxFuture<'_, Result<Vec<Self>, AwsError>> {
                Box::pin(async move {
                    let call = ctx.clients.ec2.$describe().$set_ids(ids);
                    let out = call.$set_filters(filters).send().await.op($op)?;
                    Ok(out.$items().to_vec())
                })
            }
        }
    )*};
    // The list takes the name of the call that fetches it.
    (@in_vpc $op:literal) => {
        $op
    };
}

// kind "as errors name it": describe call, id field, its getter, the request's setters, the
// answer's list[, in_vpc]
described! {
    Vpc "VPC": "ec2:DescribeVpcs", "VpcId", vpc_id,
        describe_vpcs(set_vpc_ids, set_filters) -> vpcs;
    Subnet "subnet": "ec2:DescribeSubnets", "SubnetId", subnet_id,
        describe_subnets(set_subnet_ids, set_filters) -> subnets, in_vpc;
    SecurityGroup "security group": "ec2:DescribeSecurityGroups", "GroupId", group_id,
        describe_security_groups(set_group_ids, set_filters) -> security_groups, in_vpc;
    RouteTable "route table": "ec2:DescribeRouteTables", "RouteTableId", route_table_id,
        describe_route_tables(set_route_table_ids, set_filters) -> route_tables, in_vpc;
    NetworkAcl "network ACL": "ec2:DescribeNetworkAcls", "NetworkAclId", network_acl_id,
        describe_network_acls(set_network_acl_ids, set_filters) -> network_acls, in_vpc;
    VpcEndpoint "VPC endpoint": "ec2:DescribeVpcEndpoints", "VpcEndpointId", vpc_endpoint_id,
        describe_vpc_endpoints(set_vpc_endpoint_ids, set_filters) -> vpc_endpoints, in_vpc;
    Address "Elastic IP": "ec2:DescribeAddresses", "AllocationId", allocation_id,
        describe_addresses(set_allocation_ids, set_filters) -> addresses;
    InternetGateway "internet gateway": "ec2:DescribeInternetGateways", "InternetGatewayId",
        internet_gateway_id,
        describe_internet_gateways(set_internet_gateway_ids, set_filters) -> internet_gateways;
    NatGateway "NAT gateway": "ec2:DescribeNatGateways", "NatGatewayId", nat_gateway_id,
        describe_nat_gateways(set_nat_gateway_ids, set_filter) -> nat_gateways;
    FlowLog "flow log": "ec2:DescribeFlowLogs", "FlowLogId", flow_log_id,
        describe_flow_logs(set_flow_log_ids, set_filter) -> flow_logs;
}

/// The item's id; one without is an error naming the call and the field.
pub(crate) fn id_of<T: Described>(item: &T) -> Result<&str, AwsError> {
    item.id().required(T::OP, T::ID)
}

/// Each item with its id, the shape `common::find` and `common::single` take.
pub(crate) fn with_ids<T: Described>(items: Vec<T>) -> Result<Vec<(String, T)>, AwsError> {
    items
        .into_iter()
        .map(|item| Ok((id_of(&item)?.to_owned(), item)))
        .collect()
}

/// The item with this id; `None` when AWS answers that it is not found, or lists nothing.
pub(crate) async fn by_id<T: Described>(ctx: &Ctx, id: &str) -> Result<Option<T>, Error> {
    let items = common::found(T::call(ctx, Some(vec![id.to_owned()]), None).await)?;
    Ok(items.and_then(|items| items.into_iter().next()))
}

/// The items by filters alone.
pub(crate) async fn filtered<T: Described>(
    ctx: &Ctx,
    filters: Vec<Filter>,
) -> Result<Vec<T>, AwsError> {
    T::call(ctx, None, Some(filters)).await
}

/// The environment's one item named `name` among those `filters` find and `keep` admits, its tags
/// checked here: for kinds whose server-side tag filters are unreliable.
pub(crate) async fn ours<T: Described>(
    ctx: &Ctx,
    resource: Logical,
    name: &str,
    filters: Vec<Filter>,
    keep: impl Fn(&T) -> bool,
) -> Result<Option<T>, Error> {
    let all: Vec<T> = filtered(ctx, filters).await?;
    let ours = all
        .into_iter()
        .filter(|item| keep(item) && is_ours(ctx, item.tags(), name))
        .collect();
    let found = common::single(resource, T::KIND, with_ids(ours)?)?;
    Ok(found.map(|(_, item)| item))
}

/// What `lookup` finds: the id, or the environment's name tags and `extra` filters.
pub(crate) async fn looked_up<T: Described>(
    ctx: &Ctx,
    lookup: &Lookup,
    extra: Vec<Filter>,
) -> Result<Vec<T>, AwsError> {
    match lookup {
        Lookup::Id(id) => T::call(ctx, Some(vec![id.clone()]), None).await,
        Lookup::Name(name) => filtered(ctx, [name_filters(ctx, name), extra].concat()).await,
    }
}

/// The item: from the VPC's list when its kind has one and the list holds it, else by
/// `common::find` through `T`'s describe call.
pub(crate) async fn find<T: Described>(
    ctx: &Ctx,
    resource: Logical,
    recorded: Option<&Record>,
    name: &str,
) -> Result<Option<T>, Error> {
    if let Some(item) = listed(ctx, recorded).await? {
        return Ok(Some(item));
    }
    let found = common::find(resource, T::KIND, recorded, name, |lookup| async move {
        with_ids(looked_up(ctx, &lookup, vec![]).await?)
    })
    .await?;
    Ok(found.map(|(_, item)| item))
}

/// The whole `read` of a kind `find` serves: the item found, as `observe` reads it.
pub(crate) async fn read<T: Described>(
    ctx: &Ctx,
    resource: Logical,
    recorded: Option<&Record>,
    name: &str,
    observe: impl FnOnce(&T) -> Result<Observed, AwsError>,
) -> Result<Option<Observed>, Error> {
    let found = find(ctx, resource, recorded, name).await?;
    Ok(found.map(|item| observe(&item)).transpose()?)
}

/// The recorded item, from one describe of the stack's whole VPC (see `common::listed`);
/// `None` without a VPC, and for a kind without a list.
pub(crate) async fn listed<T: Described>(
    ctx: &Ctx,
    recorded: Option<&Record>,
) -> Result<Option<T>, Error> {
    let (Some(key), Some(vpc)) = (&T::LIST, ctx.record(Logical::Vpc)) else {
        return Ok(None);
    };
    common::listed(ctx, recorded, key, || async move {
        Ok(with_ids(
            filtered(ctx, vec![filter("vpc-id", vpc.id)]).await?,
        )?)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind's describe call, id field, list and name, one line a kind.
    fn table<T: Described>() -> String {
        let list = if T::LIST.is_some() { "listed" } else { "alone" };
        format!("{} {} {list} {}\n", T::OP, T::ID, T::KIND)
    }

    #[test]
    fn each_kind_names_the_call_and_id_field_the_resource_modules_named() {
        let kinds = [
            table::<Vpc>() + &table::<Subnet>() + &table::<SecurityGroup>(),
            table::<RouteTable>() + &table::<VpcEndpoint>() + &table::<Address>(),
            table::<InternetGateway>() + &table::<NatGateway>() + &table::<FlowLog>(),
            table::<NetworkAcl>(),
        ];
        assert_eq!(
            kinds.concat(),
            "ec2:DescribeVpcs VpcId alone VPC
ec2:DescribeSubnets SubnetId listed subnet
ec2:DescribeSecurityGroups GroupId listed security group
ec2:DescribeRouteTables RouteTableId listed route table
ec2:DescribeVpcEndpoints VpcEndpointId listed VPC endpoint
ec2:DescribeAddresses AllocationId alone Elastic IP
ec2:DescribeInternetGateways InternetGatewayId alone internet gateway
ec2:DescribeNatGateways NatGatewayId alone NAT gateway
ec2:DescribeFlowLogs FlowLogId alone flow log
ec2:DescribeNetworkAcls NetworkAclId listed network ACL
"
        );
    }

    #[test]
    fn an_item_without_its_id_is_an_error_naming_the_call_and_the_field() {
        let text = match id_of(&NatGateway::builder().build()) {
            Ok(id) => panic!("read the id {id:?} from an item without one"),
            Err(e) => e.to_string(),
        };
        assert!(text.contains("ec2:DescribeNatGateways"), "{text}");
        assert!(text.contains("NatGatewayId"), "{text}");
    }
}
