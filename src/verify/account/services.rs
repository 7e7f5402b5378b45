//! The account's detective services in the region: GuardDuty, Security Hub and AWS Config.

use futures::future::try_join_all;
use serde_json::{Value, json};

use crate::aws::{AwsError, AwsResultExt, Clients, ErrorKind, Required};
use crate::control::{ACTIVITY, Control, Severity, control};
use crate::verify::Check;

const GUARDDUTY: (&str, Control) = (
    "guardduty_enabled",
    control(
        "A GuardDuty detector is enabled in the region",
        Severity::High,
        ACTIVITY,
        "`aws guardduty create-detector --enable` (a suspended one: `aws guardduty update-detector --detector-id ID --enable`)",
        Some("guardduty_is_enabled"),
        Some("GUARDDUTY_ENABLED_CENTRALIZED"),
    ),
);
const SECURITY_HUB: (&str, Control) = (
    "securityhub_enabled",
    control(
        "Security Hub is enabled in the region",
        Severity::Medium,
        ACTIVITY,
        "`aws securityhub enable-security-hub`",
        Some("securityhub_enabled"),
        Some("SECURITYHUB_ENABLED"),
    ),
);
const CONFIG: (&str, Control) = (
    "config_recorder",
    control(
        "An AWS Config recorder records all resource types, with a delivery channel",
        Severity::Medium,
        ACTIVITY,
        "`aws configservice put-configuration-recorder --configuration-recorder name=default,roleARN=ROLE_ARN --recording-group allSupported=true`, `aws configservice put-delivery-channel --delivery-channel name=default,s3BucketName=BUCKET`, then `aws configservice start-configuration-recorder --configuration-recorder-name default`",
        Some("config_recorder_all_regions_enabled"),
        None,
    ),
);

pub(super) const CONTROLS: [(&str, Control); 3] = [GUARDDUTY, SECURITY_HUB, CONFIG];

pub(super) async fn checks(clients: &Clients) -> Result<Vec<Check>, AwsError> {
    let (guardduty, hub, config) =
        tokio::join!(guardduty(clients), security_hub(clients), config(clients));
    Ok(vec![guardduty?, hub?, config?])
}

async fn guardduty(clients: &Clients) -> Result<Check, AwsError> {
    let detectors = clients
        .guardduty
        .list_detectors()
        .into_paginator()
        .items()
        .send();
    let ids = detectors
        .try_collect()
        .await
        .op("guardduty:ListDetectors")?;
    let statuses = try_join_all(ids.iter().map(|id| detector_status(clients, id))).await?;
    let passed = statuses.iter().any(|s| s == "ENABLED");
    let observed = if ids.is_empty() {
        json!("no detector")
    } else {
        Value::Object(
            ids.into_iter()
                .zip(statuses.into_iter().map(Value::from))
                .collect(),
        )
    };
    Ok(Check::account(
        GUARDDUTY,
        json!("a detector that is ENABLED"),
        observed,
        passed,
    ))
}

async fn detector_status(clients: &Clients, id: &str) -> Result<String, AwsError> {
    let detector = clients
        .guardduty
        .get_detector()
        .detector_id(id)
        .send()
        .await
        .op("guardduty:GetDetector")?;
    Ok(detector
        .status()
        .map_or("no status", |s| s.as_str())
        .to_owned())
}

async fn security_hub(clients: &Clients) -> Result<Check, AwsError> {
    let hub = match clients
        .securityhub
        .describe_hub()
        .send()
        .await
        .op("securityhub:DescribeHub")
    {
        Ok(hub) => Some(hub.hub_arn().unwrap_or("enabled").to_owned()),
        // Security Hub's word for "this account has not enabled it here".
        Err(e)
            if e.code.as_deref() == Some("InvalidAccessException") || e.is(ErrorKind::NotFound) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    Ok(Check::account(
        SECURITY_HUB,
        json!("enabled"),
        hub.as_ref()
            .map_or_else(|| json!("not enabled"), |arn| json!(arn)),
        hub.is_some(),
    ))
}

async fn config(clients: &Clients) -> Result<Check, AwsError> {
    let service = &clients.configservice;
    let (recorders, statuses, channels) = tokio::join!(
        service.describe_configuration_recorders().send(),
        service.describe_configuration_recorder_status().send(),
        service.describe_delivery_channels().send(),
    );
    let recorders = recorders.op("config:DescribeConfigurationRecorders")?;
    let statuses = statuses.op("config:DescribeConfigurationRecorderStatus")?;
    let channels = channels.op("config:DescribeDeliveryChannels")?;
    let recorders: Vec<(String, bool)> = recorders
        .configuration_recorders()
        .iter()
        .map(|r| recorder(r, statuses.configuration_recorders_status()))
        .collect::<Result<_, _>>()?;
    let mut observed: Vec<String> = recorders.iter().map(|(text, _)| text.clone()).collect();
    if observed.is_empty() {
        observed.push("no configuration recorder".to_owned());
    }
    let has_channel = !channels.delivery_channels().is_empty();
    observed.push(
        if has_channel {
            "a delivery channel"
        } else {
            "no delivery channel"
        }
        .to_owned(),
    );
    Ok(Check::account(
        CONFIG,
        json!("a recorder of all resource types, recording, and a delivery channel"),
        json!(observed.join("; ")),
        has_channel && recorders.iter().any(|(_, ok)| *ok),
    ))
}

/// A recorder as the report says it, and whether it does what the baseline needs.
fn recorder(
    recorder: &aws_sdk_config::types::ConfigurationRecorder,
    statuses: &[aws_sdk_config::types::ConfigurationRecorderStatus],
) -> Result<(String, bool), AwsError> {
    use aws_sdk_config::types::RecorderStatus;
    let name = recorder
        .name()
        .required("config:DescribeConfigurationRecorders", "name")?;
    let all = recorder
        .recording_group()
        .is_some_and(|g| g.all_supported());
    let status = statuses.iter().find(|s| s.name() == Some(name));
    let state = match status.map(|s| (s.recording(), s.last_status())) {
        None | Some((false, _)) => "not recording",
        // Prowler's "in failure state": the last attempt to record failed.
        Some((true, Some(RecorderStatus::Failure))) => "failing",
        Some((true, _)) => "recording",
    };
    let scope = if all {
        "all resource types"
    } else {
        "some resource types"
    };
    Ok((
        format!("recorder {name}: {scope}, {state}"),
        all && state == "recording",
    ))
}
