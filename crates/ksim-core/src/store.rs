//! The etcd-like store every Kubernetes write goes through: a raft leader
//! pipeline with queueing, batching, quorum commit and a serial apply, plus the
//! MVCC size accounting behind etcd's backend quota.
//!
//! The commit path of one write, in order:
//! 1. Leader CPU: one FIFO server; each write costs
//!    `leader_cpu_per_write_us + bytes × leader_cpu_per_byte_ns`. This caps
//!    throughput (about 45,000 writes/s for 256-byte values).
//! 2. Batching: at most one batch is being persisted and replicated at a time.
//!    The next batch leaves when the previous one has committed (or at once if
//!    the pipeline is idle) and holds every write whose CPU work finished by
//!    then, up to `max_batch_writes`.
//! 3. Commit: the leader's WAL fsync runs in parallel with replication; the
//!    batch commits when the leader's fsync and the (quorum − 1)-th fastest
//!    follower ack (network RTT + follower fsync) are both done. The batch's
//!    bytes add WAL write and network transfer time.
//! 4. Apply: one serial applier, `apply_per_write_us` per write, in commit
//!    order. etcd answers the client once its write is applied.
//!
//! [`Store::submit`] answers each write's acknowledgement time at once, with
//! no per-write event: the batch a write joins is known when it is submitted
//! (its departure time is fixed when the batch opens), and a write's commit
//! counts the batch's bytes up to and including its own, as if the WAL were
//! flushed in entry order.
//!
//! [`Store::submit_background`] takes a whole stream of fire-and-forget writes
//! (node leases, node status) in one call. The leader CPU and the applier see
//! it as a fluid: work arriving at a constant rate over the stream's interval,
//! with a backlog that grows while the rate exceeds the server and drains
//! otherwise, advanced lazily from one call to the next. Discrete writes wait
//! behind that backlog plus the mean M/D/1 wait the background causes, and add
//! their own work to it. See `docs/models/control-plane.md`.

pub mod bench;

use crate::distribution::{Distribution, DistributionError};
use crate::histogram::LatencyHistogram;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime, NANOS_PER_MICRO, NANOS_PER_SEC};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Parameters of the store. Defaults reproduce etcd's published write
/// benchmark (3 members, 256-byte values) within a few percent; see
/// `docs/models/control-plane.md` for the source of each value.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreConfig {
    /// Raft members, leader included.
    pub members: u32,
    /// Members (leader included) that must have the entry durable to commit.
    pub quorum: u32,
    /// Writes carried by one raft batch at most.
    pub max_batch_writes: u32,
    /// Leader CPU per write (request handling, marshalling, proposing).
    pub leader_cpu_per_write_us: f64,
    /// Leader CPU per byte of the write's value and overhead.
    pub leader_cpu_per_byte_ns: f64,
    /// WAL fdatasync time of one batch, leader and followers, in nanoseconds.
    pub wal_fsync_ns: Distribution,
    /// Sequential WAL write bandwidth; the batch's bytes take this long before the fsync.
    pub wal_write_bytes_per_s: f64,
    /// Leader-to-follower round trip, in nanoseconds.
    pub network_rtt_ns: Distribution,
    /// Replication bandwidth per follower.
    pub network_bytes_per_s: f64,
    /// Backend (boltdb) apply cost per write, on one serial applier.
    pub apply_per_write_us: f64,
    /// Bytes a write adds beyond its value: key, revision, raft and MVCC headers.
    pub overhead_bytes_per_write: u64,
    /// Largest accepted value (etcd's max request size).
    pub max_request_bytes: u64,
    /// Backend quota; writes that would grow the database past it are refused.
    pub quota_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            members: 3,
            quorum: 2,
            max_batch_writes: 1_000,
            leader_cpu_per_write_us: 20.0,
            leader_cpu_per_byte_ns: 8.0,
            wal_fsync_ns: Distribution::LogNormal {
                median: 1_200_000.0,
                sigma: 0.35,
            },
            wal_write_bytes_per_s: 200e6,
            network_rtt_ns: Distribution::LogNormal {
                median: 350_000.0,
                sigma: 0.3,
            },
            network_bytes_per_s: 125e6,
            apply_per_write_us: 20.0,
            overhead_bytes_per_write: 64,
            max_request_bytes: 1_572_864,
            quota_bytes: 2 << 30,
        }
    }
}

/// Why a [`StoreConfig`] was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreConfigError {
    #[error("members must be at least 1")]
    NoMembers,
    #[error("quorum {quorum} must be between 1 and the number of members ({members})")]
    BadQuorum { quorum: u32, members: u32 },
    #[error("max_batch_writes must be at least 1")]
    ZeroBatch,
    #[error("{field} must be finite and not negative, got {value}")]
    BadCost { field: &'static str, value: f64 },
    #[error("{field} must be finite and above zero, got {value}")]
    BadBandwidth { field: &'static str, value: f64 },
    // Not a `source`: the message already holds it (printed once in a chain).
    #[error("{field}: {problem}")]
    BadDistribution {
        field: &'static str,
        problem: DistributionError,
    },
    #[error("quota_bytes must be above zero")]
    ZeroQuota,
}

impl StoreConfig {
    /// Checks every parameter; the first problem found is returned.
    pub fn check(&self) -> Result<(), StoreConfigError> {
        if self.members == 0 {
            return Err(StoreConfigError::NoMembers);
        }
        if self.quorum == 0 || self.quorum > self.members {
            return Err(StoreConfigError::BadQuorum {
                quorum: self.quorum,
                members: self.members,
            });
        }
        if self.max_batch_writes == 0 {
            return Err(StoreConfigError::ZeroBatch);
        }
        check_cost("leader_cpu_per_write_us", self.leader_cpu_per_write_us)?;
        check_cost("leader_cpu_per_byte_ns", self.leader_cpu_per_byte_ns)?;
        check_cost("apply_per_write_us", self.apply_per_write_us)?;
        check_bandwidth("wal_write_bytes_per_s", self.wal_write_bytes_per_s)?;
        check_bandwidth("network_bytes_per_s", self.network_bytes_per_s)?;
        check_distribution("wal_fsync_ns", &self.wal_fsync_ns)?;
        check_distribution("network_rtt_ns", &self.network_rtt_ns)?;
        if self.quota_bytes == 0 {
            return Err(StoreConfigError::ZeroQuota);
        }
        Ok(())
    }
}

fn check_cost(field: &'static str, value: f64) -> Result<(), StoreConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(StoreConfigError::BadCost { field, value })
    }
}

fn check_bandwidth(field: &'static str, value: f64) -> Result<(), StoreConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(StoreConfigError::BadBandwidth { field, value })
    }
}

/// The variants are public, so a distribution may not have gone through its
/// validating constructor; rebuilding it through that constructor checks it.
fn check_distribution(field: &'static str, d: &Distribution) -> Result<(), StoreConfigError> {
    let rebuilt = match d {
        Distribution::Constant(v) => Distribution::constant(*v),
        Distribution::Uniform { min, max } => Distribution::uniform(*min, *max),
        Distribution::Exponential { mean } => Distribution::exponential(*mean),
        Distribution::LogNormal { median, sigma } => Distribution::log_normal(*median, *sigma),
        Distribution::Empirical {
            values,
            cumulative_weights,
        } => {
            let mut previous = 0.0;
            let weights = cumulative_weights
                .iter()
                .map(|&c| {
                    let w = c - previous;
                    previous = c;
                    w
                })
                .collect();
            Distribution::empirical(values.clone(), weights)
        }
    };
    rebuilt
        .map(|_| ())
        .map_err(|problem| StoreConfigError::BadDistribution { field, problem })
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// etcd's NOSPACE alarm: the backend file would reach the quota.
    #[error("etcdserver: mvcc: database space exceeded (backend {size_bytes} bytes, quota {quota_bytes})")]
    NoSpace { size_bytes: u64, quota_bytes: u64 },
    #[error("etcdserver: request is too large ({bytes} bytes, limit {limit_bytes})")]
    TooLarge { bytes: u64, limit_bytes: u64 },
    #[error("write submitted at {at}, before the previous submission at {last}")]
    OutOfOrder { at: SimTime, last: SimTime },
}

/// A write the store accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The MVCC revision the write created (1 for the first write).
    pub revision: u64,
    /// When the write is committed and applied, and etcd answers the client.
    pub at: SimTime,
}

