//! The permission documents of medtech's roles: each names the exact ARNs of this stack
//! (no `*` resources, save the one list action AWS authorises on the account's log-group
//! namespace), and KMS actions name this stack's key only.

use serde_json::{Value, json};

use crate::context::Ctx;
use crate::error::Error;
use crate::logical::{Holds, Logical, Purpose};

/// VPC flow logs delivering into their log group. The service also lists log groups before it
/// delivers: without `logs:DescribeLogGroups` the flow log reports `DeliverLogsStatus`
/// FAILED ("Access error") and nothing reaches the audit group.
pub(crate) fn flow_logs(ctx: &Ctx) -> Result<Value, Error> {
    let group = ctx.clients.arn(
        "logs",
        &format!("log-group:{}", ctx.names().log_group(Purpose::FlowLogs)),
    );
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [group.clone(), format!("{group}:*")]
            },
            {
                // A list action: AWS authorises it on the account's log groups of the region,
                // not on one group, and it reads names only.
                "Sid": "FindTheLogGroup",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                "Resource": [ctx.clients.arn("logs", "log-group:*")]
            }
        ]
    }))
}

/// Producers writing records to the stream, which is encrypted with the key.
pub(crate) fn kinesis_producer(ctx: &Ctx) -> Result<Value, Error> {
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteToTheStream",
                "Effect": "Allow",
                "Action": ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary"],
                "Resource": [ctx.arn_of(Logical::KinesisStream)?]
            },
            {
                "Sid": "EncryptRecords",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey"],
                "Resource": [ctx.arn_of(Logical::KmsKey)?]
            }
        ]
    }))
}

/// Applications reading the database and Redis credentials.
pub(crate) fn secrets_reader(ctx: &Ctx) -> Result<Value, Error> {
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheCredentials",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": [ctx.arn_of(Logical::Secret(Holds::RdsCredentials))?, ctx.arn_of(Logical::Secret(Holds::RedisAuthToken))?]
            },
            {
                "Sid": "DecryptThroughSecretsManagerOnly",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [ctx.arn_of(Logical::KmsKey)?],
                "Condition": {"StringEquals": {
                    "kms:ViaService": format!("secretsmanager.{}.amazonaws.com", ctx.clients.region)
                }}
            }
        ]
    }))
}
