//! `Ctx`: what every resource step may use — the AWS clients, the validated settings, the
//! records of the resources resolved so far, and a way to report status while waiting. The
//! engine passes it through without looking inside.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_ec2::types::AvailabilityZoneState;
use tokio::sync::OnceCell;

use crate::aws::{AwsResultExt, Clients};
use crate::coalesce::Coalescer;
use crate::config::Settings;
use crate::engine::walk::Interrupt;
use crate::error::Error;
use crate::listing::Listings;
use crate::naming::{Names, Zone};
use crate::state::Record;
use crate::tags;

/// Waiters polling within this long of a shared poll (in real-AWS time) take its answer.
const SHARED_POLL_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// Receives the live status of a step ("pending", "creating") for the progress display.
pub trait StatusSink: Send + Sync {
    fn status(&self, resource: &str, status: &str);
}

/// Writes the records somewhere durable; called with every change, under the records lock, so
/// writes happen in the order the changes did.
pub type Persist = Box<dyn Fn(&BTreeMap<String, Record>) -> Result<(), Error> + Send + Sync>;

pub struct Ctx {
    pub clients: Clients,
    pub settings: Settings,
    records: Mutex<BTreeMap<String, Record>>,
    persist: Option<Persist>,
    zones: OnceCell<Vec<String>>,
    listings: Listings,
    polls: Coalescer,
    sink: Arc<dyn StatusSink>,
    interrupt: Interrupt,
}

impl Ctx {
    pub fn new(
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
            polls: Coalescer::default(),
            sink,
            interrupt,
        }
    }

    pub fn names(&self) -> &Names {
        &self.settings.names
    }

    /// The full tag set for a resource named `name`.
    pub fn tags(&self, name: &str) -> BTreeMap<String, String> {
        tags::standard(self.settings.env(), name, &self.settings.user_tags)
    }

    /// Sleeps for `duration`, or less when Ctrl-C arrives: a wait of twenty minutes for RDS
    /// must not outlive the user's wish to stop. The id is in state already; the next run
    /// picks the wait up again.
    pub async fn pause(&self, duration: std::time::Duration) -> Result<(), Error> {
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
    pub fn scaled(&self, duration: std::time::Duration) -> std::time::Duration {
        duration.mul_f64(self.settings.time_scale)
    }

    /// A batched list shared by every read of its kind in this run (see `listing`); `None`
    /// once something may have changed since it was fetched.
    pub async fn listed<T, F, Fut>(
        &self,
        key: &'static str,
        fetch: F,
    ) -> Result<Option<Arc<T>>, Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.listings.get(&self.clients.calls, key, fetch).await
    }

    /// For the waiter of `id`: a poll's answer shared with every waiter of the `ids` it asked
    /// for that polls under `key` within `SHARED_POLL_WINDOW` of it: one describe call serving
    /// several waiters (see `coalesce`).
    pub async fn shared_poll<T, F, Fut>(
        &self,
        key: &'static str,
        id: &str,
        ids: Vec<String>,
        fetch: F,
    ) -> Result<Arc<T>, crate::aws::AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(Vec<String>) -> Fut,
        Fut: Future<Output = Result<T, crate::aws::AwsError>> + Send + 'static,
    {
        let window = self.scaled(SHARED_POLL_WINDOW);
        self.polls.get(key, window, id, ids, fetch).await
    }

    /// A wait of `resource` polls next after `pause` (in real-AWS time), or, with `None`, is
    /// over: shared polls ask for the waiters about to poll.
    pub fn next_poll(&self, resource: &str, pause: Option<std::time::Duration>) {
        let at = pause.map(|p| tokio::time::Instant::now() + self.scaled(p));
        self.polls.next_poll(resource, at);
    }

    /// Whether a wait of `resource` polls within a shared poll's window.
    pub fn polls_soon(&self, resource: &str) -> bool {
        self.polls
            .polls_within(resource, self.scaled(SHARED_POLL_WINDOW))
    }

    pub fn status(&self, resource: &str, status: &str) {
        self.sink.status(resource, status);
    }

    pub fn record(&self, resource: &str) -> Option<Record> {
        self.lock().get(resource).cloned()
    }

    /// The AWS id of a resolved dependency. Its absence is a bug in a resource's declared
    /// dependencies, so it is reported as such.
    pub fn id_of(&self, resource: &str) -> Result<String, Error> {
        self.record(resource).map(|r| r.id).ok_or_else(|| {
            Error::resource(
                resource,
                "needed by a dependent resource but not resolved yet",
            )
        })
    }

    /// The ARN recorded for a resolved dependency.
    pub fn arn_of(&self, resource: &str) -> Result<String, Error> {
        self.record(resource)
            .and_then(|r| r.attr("arn").map(str::to_owned))
            .ok_or_else(|| Error::resource(resource, "has no ARN recorded"))
    }

    /// Records a resource's identity and persists it at once: resources call this right after
    /// the mutating call, before a long wait, so a crash mid-wait still knows the id.
    pub fn set_record(&self, resource: &str, record: Record) -> Result<(), Error> {
        let mut records = self.lock();
        if records.get(resource) == Some(&record) {
            return Ok(());
        }
        records.insert(resource.to_owned(), record);
        self.persist(&records)
    }

    pub fn remove_record(&self, resource: &str) -> Result<(), Error> {
        let mut records = self.lock();
        if records.remove(resource).is_none() {
            return Ok(());
        }
        self.persist(&records)
    }

    fn persist(&self, records: &BTreeMap<String, Record>) -> Result<(), Error> {
        self.persist
            .as_ref()
            .map_or(Ok(()), |persist| persist(records))
    }

    pub fn records(&self) -> BTreeMap<String, Record> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        // A panic while holding this lock cannot leave the map half-written: every mutation is
        // a single insert or remove.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The availability zone for `zone`: the first two *available* zones the region reports,
    /// asked once per run.
    pub async fn zone(&self, zone: Zone) -> Result<String, Error> {
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