/// What became of the writes of one [`Store::submit_background`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundOutcome {
    pub accepted: u64,
    /// Refused: NOSPACE (quota reached or alarm raised) or too large.
    pub rejected: u64,
    /// Mean submission-to-acknowledgement latency of the accepted writes.
    pub mean_latency: Option<SimDuration>,
}

/// The store over one interval, closed by [`Store::take_interval`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoreInterval {
    /// Accepted writes that arrived in the interval; a background write
    /// arrives at its own point of its stream's spread.
    pub writes: u64,
    /// Their bytes, overhead included.
    pub bytes: u64,
    /// Writes refused by calls made in the interval.
    pub rejected: u64,
    /// Latency quantiles of the writes submitted in the interval.
    pub latency_p50: Option<SimDuration>,
    pub latency_p99: Option<SimDuration>,
    /// Writes submitted but not yet acknowledged at the interval's end.
    pub queue_depth: u64,
    /// Backend file size at the end, as `etcd_mvcc_db_total_size_in_bytes`.
    pub db_size_bytes: u64,
    pub nospace_alarm: bool,
    /// Work offered to each server over the interval's length (1.0 = saturated).
    pub leader_cpu_utilization: f64,
    pub apply_utilization: f64,
    /// Backend file size over the quota.
    pub quota_utilization: f64,
}

/// The batch that leaves next: its departure time and the random parts of
/// its commit, drawn when it opens.
#[derive(Clone, Copy, Debug)]
struct OpenBatch {
    departs: SimTime,
    writes: u32,
    /// Bytes of its writes, and of the background writes it carries.
    bytes: u64,
    leader_fsync_ns: u64,
    /// Fixed part of the (quorum − 1)-th fastest follower ack; None with quorum 1.
    follower_ack_ns: Option<u64>,
    /// Commit time of the batch with the bytes it holds so far.
    commits: SimTime,
}

/// Most of an M/D/1 queue's wait: at this utilization it is 49.5 service
/// times. Beyond it the fluid backlog carries the queueing.
const MD1_UTILIZATION_CAP: f64 = 0.99;

/// Latency points recorded per straight piece of the CPU backlog over a
/// background stream.
const POINTS_PER_PIECE: u64 = 8;

/// Background writes spread evenly over `[from, until)`: write `i` arrives at
/// `from + i × (until − from) / writes`.
#[derive(Clone, Debug)]
struct Stream {
    from: SimTime,
    until: SimTime,
    writes: u64,
    bytes_per_write: u64,
    cpu_ns: f64,
    apply_ns: f64,
    /// Writes already counted into a closed interval.
    counted: u64,
}

impl Stream {
    fn writes_per_ns(&self) -> f64 {
        self.writes as f64 / (self.until - self.from).0 as f64
    }

    fn arrived_before(&self, t: SimTime) -> u64 {
        let span = u128::from((self.until - self.from).0);
        let elapsed = u128::from((t - self.from).0);
        (elapsed * u128::from(self.writes))
            .div_ceil(span)
            .min(u128::from(self.writes)) as u64
    }
}

/// Arrival rates summed over streams, per ns.
#[derive(Clone, Copy, Debug, Default)]
struct Rates {
    writes: f64,
    bytes: f64,
    /// Leader CPU work per ns (the utilization), and Σ rate × cost².
    cpu: f64,
    cpu_sq: f64,
    apply: f64,
    apply_sq: f64,
}

impl Rates {
    /// Streams whose writes arrive at `t`.
    fn at(streams: &[Stream], t: SimTime) -> Self {
        Self::sum(streams.iter().filter(|s| s.from <= t && t < s.until))
    }

    /// Streams whose writes arrived just before `t`.
    fn before(streams: &[Stream], t: SimTime) -> Self {
        Self::sum(streams.iter().filter(|s| s.from < t && t <= s.until))
    }

    fn sum<'a>(streams: impl Iterator<Item = &'a Stream>) -> Self {
        let mut r = Rates::default();
        for s in streams {
            let rate = s.writes_per_ns();
            r.writes += rate;
            r.bytes += rate * s.bytes_per_write as f64;
            r.cpu += rate * s.cpu_ns;
            r.cpu_sq += rate * s.cpu_ns * s.cpu_ns;
            r.apply += rate * s.apply_ns;
            r.apply_sq += rate * s.apply_ns * s.apply_ns;
        }
        r
    }
}

/// Background writes and their apply work held in the leader CPU's backlog,
/// passed on to the applier in proportion as the backlog drains.
#[derive(Clone, Copy, Debug, Default)]
struct Carried {
    writes: f64,
    apply_ns: f64,
}

impl Carried {
    fn scaled(self, k: f64) -> Self {
        Carried {
            writes: self.writes * k,
            apply_ns: self.apply_ns * k,
        }
    }
}

/// Work offered to the two servers, in ns.
#[derive(Clone, Copy, Debug, Default)]
struct Offered {
    cpu_ns: f64,
    apply_ns: f64,
}

impl Offered {
    fn add(&mut self, other: Offered) {
        self.cpu_ns += other.cpu_ns;
        self.apply_ns += other.apply_ns;
    }
}

/// The leader CPU and the applier as fluid queues: each backlog (ns of work
/// not yet done, background and discrete) at time `at`. The applier is fed by
/// what the CPU finishes, so a saturated CPU throttles it.
#[derive(Clone, Copy, Debug, Default)]
struct Fluid {
    at: SimTime,
    cpu_ns: f64,
    cpu_carried: Carried,
    apply_ns: f64,
    /// Background writes in the applier's backlog.
    apply_writes: f64,
}

impl Fluid {
    /// Moves to `to` through the rate changes of `streams`; returns the work offered.
    fn advance(&mut self, streams: &[Stream], to: SimTime) -> Offered {
        self.advance_noting_kinks(streams, to, &mut |_| {})
    }

    /// [`Fluid::advance`], telling `kink` each time before `to` at which the
    /// CPU backlog changes slope (a rate change, or the backlog emptying).
    fn advance_noting_kinks(
        &mut self,
        streams: &[Stream],
        to: SimTime,
        kink: &mut impl FnMut(SimTime),
    ) -> Offered {
        let mut offered = Offered::default();
        while self.at < to {
            let next = streams
                .iter()
                .flat_map(|s| [s.from, s.until])
                .filter(|&t| t > self.at)
                .fold(to, SimTime::min);
            let rates = Rates::at(streams, self.at);
            let dt_ns = (next - self.at).0 as f64;
            if let Some(empties_after) = self.cpu_empties_within(dt_ns, &rates) {
                kink(self.at + nanos(empties_after));
            }
            offered.add(self.step(dt_ns, &rates));
            self.at = next;
            if next < to {
                kink(next);
            }
        }
        offered
    }

    /// When within the next `dt_ns` the CPU backlog runs out, if it does.
    fn cpu_empties_within(&self, dt_ns: f64, r: &Rates) -> Option<f64> {
        if self.cpu_ns > 0.0 && r.cpu < 1.0 {
            Some(self.cpu_ns / (1.0 - r.cpu)).filter(|&after| after < dt_ns)
        } else {
            None
        }
    }

    /// `dt_ns` at constant arrival rates. When the CPU backlog empties part-way
    /// its output rate drops, so the stretch is split there.
    fn step(&mut self, dt_ns: f64, r: &Rates) -> Offered {
        let Some(empties_after) = self.cpu_empties_within(dt_ns, r) else {
            return self.flow(dt_ns, r);
        };
        let mut offered = self.flow(empties_after, r);
        self.cpu_ns = 0.0;
        self.cpu_carried = Carried::default();
        offered.add(self.flow(dt_ns - empties_after, r));
        offered
    }

    /// `dt_ns` during which the CPU is either busy throughout or idle throughout.
    fn flow(&mut self, dt_ns: f64, r: &Rates) -> Offered {
        let arrived_ns = r.cpu * dt_ns;
        let carried = Carried {
            writes: self.cpu_carried.writes + r.writes * dt_ns,
            apply_ns: self.cpu_carried.apply_ns + r.apply * dt_ns,
        };
        let done = if self.cpu_ns > 0.0 || r.cpu >= 1.0 {
            let stock = self.cpu_ns + arrived_ns;
            self.cpu_ns = (stock - dt_ns).max(0.0);
            self.cpu_carried = carried.scaled(kept_share(stock, self.cpu_ns));
            Carried {
                writes: carried.writes - self.cpu_carried.writes,
                apply_ns: carried.apply_ns - self.cpu_carried.apply_ns,
            }
        } else {
            carried
        };
        let stock = self.apply_ns + done.apply_ns;
        self.apply_ns = (stock - dt_ns).max(0.0);
        self.apply_writes = (self.apply_writes + done.writes) * kept_share(stock, self.apply_ns);
        Offered {
            cpu_ns: arrived_ns,
            apply_ns: done.apply_ns,
        }
    }
}

