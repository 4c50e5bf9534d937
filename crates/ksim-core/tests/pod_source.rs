//! The pod-source seam: pods come from a source in arrival order, with
//! their own requests, run times and outcomes; one arrival pending per source.

mod common;

use common::*;
use ksim_core::config::{ArrivalProcess, WorkloadKind};
use ksim_core::ids::WorkloadId;
use ksim_core::pod_phase::PodPhase;
use ksim_core::resources::{ResourceVec, CPU, MEMORY};
use ksim_core::sim::{SimError, Simulation};
use ksim_core::source::{PodSource, SourceCount, SourceError, SourceReport, SourcedPod};
use ksim_core::time::SimTime;

/// A source over a list, failing after `fail_after` pods when set; counts
/// how often it was asked.
struct ListSource {
    pods: Vec<SourcedPod>,
    next: usize,
    fail_after: Option<usize>,
}

impl PodSource for ListSource {
    fn next_pod(&mut self) -> Result<Option<SourcedPod>, SourceError> {
        if self.fail_after == Some(self.next) {
            return Err(SourceError("trace.csv:7:3: not a number".into()));
        }
        let pod = self.pods.get(self.next).copied();
        self.next += 1;
        Ok(pod)
    }

    fn report(&self) -> SourceReport {
        SourceReport {
            name: "list".into(),
            counts: vec![SourceCount {
                name: "pulled",
                value: self.next as u64,
            }],
        }
    }
}

fn sourced(
    at_s: u64,
    workload: WorkloadId,
    cpu: u64,
    run_s: Option<u64>,
    failed: bool,
) -> SourcedPod {
    let mut requests = ResourceVec::ZERO;
    requests.0[CPU] = cpu;
    requests.0[MEMORY] = GI;
    SourcedPod {
        arrival: SimTime::ZERO + secs(at_s),
        workload,
        requests,
        run_time: run_s.map(secs),
        failed,
    }
}

/// Two templates fed by the source, and an ordinary job beside them.
fn config_with_templates() -> ksim_core::config::SimConfig {
    let mut traced = Vec::new();
    for name in ["trace-a", "trace-b"] {
        let mut w = job(name, template(0, 0), &[], 1);
        let WorkloadKind::Job(j) = &mut w.kind else {
            unreachable!()
        };
        j.arrival = ArrivalProcess::Source { pods: 2 };
        traced.push(w);
    }
    traced.push(job("plain", template(100, GI), &[5], 10));
    config(vec![pool("p", 1, 4_000, 16 * GI)], traced, 100)
}

#[test]
fn sourced_pods_arrive_run_and_end_as_their_records_say() {
    let source = ListSource {
        pods: vec![
            sourced(1, 0, 1_000, Some(10), false),
            sourced(2, 1, 3_500, Some(20), true),
            sourced(3, 0, 500, None, false),
            sourced(3, 1, 100, Some(1), false),
        ],
        next: 0,
        fail_after: None,
    };
    let mut sim = Simulation::new(config_with_templates()).unwrap();
    sim.enable_invariant_checks();
    sim.add_pod_source(Box::new(source)).unwrap();
    // One pending arrival for the source, one for the plain job, the
    // flush: the source's later pods are not queued up front.
    assert_eq!(sim.pending_events(), 3);
    let out = sim.run().unwrap();
    let pods = out.pods.unwrap();
    let by_creation: Vec<(u64, WorkloadId)> = pods
        .iter()
        .map(|p| (p.created.as_secs_f64() as u64, p.workload))
        .collect();
    assert_eq!(by_creation, vec![(1, 0), (2, 1), (3, 0), (3, 1), (5, 2)]);
    // The first runs 10 s; the second (3.5 cores) waits for it to end.
    let first = &pods[0];
    assert_eq!(first.phase, PodPhase::Succeeded);
    assert_eq!(first.finished.unwrap() - first.started.unwrap(), secs(10));
    let second = &pods[1];
    assert!(second.started.unwrap() >= first.finished.unwrap());
    assert_eq!(second.phase, PodPhase::Failed);
    assert_eq!(second.finished.unwrap() - second.started.unwrap(), secs(20));
    // No end in the record: runs to the end of the run.
    assert_eq!(pods[2].phase, PodPhase::Running);
    assert_eq!(out.summary.sources.len(), 1);
    assert_eq!(out.summary.sources[0].counts[0].value, 5);
}

#[test]
fn a_failing_source_stops_the_run_with_its_message() {
    let source = ListSource {
        pods: vec![sourced(1, 0, 100, Some(1), false); 3],
        next: 0,
        fail_after: Some(2),
    };
    let mut sim = Simulation::new(config_with_templates()).unwrap();
    sim.add_pod_source(Box::new(source)).unwrap();
    match sim.run() {
        Err(SimError::Source(e)) => assert!(e.0.contains("trace.csv:7:3"), "{e}"),
        other => panic!("expected a source error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_source_out_of_order_or_naming_a_plain_job_is_refused() {
    let backwards = ListSource {
        pods: vec![
            sourced(5, 0, 100, Some(1), false),
            sourced(4, 0, 100, Some(1), false),
        ],
        next: 0,
        fail_after: None,
    };
    let mut sim = Simulation::new(config_with_templates()).unwrap();
    sim.add_pod_source(Box::new(backwards)).unwrap();
    let error = sim.run().map(|_| ()).unwrap_err().to_string();
    assert!(error.contains("arrival order"), "{error}");

    let plain = ListSource {
        pods: vec![sourced(1, 2, 100, Some(1), false)],
        next: 0,
        fail_after: None,
    };
    let mut sim = Simulation::new(config_with_templates()).unwrap();
    let error = sim.add_pod_source(Box::new(plain)).unwrap_err().to_string();
    assert!(error.contains("not a job fed by a source"), "{error}");
}

#[test]
fn a_sourced_pod_past_the_end_never_arrives() {
    let source = ListSource {
        pods: vec![
            sourced(99, 0, 100, Some(1), false),
            sourced(101, 0, 100, Some(1), false),
        ],
        next: 0,
        fail_after: None,
    };
    let mut sim = Simulation::new(config_with_templates()).unwrap();
    sim.add_pod_source(Box::new(source)).unwrap();
    let out = sim.run().unwrap();
    assert_eq!(out.summary.pods_total, 2);
}
