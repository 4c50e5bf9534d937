//! Helpers shared by the output crate's integration tests: a temporary
//! directory and a small, hand-built run.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ksim_core::histogram::LatencyHistogram;
use ksim_core::metrics::{
    PodRecord, PoolSample, PoolSummary, RunOutput, RunSummary, TimelineSample, UnschedulableGroup,
};
use ksim_core::pod_phase::PodPhase;
use ksim_core::time::{SimDuration, SimTime};
use ksim_output::{RunInfo, WriteOptions};

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "ksim-output-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

pub fn sample(time: SimTime, running: u64, pending: u64) -> TimelineSample {
    TimelineSample {
        time,
        nodes_total: 3,
        nodes_ready: 2,
        nodes_provisioning: 0,
        nodes_not_ready: 1,
        nodes_cordoned: 0,
        nodes_draining: 0,
        pods_pending: pending,
        pods_running: running,
        pods_succeeded: 1,
        pods_failed: 0,
        pods_unschedulable: pending / 2,
        cpu_requested_millis: running * 500,
        cpu_allocatable_millis: 6_000,
        memory_requested_bytes: running << 30,
        memory_allocatable_bytes: 24 << 30,
        scheduling_attempts: 7,
        binds: 4,
        scheduling_latency_p50: Some(SimDuration(1_234_567)),
        scheduling_latency_p99: None,
    }
}

pub fn latency(values_ms: &[u64]) -> LatencyHistogram {
    let mut h = LatencyHistogram::default();
    for &ms in values_ms {
        h.record(SimDuration::from_millis(ms));
    }
    h
}

pub fn small_run() -> RunOutput {
    RunOutput {
        summary: RunSummary {
            scenario: "small".to_string(),
            seed: 42,
            simulated_span: SimDuration::from_millis(60_500),
            nodes_total: 3,
            pods_total: 3,
            pods_pending: 1,
            pods_running: 1,
            pods_succeeded: 1,
            pods_failed: 0,
            events_processed: 99,
            scheduling_attempts: 5,
            binds: 2,
            node_failures: 1,
            pods_evicted: 2,
            nodes_added: 1,
            nodes_deleted: 0,
            controller_actions_applied: 1,
            controller_actions_refused: 0,
            node_pools: vec![PoolSummary {
                name: "default".to_string(),
                nodes_at_end: 3,
                node_hours: 0.05,
                cost: 0.1,
            }],
            scheduling_latency: latency(&[2, 40, 900, 15_000]),
            unschedulable: vec![UnschedulableGroup {
                workload: "big, batch".to_string(),
                pods: 1,
                never_fits: true,
                reason: "Insufficient cpu".to_string(),
            }],
            workloads: vec![],
            node_autoscaler: None,
            node_pressure: None,
            sources: vec![],
        },
        workload_timeline: vec![],
        decisions: vec![],
        timeline: vec![
            sample(secs(0), 0, 3),
            sample(SimTime(30_000_400_000), 2, 1),
            sample(SimTime(60_500_000_000), 1, 1),
        ],
        pool_timeline: vec![PoolSample {
            time: secs(0),
            pool: 0,
            nodes: 3,
            nodes_ready: 2,
            cost_per_hour: 1.5,
        }],
        workload_names: vec!["web".to_string(), "big, batch".to_string()],
        node_pool_names: vec!["default".to_string()],
        pods: Some(vec![
            PodRecord {
                id: 0,
                workload: 0,
                created: secs(1),
                bound: Some(SimTime(1_000_250_000)),
                started: Some(secs(3)),
                finished: Some(secs(10)),
                node: Some(2),
                phase: PodPhase::Succeeded,
            },
            PodRecord {
                id: 1,
                workload: 1,
                created: secs(2),
                bound: None,
                started: None,
                finished: None,
                node: None,
                phase: PodPhase::Pending,
            },
        ]),
        control_plane: None,
        node_lifecycle: None,
        node_autoscaler_timeline: Vec::new(),
    }
}

pub fn info(wall_time_s: f64) -> RunInfo {
    RunInfo {
        wall_time_s,
        events_per_s: 1234.5,
        ksim_version: "0.1.0-test".to_string(),
    }
}

pub const ALL: WriteOptions = WriteOptions {
    pods_csv: true,
    plots: true,
};
pub const DATA_ONLY: WriteOptions = WriteOptions {
    pods_csv: true,
    plots: false,
};

pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}
