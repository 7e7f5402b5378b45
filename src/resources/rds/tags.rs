//! Tags on RDS resources, which are read and written by ARN rather than by name.

use crate::resources::common::tags_by_arn::tags_by_arn;

tags_by_arn!(
    RdsTags: aws_sdk_rds,
    rds,
    "rds:ListTagsForResource",
    "rds:AddTagsToResource"
);
