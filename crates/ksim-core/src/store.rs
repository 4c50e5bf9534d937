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
//! flushed in entry order. Acknowledgement times are therefore non-decreasing
//! in submission order, which keeps the in-flight count a simple queue.

pub mod bench;

use crate::distribution::{Distribution, DistributionError};
use crate::metrics::LatencyHistogram;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime, NANOS_PER_MICRO, NANOS_PER_SEC};
use std::collections::VecDeque;

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
    #[error("{field}: {source}")]
    BadDistribution {
        field: &'static str,
        source: DistributionError,
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
        .map_err(|source| StoreConfigError::BadDistribution { field, source })
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// etcd's NOSPACE alarm: the database would pass the backend quota.
    #[error("etcdserver: mvcc: database space exceeded ({size_bytes} bytes in use, quota {quota_bytes})")]
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

/// The batch that leaves next: its departure time and the random parts of
/// its commit, drawn when it opens.
#[derive(Clone, Copy, Debug)]
struct OpenBatch {
    departs: SimTime,
    writes: u32,
    bytes: u64,
    leader_fsync_ns: u64,
    /// Fixed part of the (quorum − 1)-th fastest follower ack; None with quorum 1.
    follower_ack_ns: Option<u64>,
    /// Commit time of the batch with the bytes it holds so far.
    commits: SimTime,
}

/// One store: the leader's pipeline state, counters and MVCC size.
#[derive(Clone, Debug)]
pub struct Store {
    config: StoreConfig,
    rng: SimRng,
    last_submit: SimTime,
    cpu_free: SimTime,
    apply_free: SimTime,
    /// Commit time of the last closed batch: when the pipeline frees.
    pipeline_free: SimTime,
    open: Option<OpenBatch>,
    /// Acknowledgement times of writes not yet answered, in order.
    in_flight: VecDeque<SimTime>,
    follower_scratch: Vec<u64>,
    revision: u64,
    writes: u64,
    bytes_written: u64,
    batches: u64,
    rejected: u64,
    db_size_bytes: u64,
    no_space_alarm: bool,
    latency: LatencyHistogram,
}

impl Store {
    /// A store with an empty database. The rng drives fsync and RTT draws.
    pub fn new(config: StoreConfig, rng: SimRng) -> Result<Self, StoreConfigError> {
        config.check()?;
        let followers = config.members as usize - 1;
        Ok(Store {
            config,
            rng,
            last_submit: SimTime::ZERO,
            cpu_free: SimTime::ZERO,
            apply_free: SimTime::ZERO,
            pipeline_free: SimTime::ZERO,
            open: None,
            in_flight: VecDeque::new(),
            follower_scratch: Vec::with_capacity(followers),
            revision: 0,
            writes: 0,
            bytes_written: 0,
            batches: 0,
            rejected: 0,
            db_size_bytes: 0,
            no_space_alarm: false,
            latency: LatencyHistogram::default(),
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Submits a write of `value_bytes` at `now` (non-decreasing across calls)
    /// and returns when it is acknowledged. Refused writes change nothing but
    /// the rejection count (and raise the NOSPACE alarm).
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
            self.rejected += 1;
            return Err(StoreError::TooLarge {
                bytes: value_bytes,
                limit_bytes: self.config.max_request_bytes,
            });
        }
        let bytes = value_bytes + self.config.overhead_bytes_per_write;
        if self.no_space_alarm || self.db_size_bytes + bytes > self.config.quota_bytes {
            self.no_space_alarm = true;
            self.rejected += 1;
            return Err(StoreError::NoSpace {
                size_bytes: self.db_size_bytes,
                quota_bytes: self.config.quota_bytes,
            });
        }

        let cpu_done = now.max(self.cpu_free) + self.cpu_cost(bytes);
        self.cpu_free = cpu_done;
        let committed = self.join_batch(cpu_done, bytes);
        let applied = committed.max(self.apply_free) + micros(self.config.apply_per_write_us);
        self.apply_free = applied;

        self.revision += 1;
        self.writes += 1;
        self.bytes_written += bytes;
        self.db_size_bytes += bytes;
        self.in_flight.push_back(applied);
        self.latency.record(applied - now);
        Ok(Ack {
            revision: self.revision,
            at: applied,
        })
    }

    /// Writes submitted but not yet acknowledged at `now` (the queue depth).
    /// `now` must not go back in time across calls.
    pub fn in_flight_at(&mut self, now: SimTime) -> usize {
        while self.in_flight.front().is_some_and(|&t| t <= now) {
            self.in_flight.pop_front();
        }
        self.in_flight.len()
    }

    /// Compaction followed by defragmentation, as an operator recovering from
    /// NOSPACE does: keeps the latest `keep_revisions` revisions (sized at the
    /// mean revision size so far) and drops older history. Clears the NOSPACE
    /// alarm once the database is back under the quota. Returns the new size.
    pub fn compact(&mut self, keep_revisions: u64) -> u64 {
        if self.writes > 0 {
            let mean_bytes = self.bytes_written as f64 / self.writes as f64;
            let kept_bytes = (keep_revisions as f64 * mean_bytes).round() as u64;
            self.db_size_bytes = self.db_size_bytes.min(kept_bytes);
        }
        if self.db_size_bytes < self.config.quota_bytes {
            self.no_space_alarm = false;
        }
        self.db_size_bytes
    }

    /// The latest revision (0 before the first write).
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// Accepted writes.
    pub fn writes(&self) -> u64 {
        self.writes
    }
    /// Bytes of accepted writes, overhead included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
    /// Raft batches that carried at least one write.
    pub fn batches(&self) -> u64 {
        self.batches + u64::from(self.open.is_some())
    }
    /// Writes refused (NOSPACE or too large).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
    pub fn db_size_bytes(&self) -> u64 {
        self.db_size_bytes
    }
    pub fn no_space_alarm(&self) -> bool {
        self.no_space_alarm
    }
    /// Submission-to-acknowledgement latency of every accepted write.
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    fn cpu_cost(&self, bytes: u64) -> SimDuration {
        let nanos = self.config.leader_cpu_per_write_us * NANOS_PER_MICRO as f64
            + bytes as f64 * self.config.leader_cpu_per_byte_ns;
        SimDuration(nanos.round() as u64)
    }

    /// Puts a write whose CPU work ends at `ready` into a batch; returns its commit time.
    fn join_batch(&mut self, ready: SimTime, bytes: u64) -> SimTime {
        let fits = self
            .open
            .is_some_and(|b| ready <= b.departs && b.writes < self.config.max_batch_writes);
        if !fits {
            if let Some(closed) = self.open.take() {
                self.pipeline_free = closed.commits;
                self.batches += 1;
            }
            self.open = Some(self.open_batch(ready.max(self.pipeline_free)));
        }
        let mut batch = self.open.expect("a batch is open");
        batch.writes += 1;
        batch.bytes += bytes;
        batch.commits = batch.departs + self.commit_duration(&batch);
        self.open = Some(batch);
        batch.commits
    }

    fn open_batch(&mut self, departs: SimTime) -> OpenBatch {
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
            bytes: 0,
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
                source: DistributionError::Negative
            }
        );
        assert_eq!(
            with(|c| c.network_rtt_ns = Distribution::LogNormal {
                median: 1.0,
                sigma: f64::NAN
            }),
            StoreConfigError::BadDistribution {
                field: "network_rtt_ns",
                source: DistributionError::BadSigma
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

    #[test]
    fn quota_raises_nospace_until_compaction() {
        let mut s = store(StoreConfig {
            quota_bytes: 10 * 320,
            ..constant_config()
        });
        let mut now = SimTime::ZERO;
        for _ in 0..10 {
            now = s.submit(now, 256).unwrap().at;
        }
        assert_eq!(s.db_size_bytes(), 3_200);
        assert_eq!(
            s.submit(now, 256),
            Err(StoreError::NoSpace {
                size_bytes: 3_200,
                quota_bytes: 3_200
            })
        );
        assert!(s.no_space_alarm());
        // The alarm refuses even a write that would fit, until compaction.
        assert!(matches!(s.submit(now, 0), Err(StoreError::NoSpace { .. })));
        assert_eq!(s.compact(4), 4 * 320);
        assert!(!s.no_space_alarm());
        assert_eq!(s.submit(now, 256).unwrap().revision, 11);
        assert_eq!(s.db_size_bytes(), 5 * 320);
        assert_eq!((s.writes(), s.rejected()), (11, 2));
    }

    #[test]
    fn compaction_never_grows_the_database() {
        let mut s = store(constant_config());
        s.submit(SimTime::ZERO, 256).unwrap();
        assert_eq!(s.compact(1_000), 320);
        assert_eq!(s.compact(0), 0);
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
}