/// The share of a backlog's contents still there after it went from `stock` to `left`.
fn kept_share(stock: f64, left: f64) -> f64 {
    if stock > 0.0 {
        left / stock
    } else {
        0.0
    }
}

/// Mean delays a write arriving at one instant meets beyond the fluid
/// backlogs, caused by the background writes arriving then.
#[derive(Clone, Copy, Debug, Default)]
struct Stages {
    /// M/D/1 (Pollaczek–Khinchine) waits at the leader CPU and the applier.
    cpu_wait_ns: f64,
    apply_wait_ns: f64,
    /// Mean wait for the raft batch in flight, and a batch's mean commit.
    pipeline_wait_ns: f64,
    commit_ns: f64,
    /// Background writes leaving the leader CPU, per ns.
    out_writes_per_ns: f64,
    /// Background writes being applied (the applier's busy share).
    apply_busy: f64,
    /// Background bytes a raft batch carries.
    batch_bytes: f64,
}

/// Mean wait of an M/G/1 queue, `Σ rate × cost² / (2 (1 − ρ))`, with ρ
/// capped so the wait stays finite; applied above saturation too, so the
/// delay is continuous as ρ crosses 1.
fn md1_wait_ns(rate_cost_sq: f64, utilization: f64) -> f64 {
    rate_cost_sq / (2.0 * (1.0 - utilization.min(MD1_UTILIZATION_CAP)))
}

/// Interval statistics accumulated until [`Store::take_interval`].
#[derive(Clone, Debug)]
struct Interval {
    start: SimTime,
    writes: u64,
    bytes: u64,
    rejected: u64,
    offered: Offered,
    latency: LatencyHistogram,
}

impl Interval {
    fn new(start: SimTime) -> Self {
        Interval {
            start,
            writes: 0,
            bytes: 0,
            rejected: 0,
            offered: Offered::default(),
            latency: LatencyHistogram::default(),
        }
    }

    fn reset(&mut self, start: SimTime) {
        self.start = start;
        self.writes = 0;
        self.bytes = 0;
        self.rejected = 0;
        self.offered = Offered::default();
        self.latency.clear();
    }
}

/// The state of the apiserver's compactor at its previous run.
#[derive(Clone, Copy, Debug)]
struct CompactionMark {
    live_bytes: u64,
    bytes_written: u64,
}

/// One store: the leader's pipeline state, counters and MVCC size.
#[derive(Clone, Debug)]
pub struct Store {
    config: StoreConfig,
    rng: SimRng,
    last_submit: SimTime,
    /// When the discrete writes alone would leave the leader CPU and the applier.
    cpu_free: SimTime,
    apply_free: SimTime,
    /// Commit time of the last closed batch: when the pipeline frees.
    pipeline_free: SimTime,
    open: Option<OpenBatch>,
    /// Acknowledgement times of writes not yet answered (earliest first).
    in_flight: BinaryHeap<Reverse<SimTime>>,
    follower_scratch: Vec<u64>,
    /// Background streams the fluid or the interval counts have not passed.
    streams: Vec<Stream>,
    fluid: Fluid,
    /// Mean commit of a one-write batch without its bytes, and per byte.
    commit_base_ns: f64,
    commit_ns_per_byte: f64,
    revision: u64,
    writes: u64,
    bytes_written: u64,
    batches: u64,
    /// Raft batches the background writes filled (an estimate).
    background_batches: f64,
    rejected: u64,
    /// boltdb pages holding data, and the file's size (their high-water mark).
    db_in_use_bytes: u64,
    db_file_bytes: u64,
    last_compaction: Option<CompactionMark>,
    no_space_alarm: bool,
    latency: LatencyHistogram,
    interval: Interval,
}

