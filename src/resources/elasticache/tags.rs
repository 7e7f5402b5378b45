//! Tags on ElastiCache resources, which are read and written by ARN rather than by name.

use crate::resources::common::tags_by_arn::tags_by_arn;

tags_by_arn!(
    CacheTags: aws_sdk_elasticache,
    elasticache,
    "elasticache:ListTagsForResource",
    "elasticache:AddTagsToResource"
);
