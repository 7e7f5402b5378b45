//! `Ctx`: what every resource step may use — the AWS clients, the validated settings, the
//! records of the resources resolved so far, and a way to report status while waiting. The
//! engine passes it through without looking inside.

mod listing;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_ec2::types::AvailabilityZoneState;
use tokio::sync::OnceCell;

use crate::aws::{AwsResultExt, Clients};
use crate::config::Settings;
use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::logical::{Logical, Zone};
use crate::naming::Names;
use crate::state::store::Confirmation;
use crate::state::{Record, StateError};
use crate::tags;
pub(crate) use listing::ListKey;
use listing::{Fetch, Listings};

/// Receives the live status of a step ("pending", "creating") for the progress display.
pub(crate) trait StatusSink: Send + Sync {
    fn status(&self, resource: &str, status: &str);
}

/// Writes the records somewhere durable; called with every change, under the records lock, so
/// writes happen in the order the changes did.
pub(crate) type Persist = Box<dyn Fn(&BTreeMap<String, Record>) -> Result<(), Error> + Send + Sync>;

pub(crate) struct Ctx {
    pub clients: Clients,
    pub settings: Settings,
    records: Mutex<BTreeMap<String, Record>>,
    persist: Option<Persist>,
    zones: OnceCell<Vec<String>>,
    listings: Listings,
    sink: Arc<dyn StatusSink>,
    interrupt: Interrupt,
    /// What a step waits for before its first change to AWS (`before_change`).
    confirmation: Option<Confirmation>,
}

impl Ctx {
    pub(crate) fn new(
        clients: Clients,
        settings: Settings,
        records: BTreeMap<String, Record>,
        sink: Arc<dyn StatusSink>,
        persist: Option<Persist>,
        interrupt: Interrupt,
    ) -> Self {
        Self {
            clients,
            settings,
            records: Mutex::new(records),
            persist,
            zones: OnceCell::new(),
            listings: Listings::default(),
            sink,
            interrupt,
            confirmation: None,
        }
    }

    /// Steps change AWS only once `confirmation` holds: the state they were read against is
    /// then known to be current.
    pub(crate) fn changing_after(mut self, confirmation: Option<Confirmation>) -> Self {
        self.confirmation = confirmation;
        self
    }

    /// Waits, before a step's first change to AWS, until the state it was read against is
    /// known to hold; if it does not, the run stops as after Ctrl-C.
    pub(crate) async fn before_change(&self) -> Result<(), Error> {
        let Some(confirmation) = &self.confirmation else {
            return Ok(());
        };
        confirmation.clone().await.map_err(|detail| {
            self.interrupt.raise();
            Error::State(StateError::Halted(detail))
        })
    }

    pub(crate) fn names(&self) -> &Names {
        &self.settings.names
    }

    /// The full tag set for a resource named `name`.
    pub(crate) fn tags(&self, name: &str) -> BTreeMap<String, String> {
        tags::standard(self.settings.env(), name, &self.settings.user_tags)
    }

    /// Sleeps for `duration`, or less when Ctrl-C arrives: a wait of twenty minutes for RDS
    /// must not outlive the user's wish to stop. The id is in state already; the next run
    /// picks the wait up again.
    pub(crate) async fn pause(&self, duration: std::time::Duration) -> Result<(), Error> {
        let until = tokio::time::Instant::now() + self.scaled(duration);
        loop {
            if self.interrupt.is_raised() {
                return Err(Error::Interrupted);
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep((until - now).min(std::time::Duration::from_millis(200))).await;
        }
    }

    /// A real-AWS duration in this run's time (see `--time-scale`).
    pub(crate) fn scaled(&self, duration: std::time::Duration) -> std::time::Duration {
        duration.mul_f64(self.settings.time_scale)
    }

    /// A batched list shared by every read of its kind in this run (see `listing`); `None`
    /// once something may have changed since it was fetched.
    pub(crate) async fn listed<T: Send + Sync + 'static>(
        &self,
        key: &ListKey<T>,
        fetch: impl Fetch<T>,
    ) -> Result<Option<Arc<T>>, Error> {
        self.listings.get(&self.clients.calls, key, fetch).await
    }

    pub(crate) fn status(&self, resource: Logical, status: &str) {
        self.sink.status(resource.as_str(), status);
    }

    pub(crate) fn record(&self, resource: Logical) -> Option<Record> {
        self.lock().get(resource.as_str()).cloned()
    }

    /// The AWS id of a resolved dependency. Its absence is a bug in a resource's declared
    /// dependencies, so it is reported as such.
    pub(crate) fn id_of(&self, resource: Logical) -> Result<String, Error> {
        self.record(resource).map(|r| r.id).ok_or_else(|| {
            Error::resource(
                resource,
                "needed by a dependent resource but not resolved yet",
            )
        })
    }

    /// The ARN recorded for a resolved dependency.
    pub(crate) fn arn_of(&self, resource: Logical) -> Result<String, Error> {
        self.record(resource)
            .and_then(|r| r.attr("arn").map(str::to_owned))
            .ok_or_else(|| Error::resource(resource, "has no ARN recorded"))
    }

    /// Records a resource's identity and persists it at once: resources call this right after
    /// the mutating call, before a long wait, so a crash mid-wait still knows the id.
    pub(crate) fn set_record(&self, resource: Logical, record: Record) -> Result<(), Error> {
        let mut records = self.lock();
        if records.get(resource.as_str()) == Some(&record) {
            return Ok(());
        }
        records.insert(resource.as_str().to_owned(), record);
        self.persist(&records)
    }

    pub(crate) fn remove_record(&self, resource: Logical) -> Result<(), Error> {
        let mut records = self.lock();
        if records.remove(resource.as_str()).is_none() {
            return Ok(());
        }
        self.persist(&records)
    }

    fn persist(&self, records: &BTreeMap<String, Record>) -> Result<(), Error> {
        self.persist
            .as_ref()
            .map_or(Ok(()), |persist| persist(records))
    }

    pub(crate) fn records(&self) -> BTreeMap<String, Record> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        // A panic while holding this lock cannot leave the map half-written: every mutation is
        // a single insert or remove.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The availability zone for `zone`: the first two *available* zones the region reports,
    /// asked once per run.
    pub(crate) async fn zone(&self, zone: Zone) -> Result<String, Error> {
        let zones = self
            .zones
            .get_or_try_init(|| async {
                let out = self
                    .clients
                    .ec2
                    .describe_availability_zones()
                    .send()
                    .await
                    .op("ec2:DescribeAvailabilityZones")?;
                // Filtered here rather than by server-side filters, which not every endpoint
                // implements: local and wavelength zones are not for a Multi-AZ data tier.
                let mut names: Vec<String> = out
                    .availability_zones()
                    .iter()
                    .filter(|z| z.state() == Some(&AvailabilityZoneState::Available))
                    .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
                    .filter_map(|z| z.zone_name().map(str::to_owned))
                    .collect();
                names.sort();
                if names.len() < 2 {
                    return Err(Error::resource(
                        "availability-zones",
                        format!(
                            "region {} reports {} available zones; the stack needs two",
                            self.clients.region,
                            names.len()
                        ),
                    ));
                }
                Ok(names)
            })
            .await?;
        Ok(zones[zone.index()].clone())
    }
}
