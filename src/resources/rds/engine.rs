//! Which PostgreSQL version RDS runs for `rds.engine_version`, asked of RDS itself
//! (`DescribeDBEngineVersions`), because RDS retires minor versions: a pinned minor stops
//! `CreateDBInstance` with "Cannot find version" once it is gone. A major version (`"16"`)
//! resolves to the region's default minor of that major, else its newest available one; a
//! full version (`"16.8"`) must be one RDS still offers, and matters only when the instance is
//! created (RDS upgrades minors by itself afterwards). The parameter-group family is the one
//! RDS names for the version, not one derived from the version string.

use aws_sdk_rds::types::DbEngineVersion;
use serde_json::Value;

use crate::aws::AwsResultExt;
use crate::context::Ctx;
use crate::error::Error;
use crate::logical::Logical;
use crate::resource::{Change, unchangeable};

const ENGINE: &str = "postgres";

/// A version RDS offers, with the parameter-group family it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EngineVersion {
    pub version: String,
    pub family: String,
}

/// The configured major version (`"16"` for `"16"` and `"16.8"`).
pub(crate) fn configured_major(ctx: &Ctx) -> &str {
    major_of(&ctx.settings.services.rds.engine_version)
}

fn major_of(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// The version a new instance runs: the pinned one, or the major's default.
pub(crate) async fn for_create(ctx: &Ctx, resource: Logical) -> Result<EngineVersion, Error> {
    let requested = &ctx.settings.services.rds.engine_version;
    if !requested.contains('.') {
        return for_major(ctx, resource).await;
    }
    let listed = list(ctx, requested, false).await?;
    if let Some(found) = listed
        .iter()
        .find(|v| v.engine_version() == Some(requested.as_str()) && is_available(v))
    {
        return engine_version(found, resource);
    }
    let major = major_of(requested);
    let offered: Vec<String> = list(ctx, major, false)
        .await?
        .iter()
        .filter(|v| is_available(v))
        .filter_map(|v| v.engine_version().map(str::to_owned))
        .collect();
    Err(Error::resource(
        resource,
        format!(
            "rds.engine_version {requested:?} is not offered by RDS in {} (retired, or never released); {}",
            ctx.clients.region,
            if offered.is_empty() {
                "set a major version RDS offers, like \"16\"".to_owned()
            } else {
                format!(
                    "set {major:?} to follow RDS's default minor, or pin one of {}",
                    offered.join(", ")
                )
            }
        ),
    ))
}

/// The configured major's default version (else its newest available one): what decides the
/// parameter-group family, whatever minor is pinned.
pub(crate) async fn for_major(ctx: &Ctx, resource: Logical) -> Result<EngineVersion, Error> {
    let major = configured_major(ctx);
    let in_major =
        |v: &&DbEngineVersion| v.engine_version().map(major_of) == Some(major) && is_available(v);
    if let Some(default) = list(ctx, major, true).await?.iter().find(in_major) {
        return engine_version(default, resource);
    }
    let all = list(ctx, major, false).await?;
    if let Some(newest) = all
        .iter()
        .filter(in_major)
        .max_by_key(|v| v.engine_version().map(version_key))
    {
        return engine_version(newest, resource);
    }
    Err(Error::resource(
        resource,
        format!(
            "RDS in {} offers no PostgreSQL {major} (rds.engine_version); set a major version it offers (aws rds describe-db-engine-versions --engine postgres)",
            ctx.clients.region
        ),
    ))
}

/// What `plan` says about a resource it would create: the engine version for the instance.
pub(crate) async fn create_note(ctx: &Ctx, resource: &str) -> Option<Result<String, Error>> {
    if resource != Logical::RdsInstance.as_str() {
        return None;
    }
    let requested = &ctx.settings.services.rds.engine_version;
    Some(
        for_create(ctx, Logical::RdsInstance)
            .await
            .map(|v| format!("engine postgres {requested} → {} ({})", v.version, v.family)),
    )
}

/// The one-line refusal of a major-version change between `have` and `want` (majors, or
/// `postgresNN` families): medtech does not run major upgrades, and RDS never downgrades.
/// The refusal of `change` to the engine's major version (or to the family that follows it).
/// A version AWS does not report is unknown, not a different major.
pub(crate) fn refuse_major_change(resource: Logical, change: &Change) -> Error {
    match (
        change.observed.as_ref().and_then(Value::as_str),
        change.desired.as_str(),
    ) {
        (Some(have), Some(want)) => major_change_refusal(resource, have, want),
        _ => unchangeable(resource, change),
    }
}

fn major_change_refusal(resource: Logical, have: &str, want: &str) -> Error {
    let have = have.trim_start_matches(ENGINE);
    let want = want.trim_start_matches(ENGINE);
    let message = if version_key(want) > version_key(have) {
        format!(
            "rds.engine_version {want:?} is a major upgrade from PostgreSQL {have}, which medtech does not run (RDS needs a postgres{want} parameter group in the same modify, and the application a tested upgrade): set rds.engine_version = {have:?}, or upgrade by hand as docs/configuration.md (Engine version) says"
        )
    } else {
        format!(
            "the instance runs PostgreSQL {have} and RDS cannot downgrade it to {want}: set rds.engine_version = {have:?}"
        )
    };
    Error::resource(resource, message)
}

async fn list(ctx: &Ctx, version: &str, default_only: bool) -> Result<Vec<DbEngineVersion>, Error> {
    let listed = ctx
        .clients
        .rds
        .describe_db_engine_versions()
        .engine(ENGINE)
        .engine_version(version)
        .default_only(default_only)
        .into_paginator();
    let versions = listed.items().send().try_collect().await;
    Ok(versions.op("rds:DescribeDBEngineVersions")?)
}

/// Listed without `IncludeAll`, every version is available; the status is checked anyway so
/// that a `deprecated` one is never chosen.
fn is_available(v: &DbEngineVersion) -> bool {
    v.status().is_none_or(|s| s == "available")
}

fn engine_version(v: &DbEngineVersion, resource: Logical) -> Result<EngineVersion, Error> {
    match (v.engine_version(), v.db_parameter_group_family()) {
        (Some(version), Some(family)) => Ok(EngineVersion {
            version: version.to_owned(),
            family: family.to_owned(),
        }),
        _ => Err(Error::resource(
            resource,
            "RDS described a PostgreSQL version without its version or parameter-group family",
        )),
    }
}

/// Numeric order: 16.10 is newer than 16.9.
fn version_key(version: &str) -> Vec<u32> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_number_not_text() {
        assert!(version_key("16.10") > version_key("16.9"));
        assert!(version_key("17") > version_key("16"));
        assert_eq!(major_of("16.8"), "16");
        assert_eq!(major_of("16"), "16");
    }

    #[test]
    fn major_changes_are_refused_in_one_line_naming_the_field() {
        let up = major_change_refusal(Logical::RdsInstance, "postgres16", "postgres17").to_string();
        assert!(up.contains("major upgrade from PostgreSQL 16"), "{up}");
        assert!(up.contains("rds.engine_version = \"16\""), "{up}");
        let down = major_change_refusal(Logical::RdsInstance, "17", "16").to_string();
        assert!(down.contains("cannot downgrade"), "{down}");
        assert!(!up.contains('\n') && !down.contains('\n'));
    }
}