impl Store {
    /// A store with an empty database. The rng drives fsync and RTT draws.
    pub fn new(config: StoreConfig, rng: SimRng) -> Result<Self, StoreConfigError> {
        config.check()?;
        let followers = config.members as usize - 1;
        let wal_ns_per_byte = NANOS_PER_SEC as f64 / config.wal_write_bytes_per_s;
        // With followers, the slower path is the follower's: RTT + fsync and
        // the bytes written and sent.
        let (commit_base_ns, commit_ns_per_byte) = if config.quorum > 1 {
            (
                config.network_rtt_ns.mean() + config.wal_fsync_ns.mean(),
                wal_ns_per_byte + NANOS_PER_SEC as f64 / config.network_bytes_per_s,
            )
        } else {
            (config.wal_fsync_ns.mean(), wal_ns_per_byte)
        };
        Ok(Store {
            config,
            rng,
            last_submit: SimTime::ZERO,
            cpu_free: SimTime::ZERO,
            apply_free: SimTime::ZERO,
            pipeline_free: SimTime::ZERO,
            open: None,
            in_flight: BinaryHeap::new(),
            follower_scratch: Vec::with_capacity(followers),
            streams: Vec::new(),
            fluid: Fluid::default(),
            commit_base_ns,
            commit_ns_per_byte,
            revision: 0,
            writes: 0,
            bytes_written: 0,
            batches: 0,
            background_batches: 0.0,
            rejected: 0,
            db_in_use_bytes: 0,
            db_file_bytes: 0,
            last_compaction: None,
            no_space_alarm: false,
            latency: LatencyHistogram::default(),
            interval: Interval::new(SimTime::ZERO),
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Submits a write of `value_bytes` at `now` (non-decreasing across calls,
    /// background calls included) and returns when it is acknowledged.
    /// Refused writes change nothing but the rejection count (and raise the
    /// NOSPACE alarm).
    pub fn submit(&mut self, now: SimTime, value_bytes: u32) -> Result<Ack, StoreError> {
        if now < self.last_submit {
            return Err(StoreError::OutOfOrder {
                at: now,
                last: self.last_submit,
            });
        }
        self.last_submit = now;
        let value_bytes = u64::from(value_bytes);
        if value_bytes > self.config.max_request_bytes {
            self.count_rejected(1);
            return Err(StoreError::TooLarge {
                bytes: value_bytes,
                limit_bytes: self.config.max_request_bytes,
            });
        }
        let bytes = value_bytes + self.config.overhead_bytes_per_write;
        if self.writes_within_quota(1, bytes) == 0 {
            self.no_space_alarm = true;
            self.count_rejected(1);
            return Err(StoreError::NoSpace {
                size_bytes: self.db_file_bytes,
                quota_bytes: self.config.quota_bytes,
            });
        }

        self.advance_to(now);
        let stages = self.stages(&Rates::at(&self.streams, now));
        let cpu_cost = self.cpu_cost(bytes);
        let cpu_done =
            queue_end(now, self.cpu_free, self.fluid.cpu_ns, stages.cpu_wait_ns) + cpu_cost;
        self.cpu_free = now.max(self.cpu_free) + cpu_cost;
        self.fluid.cpu_ns += cpu_cost.0 as f64;

        let committed = self.join_batch(
            cpu_done,
            bytes,
            nanos(stages.pipeline_wait_ns),
            stages.batch_bytes.round() as u64,
        );
        let apply_cost = micros(self.config.apply_per_write_us);
        // The discrete chain orders discrete writes exactly; the fluid
        // backlog (which holds them too) adds the background's.
        let apply_backlog_ns = self.projected(committed).apply_ns;
        let applied = queue_end(
            committed,
            self.apply_free,
            apply_backlog_ns,
            stages.apply_wait_ns,
        ) + apply_cost;
        self.apply_free = committed.max(self.apply_free) + apply_cost;
        self.fluid.apply_ns += apply_cost.0 as f64;

        self.grow(1, bytes);
        self.interval.writes += 1;
        self.interval.bytes += bytes;
        self.interval.offered.add(Offered {
            cpu_ns: cpu_cost.0 as f64,
            apply_ns: apply_cost.0 as f64,
        });
        self.in_flight.push(Reverse(applied));
        self.record_latency(applied - now, 1);
        Ok(Ack {
            revision: self.revision,
            at: applied,
        })
    }

    /// Submits `writes` fire-and-forget writes of `value_bytes`, spread evenly
    /// over `[from, until)`, in one call. `from` must not precede the previous
    /// submission (if it does, the spread is shifted to start there); an
    /// `until` not after `from` makes the writes arrive within 1 ns.
    ///
    /// Revisions, counters and sizes are updated at once for every accepted
    /// write. If the quota would be reached part-way, the writes that fit are
    /// accepted (the first ones) and the rest refused with the NOSPACE alarm
    /// raised; while the alarm is raised all are refused. Cost: O(streams)
    /// per call, independent of `writes`.
    pub fn submit_background(
        &mut self,
        from: SimTime,
        until: SimTime,
        writes: u64,
        value_bytes: u32,
    ) -> BackgroundOutcome {
        // A late start shifts the whole spread, keeping its rate.
        let shift = self.last_submit.saturating_since(from);
        let (from, until) = (from + shift, until.max(from) + shift);
        self.last_submit = from;
        self.advance_to(from);
        let value_bytes = u64::from(value_bytes);
        let accepted = if value_bytes > self.config.max_request_bytes {
            0
        } else {
            let bytes = value_bytes + self.config.overhead_bytes_per_write;
            let accepted = self.writes_within_quota(writes, bytes);
            if accepted < writes {
                self.no_space_alarm = true;
            }
            accepted
        };
        let rejected = writes - accepted;
        self.count_rejected(rejected);
        if accepted == 0 {
            return BackgroundOutcome {
                accepted,
                rejected,
                mean_latency: None,
            };
        }

        let bytes = value_bytes + self.config.overhead_bytes_per_write;
        self.grow(accepted, bytes);
        let span = mul_div((until - from).0, accepted, writes).max(1);
        let stream = Stream {
            from,
            until: from + SimDuration(span),
            writes: accepted,
            bytes_per_write: bytes,
            cpu_ns: self.cpu_cost(bytes).0 as f64,
            apply_ns: micros(self.config.apply_per_write_us).0 as f64,
            counted: 0,
        };
        self.streams.push(stream.clone());
        let stages = self.stages(&Rates::at(&self.streams, from));
        let writes_per_batch = (stages.out_writes_per_ns * stages.commit_ns)
            .clamp(1.0, f64::from(self.config.max_batch_writes));
        self.background_batches += accepted as f64 / writes_per_batch;
        BackgroundOutcome {
            accepted,
            rejected,
            mean_latency: Some(self.record_background_latency(&stream)),
        }
    }

    /// Closes the interval since the previous call (or the start) at `now`
    /// and returns its statistics; the next interval starts at `now`. `now`
    /// is raised to the last submission if earlier, and later submissions
    /// should not precede it.
    pub fn take_interval(&mut self, now: SimTime) -> StoreInterval {
        let now = now.max(self.last_submit).max(self.fluid.at);
        let rates_before = Rates::before(&self.streams, now);
        self.advance_to(now);
        for stream in &mut self.streams {
            let arrived = stream.arrived_before(now);
            let new = arrived - stream.counted;
            stream.counted = arrived;
            self.interval.writes += new;
            self.interval.bytes += new * stream.bytes_per_write;
        }
        let queue_depth = self.in_flight_at(now) as u64 + self.background_in_flight(&rates_before);
        let length_ns = (now - self.interval.start).0 as f64;
        let per_length = |work_ns: f64| {
            if length_ns > 0.0 {
                work_ns / length_ns
            } else {
                0.0
            }
        };
        let interval = StoreInterval {
            writes: self.interval.writes,
            bytes: self.interval.bytes,
            rejected: self.interval.rejected,
            latency_p50: self.interval.latency.quantile(0.5),
            latency_p99: self.interval.latency.quantile(0.99),
            queue_depth,
            db_size_bytes: self.db_file_bytes,
            nospace_alarm: self.no_space_alarm,
            leader_cpu_utilization: per_length(self.interval.offered.cpu_ns),
            apply_utilization: per_length(self.interval.offered.apply_ns),
            quota_utilization: self.db_file_bytes as f64 / self.config.quota_bytes as f64,
        };
        self.interval.reset(now);
        interval
    }

    /// The apiserver's periodic compaction (every 5 minutes): each run
    /// compacts at the revision the previous run recorded, so history older
    /// than the previous run is dropped; the first run only records (as
    /// kube-apiserver's compactor does not compact on bootstrap). What stays
    /// is the objects that existed at the previous run (`live_bytes` then)
    /// plus every write since. Freed pages are reused but the backend file
    /// does not shrink (that takes a defragmentation), and the NOSPACE alarm
    /// stays raised.
    pub fn compact_history(&mut self, live_bytes: u64) {
        if let Some(previous) = self.last_compaction {
            let retained = previous
                .live_bytes
                .saturating_add(self.bytes_written - previous.bytes_written);
            self.db_in_use_bytes = self.db_in_use_bytes.min(retained);
        }
        self.last_compaction = Some(CompactionMark {
            live_bytes,
            bytes_written: self.bytes_written,
        });
    }

    /// Defragmentation followed by `etcdctl alarm disarm`, as an operator
    /// recovering from NOSPACE does: the backend file shrinks to the pages in
    /// use and the alarm is cleared (the next write raises it again if the
    /// file is still too large). Returns the new file size.
    pub fn defragment_and_disarm(&mut self) -> u64 {
        self.db_file_bytes = self.db_in_use_bytes;
        self.no_space_alarm = false;
        self.db_file_bytes
    }

    /// Discrete writes submitted but not yet acknowledged at `now` (the queue
    /// depth without background writes). `now` must not go back in time
    /// across calls.
    pub fn in_flight_at(&mut self, now: SimTime) -> usize {
        while self.in_flight.peek().is_some_and(|&Reverse(t)| t <= now) {
            self.in_flight.pop();
        }
        self.in_flight.len()
    }

    /// Every write in flight at `now`, discrete and background: what an
    /// apiserver holds in-flight slots for. `now` must not go back in time.
    pub fn writes_in_flight(&mut self, now: SimTime) -> u64 {
        let now = now.max(self.last_submit).max(self.fluid.at);
        let rates = Rates::before(&self.streams, now);
        self.advance_to(now);
        self.in_flight_at(now) as u64 + self.background_in_flight(&rates)
    }

    /// Writes of `value_bytes` the store's slower server (leader CPU or
    /// applier) can complete per second.
    pub fn capacity_writes_per_s(&self, value_bytes: u32) -> f64 {
        let bytes = u64::from(value_bytes) + self.config.overhead_bytes_per_write;
        let cpu_ns = self.cpu_cost(bytes).0 as f64;
        let apply_ns = self.config.apply_per_write_us * NANOS_PER_MICRO as f64;
        NANOS_PER_SEC as f64 / cpu_ns.max(apply_ns).max(1.0)
    }

    /// The latest revision (0 before the first write).
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// Accepted writes, background included.
    pub fn writes(&self) -> u64 {
        self.writes
    }
    /// Bytes of accepted writes, overhead included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
    /// Raft batches that carried at least one write; the background's share
    /// is estimated from its writes per batch.
    pub fn batches(&self) -> u64 {
        self.batches + u64::from(self.open.is_some()) + self.background_batches.round() as u64
    }
    /// Writes refused (NOSPACE or too large).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
    /// The backend file size: what `etcd_mvcc_db_total_size_in_bytes`
    /// reports and the quota is checked against.
    pub fn db_size_bytes(&self) -> u64 {
        self.db_file_bytes
    }
    /// The pages holding data (`etcd_mvcc_db_total_size_in_use_in_bytes`).
    pub fn db_size_in_use_bytes(&self) -> u64 {
        self.db_in_use_bytes
    }
    pub fn no_space_alarm(&self) -> bool {
        self.no_space_alarm
    }
    /// Submission-to-acknowledgement latency of every accepted write.
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    /// How many of `writes` writes of `bytes` pass etcd's quota check, made
    /// before each: backend size + cost < quota (`BackendQuota.Available`).
    /// The file grows only once the pages in use reach it.
    fn writes_within_quota(&self, writes: u64, bytes: u64) -> u64 {
        let quota = self.config.quota_bytes;
        if self.no_space_alarm || self.db_file_bytes.saturating_add(bytes) >= quota {
            return 0;
        }
        if bytes == 0 {
            return writes;
        }
        // Write k passes while in_use + k × bytes < quota; the check above
        // (in use ≤ file) lets the first one through.
        ((quota - self.db_in_use_bytes - 1) / bytes).min(writes)
    }

    /// Accounts `writes` accepted writes of `bytes` each: revisions and size.
    fn grow(&mut self, writes: u64, bytes: u64) {
        let total = writes * bytes;
        self.revision += writes;
        self.writes += writes;
        self.bytes_written += total;
        self.db_in_use_bytes += total;
        self.db_file_bytes = self.db_file_bytes.max(self.db_in_use_bytes);
    }

    fn count_rejected(&mut self, writes: u64) {
        self.rejected += writes;
        self.interval.rejected += writes;
    }

    fn record_latency(&mut self, latency: SimDuration, writes: u64) {
        self.latency.record_n(latency, writes);
        self.interval.latency.record_n(latency, writes);
    }

    /// Moves the fluid to `t`, and folds the streams it has passed into the
    /// interval counts.
    fn advance_to(&mut self, t: SimTime) {
        let offered = self.fluid.advance(&self.streams, t);
        self.interval.offered.add(offered);
        let at = self.fluid.at;
        let interval = &mut self.interval;
        self.streams.retain(|s| {
            if s.until > at {
                return true;
            }
            let new = s.writes - s.counted;
            interval.writes += new;
            interval.bytes += new * s.bytes_per_write;
            false
        });
    }

    /// The fluid as it will be at `t` given the streams known now.
    fn projected(&self, t: SimTime) -> Fluid {
        self.projected_noting_kinks(t, &mut |_| {})
    }

    fn projected_noting_kinks(&self, t: SimTime, kink: &mut impl FnMut(SimTime)) -> Fluid {
        let mut fluid = self.fluid;
        fluid.advance_noting_kinks(&self.streams, t, kink);
        fluid
    }

    fn stages(&self, r: &Rates) -> Stages {
        if r.writes <= 0.0 {
            return Stages::default();
        }
        // A saturated CPU lets writes through at its own pace.
        let out = r.writes / r.cpu.max(1.0);
        let bytes_per_write = r.bytes / r.writes;
        let commit_ns = self.mean_commit_ns(out, bytes_per_write);
        let in_batch = out * commit_ns;
        let apply_per_write_ns = r.apply / r.writes;
        let apply_sq_per_write = r.apply_sq / r.writes;
        Stages {
            cpu_wait_ns: md1_wait_ns(r.cpu_sq, r.cpu),
            apply_wait_ns: md1_wait_ns(out * apply_sq_per_write, out * apply_per_write_ns),
            pipeline_wait_ns: in_batch.min(1.0) * commit_ns / 2.0,
            commit_ns,
            out_writes_per_ns: out,
            apply_busy: out * apply_per_write_ns,
            batch_bytes: in_batch.min(f64::from(self.config.max_batch_writes)) * bytes_per_write,
        }
    }

    /// Mean commit of the batches a stream of `writes_per_ns` fills: the
    /// writes that arrive during one commit make the next batch, whose bytes
    /// lengthen its commit (at least one write, at most `max_batch_writes`).
    fn mean_commit_ns(&self, writes_per_ns: f64, bytes_per_write: f64) -> f64 {
        let per_write_ns = bytes_per_write * self.commit_ns_per_byte;
        let single = self.commit_base_ns + per_write_ns;
        if writes_per_ns * single <= 1.0 {
            return single;
        }
        let full = self.commit_base_ns + f64::from(self.config.max_batch_writes) * per_write_ns;
        let growth = writes_per_ns * per_write_ns;
        if growth < 1.0 {
            (self.commit_base_ns / (1.0 - growth)).min(full)
        } else {
            full
        }
    }

    /// Latency of a background write arriving at `t`: CPU backlog and wait,
    /// its CPU work, the pipeline, one commit, then the applier's backlog,
    /// wait and work.
    fn background_latency(&self, t: SimTime, stream: &Stream) -> SimDuration {
        let stages = self.stages(&Rates::at(&self.streams, t));
        let committed = t + nanos(
            self.projected(t).cpu_ns
                + stages.cpu_wait_ns
                + stream.cpu_ns
                + stages.pipeline_wait_ns
                + stages.commit_ns,
        );
        let applied = committed
            + nanos(self.projected(committed).apply_ns + stages.apply_wait_ns + stream.apply_ns);
        applied - t
    }

    /// Records the stream's latency at points of its spread, each standing
    /// for its share of the writes, and returns their mean. The CPU backlog
    /// is linear between its kinks, so `POINTS_PER_PIECE` evenly spaced
    /// points per piece give its exact mean and let the tail see a backlog
    /// growing or draining within the stream.
    fn record_background_latency(&mut self, stream: &Stream) -> SimDuration {
        let mut bounds = vec![stream.from];
        self.projected_noting_kinks(stream.until, &mut |t| bounds.push(t));
        bounds.push(stream.until);
        let mut total_ns = 0u128;
        for piece in bounds.windows(2) {
            let first = stream.arrived_before(piece[0]);
            let writes = stream.arrived_before(piece[1]) - first;
            let points = POINTS_PER_PIECE.min(writes);
            let span = piece[1] - piece[0];
            for point in 0..points {
                let share = mul_div(writes, point + 1, points) - mul_div(writes, point, points);
                let offset = mul_div(span.0, 2 * point + 1, 2 * points);
                let latency = self.background_latency(piece[0] + SimDuration(offset), stream);
                self.record_latency(latency, share);
                total_ns += u128::from(latency.0) * u128::from(share);
            }
        }
        SimDuration((total_ns / u128::from(stream.writes)) as u64)
    }

    /// Background writes in flight: the fluid backlogs plus, by Little's law,
    /// those waiting, in service or in the pipeline at the current rates.
    fn background_in_flight(&self, r: &Rates) -> u64 {
        let stages = self.stages(r);
        let in_stages = r.writes * stages.cpu_wait_ns
            + r.cpu
            + stages.out_writes_per_ns
                * (stages.pipeline_wait_ns + stages.commit_ns + stages.apply_wait_ns)
            + stages.apply_busy;
        (self.fluid.cpu_carried.writes + self.fluid.apply_writes + in_stages).round() as u64
    }

    fn cpu_cost(&self, bytes: u64) -> SimDuration {
        let nanos = self.config.leader_cpu_per_write_us * NANOS_PER_MICRO as f64
            + bytes as f64 * self.config.leader_cpu_per_byte_ns;
        SimDuration(nanos.round() as u64)
    }

    /// Puts a write whose CPU work ends at `ready` into a batch; returns its
    /// commit time. A new batch leaves after `background_wait` (the batch of
    /// background writes in flight) and carries `background_bytes` with it.
    fn join_batch(
        &mut self,
        ready: SimTime,
        bytes: u64,
        background_wait: SimDuration,
        background_bytes: u64,
    ) -> SimTime {
        let fits = self
            .open
            .is_some_and(|b| ready <= b.departs && b.writes < self.config.max_batch_writes);
        if !fits {
            if let Some(closed) = self.open.take() {
                self.pipeline_free = closed.commits;
                self.batches += 1;
            }
            let departs = (ready + background_wait).max(self.pipeline_free);
            self.open = Some(self.open_batch(departs, background_bytes));
        }
        let mut batch = self.open.expect("a batch is open");
        batch.writes += 1;
        batch.bytes += bytes;
        batch.commits = batch.departs + self.commit_duration(&batch);
        self.open = Some(batch);
        batch.commits
    }

    fn open_batch(&mut self, departs: SimTime, background_bytes: u64) -> OpenBatch {
        let leader_fsync_ns = self.config.wal_fsync_ns.sample(&mut self.rng);
        self.follower_scratch.clear();
        for _ in 1..self.config.members {
            let rtt = self.config.network_rtt_ns.sample(&mut self.rng);
            let fsync = self.config.wal_fsync_ns.sample(&mut self.rng);
            self.follower_scratch.push(rtt.saturating_add(fsync));
        }
        self.follower_scratch.sort_unstable();
        let acks_needed = self.config.quorum as usize - 1;
        let follower_ack_ns = acks_needed
            .checked_sub(1)
            .map(|index| self.follower_scratch[index]);
        OpenBatch {
            departs,
            writes: 0,
            bytes: background_bytes,
            leader_fsync_ns,
            follower_ack_ns,
            commits: departs,
        }
    }

    /// Leader fsync in parallel with the quorum's follower acks.
    fn commit_duration(&self, batch: &OpenBatch) -> SimDuration {
        let wal_ns = transfer_ns(batch.bytes, self.config.wal_write_bytes_per_s);
        let leader_ns = batch.leader_fsync_ns.saturating_add(wal_ns);
        let follower_ns = batch.follower_ack_ns.map_or(0, |ack| {
            ack.saturating_add(wal_ns)
                .saturating_add(transfer_ns(batch.bytes, self.config.network_bytes_per_s))
        });
        SimDuration(leader_ns.max(follower_ns))
    }
}

/// When a write arriving at `at` starts service: after the discrete writes
/// ahead of it (`chain_free`) or the whole fluid backlog, whichever is
/// longer (the backlog holds those writes too), plus the background's
/// queueing wait.
fn queue_end(at: SimTime, chain_free: SimTime, backlog_ns: f64, wait_ns: f64) -> SimTime {
    at + chain_free.saturating_since(at).max(nanos(backlog_ns)) + nanos(wait_ns)
}

/// Rounds to whole nanoseconds; negative or NaN gives zero.
fn nanos(ns: f64) -> SimDuration {
    if ns.is_nan() || ns <= 0.0 {
        SimDuration::ZERO
    } else {
        SimDuration(ns.round().min(u64::MAX as f64) as u64)
    }
}

/// `value × numerator / denominator` without overflow (the result is at most `value`).
fn mul_div(value: u64, numerator: u64, denominator: u64) -> u64 {
    (u128::from(value) * u128::from(numerator) / u128::from(denominator)) as u64
}

fn micros(us: f64) -> SimDuration {
    SimDuration((us * NANOS_PER_MICRO as f64).round() as u64)
}

fn transfer_ns(bytes: u64, bytes_per_s: f64) -> u64 {
    (bytes as f64 * NANOS_PER_SEC as f64 / bytes_per_s).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;

    fn rng() -> SimRng {
        RngStreams::new(1).stream("store")
    }

    /// Constant latencies so commit times can be worked out by hand.
    fn constant_config() -> StoreConfig {
        StoreConfig {
            wal_fsync_ns: Distribution::Constant(1_000_000.0),
            network_rtt_ns: Distribution::Constant(500_000.0),
            ..StoreConfig::default()
        }
    }

    fn store(config: StoreConfig) -> Store {
        Store::new(config, rng()).unwrap()
    }

    #[test]
    fn defaults_pass_the_check() {
        assert_eq!(StoreConfig::default().check(), Ok(()));
    }

    #[test]
    fn bad_configs_are_rejected_with_the_specific_error() {
        let with = |change: fn(&mut StoreConfig)| {
            let mut config = StoreConfig::default();
            change(&mut config);
            config.check().unwrap_err()
        };
        assert_eq!(with(|c| c.members = 0), StoreConfigError::NoMembers);
        assert_eq!(
            with(|c| c.quorum = 4),
            StoreConfigError::BadQuorum {
                quorum: 4,
                members: 3
            }
        );
        assert!(matches!(
            with(|c| c.quorum = 0),
            StoreConfigError::BadQuorum { quorum: 0, .. }
        ));
        assert_eq!(
            with(|c| c.max_batch_writes = 0),
            StoreConfigError::ZeroBatch
        );
        assert_eq!(
            with(|c| c.leader_cpu_per_write_us = -1.0),
            StoreConfigError::BadCost {
                field: "leader_cpu_per_write_us",
                value: -1.0
            }
        );
        assert!(matches!(
            with(|c| c.apply_per_write_us = f64::NAN),
            StoreConfigError::BadCost {
                field: "apply_per_write_us",
                ..
            }
        ));
        assert_eq!(
            with(|c| c.network_bytes_per_s = 0.0),
            StoreConfigError::BadBandwidth {
                field: "network_bytes_per_s",
                value: 0.0
            }
        );
        assert_eq!(
            with(|c| c.wal_fsync_ns = Distribution::Constant(-5.0)),
            StoreConfigError::BadDistribution {
                field: "wal_fsync_ns",
                problem: DistributionError::Negative
            }
        );
        assert_eq!(
            with(|c| c.network_rtt_ns = Distribution::LogNormal {
                median: 1.0,
                sigma: f64::NAN
            }),
            StoreConfigError::BadDistribution {
                field: "network_rtt_ns",
                problem: DistributionError::BadSigma
            }
        );
        assert_eq!(with(|c| c.quota_bytes = 0), StoreConfigError::ZeroQuota);
        let bad = StoreConfig {
            members: 0,
            ..StoreConfig::default()
        };
        assert_eq!(
            Store::new(bad, rng()).unwrap_err(),
            StoreConfigError::NoMembers
        );
    }

    #[test]
    fn lone_write_pays_cpu_quorum_commit_and_apply() {
        let mut s = store(constant_config());
        let ack = s.submit(SimTime(1_000), 256).unwrap();
        // 320 bytes with overhead: CPU 20 µs + 320 × 8 ns; the follower ack
        // (RTT 0.5 ms + fsync 1 ms + 1.6 µs WAL write + 2.56 µs transfer)
        // is slower than the leader's fsync; then 20 µs of apply.
        let cpu = 20_000 + 2_560;
        let commit = 500_000 + 1_000_000 + 1_600 + 2_560;
        assert_eq!(ack.at, SimTime(1_000 + cpu + commit + 20_000));
        assert_eq!(ack.revision, 1);
        assert_eq!(s.latency().mean(), Some(ack.at - SimTime(1_000)));
    }

    #[test]
    fn single_member_commits_on_its_own_fsync() {
        let config = StoreConfig {
            members: 1,
            quorum: 1,
            ..constant_config()
        };
        let ack = store(config).submit(SimTime::ZERO, 256).unwrap();
        assert_eq!(ack.at, SimTime(22_560 + 1_000_000 + 1_600 + 20_000));
    }

    #[test]
    fn writes_arriving_during_a_commit_share_the_next_batch() {
        let mut s = store(constant_config());
        let acks: Vec<Ack> = (0..5)
            .map(|_| s.submit(SimTime::ZERO, 256).unwrap())
            .collect();
        // The first write leaves alone; the other four queue behind its commit.
        assert_eq!(s.batches(), 2);
        assert!(acks[1].at > acks[0].at + SimDuration::from_millis(1));
        assert!(acks.windows(2).all(|w| w[0].at < w[1].at));
        // Within the second batch, only the applier separates them (plus a
        // few ns of WAL bytes).
        assert!(acks[4].at - acks[1].at < SimDuration::from_micros(3 * 20 + 10));
        assert_eq!(acks.last().unwrap().revision, 5);
    }

    #[test]
    fn batch_size_is_bounded() {
        let mut s = store(StoreConfig {
            max_batch_writes: 1,
            ..constant_config()
        });
        for _ in 0..5 {
            s.submit(SimTime::ZERO, 256).unwrap();
        }
        assert_eq!(s.batches(), 5);
    }

    #[test]
    fn in_flight_counts_unanswered_writes() {
        let mut s = store(constant_config());
        let acks: Vec<Ack> = (0..3)
            .map(|_| s.submit(SimTime::ZERO, 256).unwrap())
            .collect();
        assert_eq!(s.in_flight_at(SimTime::ZERO), 3);
        assert_eq!(s.in_flight_at(acks[0].at), 2);
        assert_eq!(s.in_flight_at(acks[2].at), 0);
    }

    #[test]
    fn writes_must_come_in_time_order() {
        let mut s = store(constant_config());
        s.submit(SimTime(10), 256).unwrap();
        assert_eq!(
            s.submit(SimTime(9), 256),
            Err(StoreError::OutOfOrder {
                at: SimTime(9),
                last: SimTime(10)
            })
        );
        assert_eq!(s.writes(), 1);
    }

    #[test]
    fn oversized_requests_are_refused() {
        let mut s = store(StoreConfig::default());
        assert_eq!(
            s.submit(SimTime::ZERO, 2 << 20),
            Err(StoreError::TooLarge {
                bytes: 2 << 20,
                limit_bytes: 1_572_864
            })
        );
        assert_eq!((s.writes(), s.rejected()), (0, 1));
    }

    /// etcd's `BackendQuota.Available`: backend size + cost < quota, so a
    /// write that would bring the file exactly to the quota is refused.
    #[test]
    fn quota_is_checked_strictly_against_the_file_size() {
        let mut s = store(StoreConfig {
            quota_bytes: 3 * 320,
            ..constant_config()
        });
        s.submit(SimTime::ZERO, 256).unwrap();
        s.submit(SimTime::ZERO, 256).unwrap();
        assert_eq!(
            s.submit(SimTime::ZERO, 256),
            Err(StoreError::NoSpace {
                size_bytes: 640,
                quota_bytes: 960
            })
        );
    }

    #[test]
    fn quota_raises_nospace_until_defragmented_and_disarmed() {
        let mut s = store(StoreConfig {
            quota_bytes: 10 * 320 + 1,
            ..constant_config()
        });
        // The compactor's first run only records where it is.
        s.compact_history(0);
        let mut now = SimTime::ZERO;
        for _ in 0..10 {
            now = s.submit(now, 256).unwrap().at;
        }
        assert_eq!(s.db_size_bytes(), 3_200);
        assert_eq!(
            s.submit(now, 256),
            Err(StoreError::NoSpace {
                size_bytes: 3_200,
                quota_bytes: 3_201
            })
        );
        assert!(s.no_space_alarm());
        // The alarm refuses even a write that would fit.
        assert!(matches!(s.submit(now, 0), Err(StoreError::NoSpace { .. })));
        // Every write is newer than the previous run: nothing to drop.
        s.compact_history(4 * 320);
        assert_eq!(s.db_size_in_use_bytes(), 3_200);
        // Now history before the previous run goes; 4 objects were live then.
        s.compact_history(4 * 320);
        assert_eq!(s.db_size_in_use_bytes(), 4 * 320);
        // Compaction neither shrinks the file nor clears the alarm.
        assert_eq!(s.db_size_bytes(), 3_200);
        assert!(matches!(s.submit(now, 0), Err(StoreError::NoSpace { .. })));
        assert_eq!(s.defragment_and_disarm(), 4 * 320);
        assert!(!s.no_space_alarm());
        assert_eq!(s.submit(now, 256).unwrap().revision, 11);
        assert_eq!(s.db_size_bytes(), 5 * 320);
        assert_eq!((s.writes(), s.rejected()), (11, 3));
    }

    #[test]
    fn compaction_never_grows_the_database() {
        let mut s = store(constant_config());
        s.submit(SimTime::ZERO, 256).unwrap();
        s.compact_history(320);
        s.compact_history(1_000_000);
        assert_eq!(s.db_size_in_use_bytes(), 320);
        // Retained would be the 1,000,000 bytes live at the previous run.
        s.compact_history(0);
        assert_eq!(s.db_size_in_use_bytes(), 320);
        s.compact_history(0);
        assert_eq!(s.db_size_in_use_bytes(), 0);
        assert_eq!(s.db_size_bytes(), 320);
    }

    #[test]
    fn same_rng_same_acknowledgements() {
        let run = || {
            let mut s = store(StoreConfig::default());
            (0..200u64)
                .map(|i| s.submit(SimTime(i * 50_000), 256).unwrap().at)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    fn millis(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    /// Leader CPU of one 256-byte write (320 bytes with overhead), and its apply.
    const CPU_NS: f64 = 22_560.0;
    const APPLY_NS: f64 = 20_000.0;

    /// Background writes of 256 bytes per second loading the leader CPU to `rho`.
    fn writes_per_s_at(rho: f64) -> u64 {
        (rho * 1e9 / CPU_NS).round() as u64
    }

    fn assert_close(what: &str, got: f64, want: f64, tolerance: f64) {
        let error = ((got - want) / want).abs();
        assert!(error <= tolerance, "{what}: {got} vs {want}");
    }

    #[test]
    fn background_counts_bytes_and_revisions_are_exact() {
        let mut s = store(constant_config());
        s.submit(SimTime::ZERO, 256).unwrap();
        let out = s.submit_background(SimTime::ZERO, secs(10), 1_000_000, 100);
        assert_eq!((out.accepted, out.rejected), (1_000_000, 0));
        assert!(out.mean_latency.is_some());
        let ack = s.submit(secs(10), 256).unwrap();
        assert_eq!(ack.revision, 1_000_002);
        assert_eq!(s.revision(), 1_000_002);
        assert_eq!(s.writes(), 1_000_002);
        let bytes = 2 * 320 + 1_000_000 * 164;
        assert_eq!(s.bytes_written(), bytes);
        assert_eq!(s.db_size_bytes(), bytes);
        assert_eq!(s.db_size_in_use_bytes(), bytes);
        assert_eq!(s.latency().count(), 1_000_002);
        let interval = s.take_interval(secs(10));
        assert_eq!((interval.writes, interval.bytes), (1_000_002, bytes));
        assert_eq!(interval.db_size_bytes, bytes);
    }

    #[test]
    fn intervals_count_background_writes_as_they_arrive() {
        let mut s = store(constant_config());
        s.submit_background(SimTime::ZERO, secs(1), 1_000, 256);
        assert_eq!(s.take_interval(millis(250)).writes, 250);
        let rest = s.take_interval(secs(2));
        assert_eq!((rest.writes, rest.bytes), (750, 750 * 320));
        // The rate was 0.0225 of the CPU over [0, 1 s), spread over 2 intervals.
        assert_eq!(s.take_interval(secs(3)).writes, 0);
    }

    /// Latency of a discrete write at `at` under a 10 s background stream.
    fn discrete_latency_under(rho: f64, at: SimTime) -> SimDuration {
        let mut s = store(constant_config());
        if rho > 0.0 {
            s.submit_background(SimTime::ZERO, secs(10), 10 * writes_per_s_at(rho), 256);
        }
        s.submit(at, 256).unwrap().at - at
    }

    #[test]
    fn background_below_saturation_barely_moves_a_discrete_write() {
        let alone = discrete_latency_under(0.0, secs(1));
        assert_eq!(alone, SimDuration(22_560 + 1_504_160 + 20_000));
        let early = discrete_latency_under(0.5, secs(1));
        let late = discrete_latency_under(0.5, secs(9));
        // No backlog builds: the same wait all along...
        assert_eq!(early, late);
        // ...made of the batch in flight (half a ~1.65 ms commit, plus the
        // background bytes its own batch carries) and tens of µs of queueing.
        let extra = early.0 - alone.0;
        assert!((900_000..1_100_000).contains(&extra), "{extra}");
        // Closer to saturation the M/D/1 wait grows but stays bounded.
        let busier = discrete_latency_under(0.9, secs(9));
        // (M/D/1 at 0.9: 100 µs at the CPU, 40 µs at the applier; fuller batches.)
        assert!(busier > late && busier.0 < late.0 + 500_000, "{busier:?}");
    }

    #[test]
    fn background_above_saturation_makes_a_discrete_write_wait_longer_and_longer() {
        let early = discrete_latency_under(1.2, secs(1));
        let late = discrete_latency_under(1.2, secs(5));
        // The CPU backlog grows by 0.2 s every second.
        // (Plus a few ms: the capped M/D/1 wait, the pipeline and the commit.)
        assert_close("backlog at 1 s", early.as_secs_f64(), 0.2, 0.03);
        assert_close(
            "growth 1 s to 5 s",
            (late.0 - early.0) as f64 / 1e9,
            0.8,
            0.01,
        );
    }

    #[test]
    fn a_discrete_write_delays_the_background_behind_it() {
        let mut quiet = store(constant_config());
        let mut busy = store(constant_config());
        for i in 0..1_000 {
            busy.submit(SimTime(i * 1_000), 256).unwrap();
        }
        // Both streams start at the same time, one behind 1,000 writes.
        let at = SimTime(1_000_000);
        let a = quiet.submit_background(at, secs(1), 10_000, 256);
        let b = busy.submit_background(at, secs(1), 10_000, 256);
        assert!(b.mean_latency.unwrap() > a.mean_latency.unwrap());
    }

    #[test]
    fn background_batches_hold_the_writes_of_one_commit() {
        let mut s = store(constant_config());
        s.submit_background(SimTime::ZERO, secs(1), writes_per_s_at(0.5), 256);
        // Mean commit 1.5 ms / (1 − rate × 320 B × 13 ns/B) = 1.652 ms holds
        // 36.6 writes of 22,163 per second.
        assert_close("busy", s.batches() as f64, 22_163.0 / 36.62, 0.005);
        // Ten writes a second never meet: one batch each.
        s.submit_background(secs(1), secs(2), 10, 256);
        assert_close("sparse", s.batches() as f64, 22_163.0 / 36.62 + 10.0, 0.005);
    }

    #[test]
    fn utilization_is_the_offered_load() {
        let mut s = store(constant_config());
        s.submit_background(SimTime::ZERO, secs(1), 22_150, 256);
        let i = s.take_interval(secs(1));
        assert_close("leader CPU", i.leader_cpu_utilization, 0.4997, 0.001);
        assert_close(
            "applier",
            i.apply_utilization,
            22_150.0 * APPLY_NS / 1e9,
            0.001,
        );
        assert_eq!((i.writes, i.bytes), (22_150, 22_150 * 320));

        // Discrete writes add their own work.
        s.submit_background(secs(1), secs(2), 22_150, 256);
        for ms in 1_000..2_000 {
            s.submit(millis(ms), 256).unwrap();
        }
        let i = s.take_interval(secs(2));
        let offered = 23_150.0 * CPU_NS / 1e9;
        assert_close("with discrete", i.leader_cpu_utilization, offered, 0.001);
        assert_eq!(i.writes, 23_150);
    }

    #[test]
    fn a_saturated_leader_throttles_what_the_applier_sees() {
        let mut s = store(constant_config());
        s.submit_background(SimTime::ZERO, secs(1), writes_per_s_at(1.5), 256);
        let i = s.take_interval(secs(1));
        assert_close("leader CPU", i.leader_cpu_utilization, 1.5, 0.001);
        // The applier gets writes at the CPU's pace, not the offered rate.
        assert_close("applier", i.apply_utilization, APPLY_NS / CPU_NS, 0.001);
        // Once the stream ends the CPU drains its backlog to the applier.
        let after = s.take_interval(millis(1_400));
        assert_close(
            "draining",
            after.apply_utilization,
            APPLY_NS / CPU_NS,
            0.001,
        );
        assert_eq!(after.leader_cpu_utilization, 0.0);
    }

    #[test]
    fn a_growing_backlog_shows_in_the_tail_latency() {
        let mut s = store(constant_config());
        let out = s.submit_background(SimTime::ZERO, secs(1), writes_per_s_at(1.2), 256);
        // Mean backlog over the second is 0.1 s; the last writes wait ~0.2 s.
        assert_close("mean", out.mean_latency.unwrap().as_secs_f64(), 0.1, 0.05);
        let i = s.take_interval(secs(1));
        let (p50, p99) = (i.latency_p50.unwrap(), i.latency_p99.unwrap());
        // Eight points over the ramp: p50 at its 9/16th, p99 at its 15/16th.
        assert_close("p50", p50.as_secs_f64(), 0.1125, 0.06);
        assert_close("p99", p99.as_secs_f64(), 0.1875, 0.04);

        let mut calm = store(constant_config());
        calm.submit_background(SimTime::ZERO, secs(1), writes_per_s_at(0.5), 256);
        let i = calm.take_interval(secs(1));
        assert_eq!(i.latency_p50, i.latency_p99);
    }

    #[test]
    fn queue_depth_counts_the_background_in_flight() {
        let mut s = store(constant_config());
        s.submit_background(SimTime::ZERO, secs(1), writes_per_s_at(1.2), 256);
        // 0.2 s of CPU work is queued: that many writes, plus a few hundred
        // between the CPU and the applier.
        let backlog_writes = 0.2e9 / CPU_NS;
        let depth = s.take_interval(secs(1)).queue_depth as f64;
        assert!(
            depth > backlog_writes && depth < backlog_writes * 1.03,
            "{depth}"
        );

        // Below saturation, Little's law: rate × latency.
        let mut calm = store(constant_config());
        let rate = writes_per_s_at(0.5);
        let out = calm.submit_background(SimTime::ZERO, secs(1), rate, 256);
        let little = rate as f64 * out.mean_latency.unwrap().as_secs_f64();
        let depth = calm.take_interval(secs(1)).queue_depth as f64;
        assert_close("Little", depth, little, 0.1);
    }

    #[test]
    fn background_is_refused_at_the_quota_and_raises_the_alarm() {
        let mut s = store(StoreConfig {
            quota_bytes: 1_000 * 320 + 1,
            ..constant_config()
        });
        let out = s.submit_background(SimTime::ZERO, secs(1), 1_500, 256);
        assert_eq!((out.accepted, out.rejected), (1_000, 500));
        assert!(s.no_space_alarm());
        assert_eq!(s.db_size_bytes(), 320_000);
        assert_eq!(s.revision(), 1_000);
        assert!(matches!(
            s.submit(secs(1), 0),
            Err(StoreError::NoSpace { .. })
        ));
        let refused = s.submit_background(secs(1), secs(2), 10, 0);
        assert_eq!(
            refused,
            BackgroundOutcome {
                accepted: 0,
                rejected: 10,
                mean_latency: None
            }
        );
        let i = s.take_interval(secs(2));
        // The accepted thousand arrived over the first two thirds of a second.
        assert_eq!((i.writes, i.rejected), (1_000, 511));
        assert!(i.nospace_alarm);
        assert_close("quota", i.quota_utilization, 1.0, 1e-5);
        assert_eq!(s.rejected(), 511);
    }

    #[test]
    fn oversized_background_writes_are_refused_without_the_alarm() {
        let mut s = store(StoreConfig::default());
        let out = s.submit_background(SimTime::ZERO, secs(1), 5, 2 << 20);
        assert_eq!((out.accepted, out.rejected), (0, 5));
        assert!(!s.no_space_alarm());
        assert_eq!(s.writes(), 0);
    }

    /// One minute of 10,000 lease-sized writes per second (3.2 MB/s) into a
    /// 64 MiB quota; returns the writes refused and the largest file size.
    fn minute_of_writes(compact: bool) -> (u64, u64) {
        let mut s = store(StoreConfig {
            quota_bytes: 64 << 20,
            ..constant_config()
        });
        for second in 0..60 {
            s.submit_background(secs(second), secs(second + 1), 10_000, 256);
            if compact && (second + 1) % 5 == 0 {
                s.compact_history(1 << 20);
            }
        }
        (s.rejected(), s.db_size_bytes())
    }

    #[test]
    fn compact_history_lets_writes_continue_when_live_data_is_small() {
        let (rejected, file_bytes) = minute_of_writes(true);
        assert_eq!(rejected, 0);
        // Live data plus at most two compaction periods of history.
        assert!(
            file_bytes <= (1 << 20) + 2 * 5 * 10_000 * 320,
            "{file_bytes}"
        );
        let (rejected, file_bytes) = minute_of_writes(false);
        assert!(rejected > 0);
        assert!(file_bytes < 64 << 20);
    }

    #[test]
    fn take_interval_resets_rates_but_not_db_size() {
        let mut s = store(constant_config());
        s.submit_background(SimTime::ZERO, secs(1), 22_150, 256);
        s.submit(millis(500), 256).unwrap();
        let first = s.take_interval(secs(1));
        assert!(first.writes > 0 && first.leader_cpu_utilization > 0.4);
        let second = s.take_interval(secs(2));
        assert_eq!((second.writes, second.bytes, second.rejected), (0, 0, 0));
        assert_eq!((second.latency_p50, second.latency_p99), (None, None));
        assert_eq!(second.leader_cpu_utilization, 0.0);
        assert_eq!(second.apply_utilization, 0.0);
        assert_eq!(second.queue_depth, 0);
        assert_eq!(second.db_size_bytes, first.db_size_bytes);
        assert_eq!(second.db_size_bytes, 22_151 * 320);
        assert_eq!(second.quota_utilization, first.quota_utilization);
    }

    #[test]
    fn a_late_background_start_keeps_its_rate() {
        let mut s = store(constant_config());
        s.submit(secs(1), 256).unwrap();
        s.submit_background(SimTime::ZERO, millis(500), 1_000, 256);
        // Shifted to [1 s, 1.5 s): all arrived by 1.5 s, none before 1 s.
        let i = s.take_interval(millis(1_500));
        assert_eq!(i.writes, 1_001);
        assert_close(
            "leader CPU",
            i.leader_cpu_utilization,
            1_001.0 * CPU_NS / 1.5e9,
            0.001,
        );
    }

    #[test]
    fn same_rng_same_background_run() {
        let run = || {
            let mut s = store(StoreConfig::default());
            let mut seen = Vec::new();
            for second in 0..5u64 {
                let out = s.submit_background(secs(second), secs(second + 1), 30_000, 300);
                seen.push(format!("{out:?}"));
                for i in 0..100 {
                    let at = secs(second) + SimDuration::from_millis(i * 10);
                    seen.push(format!("{:?}", s.submit(at, 1_000)));
                }
                seen.push(format!("{:?}", s.take_interval(secs(second + 1))));
            }
            seen
        };
        let first = run();
        assert_eq!(first, run());
        // The background is not free: the discrete writes see a backlog.
        let other = {
            let mut s = store(StoreConfig::default());
            format!("{:?}", s.submit(SimTime::ZERO, 1_000))
        };
        assert_ne!(first[1], other);
    }
}
