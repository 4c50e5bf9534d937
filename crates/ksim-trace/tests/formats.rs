//! Each format's reader on small hand-written fixtures in the real schema,
//! malformed rows included.

use std::io::Write;
use std::path::{Path, PathBuf};

use ksim_trace::replay::{Replay, ReplayPod};
use ksim_trace::{Format, TraceError, TraceSpec};

const S: u64 = 1_000_000_000;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn gzip(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), Default::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
    path
}

fn pods(spec: &TraceSpec) -> Result<Vec<ReplayPod>, TraceError> {
    let mut replay = Replay::open(spec)?;
    let mut out = Vec::new();
    while let Some(pod) = replay.next_pod()? {
        out.push(pod.clone());
    }
    Ok(out)
}

fn replay_counts(spec: &TraceSpec) -> ksim_trace::replay::ReplayCounts {
    let mut replay = Replay::open(spec).unwrap();
    while replay.next_pod().unwrap().is_some() {}
    replay.counts.clone()
}

/// Google 2011 task_events: time µs, missing, job, index, machine, event,
/// user, class, priority, cpu, memory, disk, different-machines.
const GOOGLE: &str = "\
0,,1,0,7,0,u,2,9,0.0625,0.03125,0,0
0,,1,0,7,1,u,2,9,0.0625,0.03125,0,0
600000000,,2,0,,0,u,0,0,0.125,0.25,0,0
601000000,,2,1,,0,u,0,0,0.125,0.25,0,0
602000000,,2,0,8,1,u,0,0,,,,
610000000,,2,1,9,1,u,0,0,,,,
650000000,,2,0,8,4,u,0,0,,,,
700000000,,1,0,7,5,u,2,9,,,,
710000000,,2,1,9,2,u,0,0,,,,
720000000,,2,1,,0,u,0,0,0.125,0.25,0,0
730000000,,3,0,,0,u,0,0,0.5,0.5,0,0
740000000,,3,0,,5,u,0,0,,,,
";

#[test]
fn google_task_events_become_tasks_in_arrival_order_with_censoring() {
    let dir = tempfile::tempdir().unwrap();
    let path = gzip(dir.path(), "task_events.csv.gz", GOOGLE);
    let spec = TraceSpec::new(Format::GoogleCluster2011, path);
    let got = pods(&spec).unwrap();
    let summary: Vec<(u64, Option<u64>, bool, &str, u64)> = got
        .iter()
        .map(|p| {
            (
                p.arrival_ns,
                p.run_ns,
                p.failed,
                p.task.template.as_str(),
                p.task.cpu_millis,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // Present before the trace: initial state, what was left of it
            // at 600 s (killed at 700 s: failed).
            (0, Some(100 * S), true, "priority-9", 2_000),
            // Scheduled at 602 s, finished at 650 s.
            (0, Some(48 * S), false, "priority-0", 4_000),
            // Scheduled at 610 s, evicted at 710 s: failed.
            (S, Some(100 * S), true, "priority-0", 4_000),
            // Its retry: never scheduled again, no end.
            (120 * S, None, false, "priority-0", 4_000),
        ]
    );
    let c = replay_counts(&spec);
    assert_eq!(c.censored_at_start, 1);
    assert_eq!(c.censored_no_end, 1);
    // Job 3 was killed before it was ever scheduled.
    assert_eq!(c.ended_unstarted, 1);
    assert_eq!(got[0].task.memory_bytes, 4 << 30);
}

#[test]
fn a_window_and_time_scale_shift_and_stretch_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "task_events.csv", GOOGLE);
    let mut spec = TraceSpec::new(Format::GoogleCluster2011, path);
    spec.window_start_s = Some(605);
    spec.window_end_s = Some(720);
    spec.time_scale = 2.0;
    let got = pods(&spec).unwrap();
    let arrivals: Vec<(u64, Option<u64>)> = got.iter().map(|p| (p.arrival_ns, p.run_ns)).collect();
    // Job 1 (running), task 2/0 (running since 602 s, until 650 s) and
    // task 2/1 (pending at 605 s) are all initial state; the retry at
    // 720 s is past the window.
    assert_eq!(
        arrivals,
        vec![
            (0, Some(2 * 95 * S)),
            (0, Some(2 * 45 * S)),
            (0, Some(2 * 100 * S))
        ]
    );
    let mut replay = Replay::open(&spec).unwrap();
    while replay.next_pod().unwrap().is_some() {}
    assert_eq!(replay.counts.censored_at_start, 3);
    // Events past the window (the retry's SUBMIT at 720 s is in it, job
    // 3's at 730 s is not) are never read.
    assert!(replay
        .format_counts()
        .contains(&("events_read_until_window_end", 1)));
}

#[test]
fn a_malformed_row_names_file_line_and_column_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOGLE.replace(
        "601000000,,2,1,,0,u,0,0,0.125",
        "601000000,,2,1,,0,u,0,0,lots",
    );
    let bad = bad.replace("730000000,,3,0,,0", "730000000,,3,0,,x");
    let path = write(dir.path(), "task_events.csv", &bad);
    let mut spec = TraceSpec::new(Format::GoogleCluster2011, path.clone());
    let error = pods(&spec).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{}:4:10: CPU request `lots` is not a number >= 0",
            path.display()
        )
    );
    spec.skip_bad_rows = true;
    let mut replay = Replay::open(&spec).unwrap();
    while replay.next_pod().unwrap().is_some() {}
    assert_eq!(replay.skipped().rows, 2);
    assert_eq!(replay.skipped().first_lines, vec![4, 11]);
}

#[test]
fn a_file_of_another_format_is_named_as_what_it_looks_like() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "batch_task.csv", ALIBABA_2017);
    let spec = TraceSpec::new(Format::GoogleCluster2011, path.clone());
    let error = pods(&spec).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "`{}` looks like alibaba-v2017 (batch_task), not google-cluster-2011 (task_events)",
            path.display()
        )
    );
    let spec = TraceSpec::new(Format::AlibabaGpuV2023, path);
    let error = pods(&spec).unwrap_err().to_string();
    assert!(
        error.contains("not alibaba-gpu-v2023 (a pod list)"),
        "{error}"
    );
}

#[test]
fn a_truncated_gzip_file_is_an_error_not_a_shorter_trace() {
    let dir = tempfile::tempdir().unwrap();
    let long: String = (0..5_000)
        .map(|i| format!("{},,{i},0,,0,u,0,0,0.01,0.01,0,0\n", 600_000_000 + i))
        .collect();
    let whole = gzip(dir.path(), "whole.csv.gz", &long);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.csv.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let spec = TraceSpec::new(Format::GoogleCluster2011, whole);
    assert_eq!(pods(&spec).unwrap().len(), 5_000);
    let spec = TraceSpec::new(Format::GoogleCluster2011, cut.clone());
    match pods(&spec) {
        Err(TraceError::Truncated { file, line }) => {
            assert_eq!(file, cut.display().to_string());
            assert!(line > 0 && line < 5_000, "{line}");
        }
        other => panic!("expected a truncated-file error, got {other:?}"),
    }
    // Even with bad rows skipped: truncation is not a bad row.
    let mut spec = TraceSpec::new(Format::GoogleCluster2011, cut);
    spec.skip_bad_rows = true;
    assert!(matches!(pods(&spec), Err(TraceError::Truncated { .. })));
}

#[test]
fn a_missing_file_names_the_resolved_path() {
    let spec = TraceSpec::new(Format::Native, PathBuf::from("no/such/trace.csv"));
    let error = pods(&spec).unwrap_err().to_string();
    let resolved = std::env::current_dir().unwrap().join("no/such/trace.csv");
    assert_eq!(
        error,
        format!("trace file `{}` does not exist", resolved.display())
    );
}

/// batch_task as the shared copy has it: a header with spaces, CRLF
/// endings, ordered by job rather than time.
const ALIBABA_2017: &str = "task_create_time, task_end_time, job_id, task_id,number_of_instances, status, number_of_cpus_requested_per_instance_in_the_task,normalized_memory_requested_per_instance_in_the_task\r
6459,6524,3,4,2,Terminated,50,0.0078125\r
100,160,4,7,1,Failed,100,0.015625\r
-50,40,5,1,1,Terminated,50,0.0078125\r
-80,-10,5,2,1,Terminated,50,0.0078125\r
6036,6046,4,6,3,Waiting,,\r
";

#[test]
fn alibaba_2017_tasks_are_sorted_and_expanded_into_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "batch_task.csv", ALIBABA_2017);
    let spec = TraceSpec::new(Format::AlibabaV2017, path);
    let got: Vec<(u64, Option<u64>, bool, u64, u64)> = pods(&spec)
        .unwrap()
        .iter()
        .map(|p| {
            (
                p.arrival_ns / S,
                p.run_ns.map(|r| r / S),
                p.failed,
                p.task.cpu_millis,
                p.task.memory_bytes,
            )
        })
        .collect();
    let gib = 1u64 << 30;
    assert_eq!(
        got,
        vec![
            // Running at 0: initial state with 40 s left.
            (0, Some(40), false, 500, gib),
            (100, Some(60), true, 1_000, 2 * gib),
            (6036, None, false, 0, 0),
            (6036, None, false, 0, 0),
            (6036, None, false, 0, 0),
            (6459, Some(65), false, 500, gib),
            (6459, Some(65), false, 500, gib),
        ]
    );
    let c = replay_counts(&spec);
    assert_eq!((c.tasks_read, c.pods), (5, 7));
    assert_eq!(c.ended_before_window, 1);
    assert_eq!(c.censored_no_end, 3);
}

#[test]
fn alibaba_2017_bad_status_is_a_row_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = ALIBABA_2017.replace("Failed", "Exploded");
    let path = write(dir.path(), "batch_task.csv", &text);
    let error = pods(&TraceSpec::new(Format::AlibabaV2017, path.clone()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}:3:6: status `Exploded` is not Terminated, Failed, Waiting or Running",
            path.display()
        )
    );
}

const GPU_PODS: &str = "\
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
openb-pod-0000,12000,16384,1,1000,,LS,Running,0,500,0
openb-pod-0001,6000,12288,1,460,,BE,Failed,10,70,20
openb-pod-0002,4000,4096,0,0,,LS,Pending,30,90,
openb-pod-0003,88000,327680,8,1000,V100|P100,Guaranteed,Succeeded,40,140,50
";

#[test]
fn alibaba_gpu_pods_keep_their_units_and_round_shared_gpus_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pods.csv", GPU_PODS);
    let spec = TraceSpec::new(Format::AlibabaGpuV2023, path);
    // arrival s, run s, failed, template, milli-CPU, MiB, GPUs
    let got: Vec<String> = pods(&spec)
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {:?} {} {} {} {} {}",
                p.arrival_ns / S,
                p.run_ns.map(|r| r / S),
                p.failed,
                p.task.template,
                p.task.cpu_millis,
                p.task.memory_bytes >> 20,
                p.task.gpus
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "0 Some(500) false ls-gpu 12000 16384 1",
            // 460 milli-GPU asks for one whole GPU.
            "10 Some(50) true be-gpu 6000 12288 1",
            // Never scheduled: from creation to deletion.
            "30 Some(60) false ls-cpu 4000 4096 0",
            "40 Some(90) false guaranteed-gpu 88000 327680 8",
        ]
    );
    let mut replay = Replay::open(&spec).unwrap();
    while replay.next_pod().unwrap().is_some() {}
    let counts = replay.format_counts();
    assert!(counts.contains(&("gpu_share_rounded_up", 1)), "{counts:?}");
    assert!(
        counts.contains(&("never_scheduled_in_trace", 1)),
        "{counts:?}"
    );
}

#[test]
fn alibaba_gpu_node_list_groups_nodes_by_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "nodes.csv",
        "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,262144,0,\nn1,96000,786432,8,V100M32\nn2,32000,262144,0,\nn3,96000,786432,8,bad\n",
    );
    let shapes = ksim_trace::alibaba::read_nodes(&path, Default::default(), false).unwrap();
    let got: Vec<_> = shapes.into_iter().collect();
    assert_eq!(
        got,
        vec![
            ((32_000, 262_144 << 20, 0, String::new()), 2),
            ((96_000, 786_432 << 20, 8, "V100M32".into()), 1),
            ((96_000, 786_432 << 20, 8, "bad".into()), 1),
        ]
    );
    let broken = write(
        dir.path(),
        "broken.csv",
        "sn,cpu_milli,memory_mib,gpu,model\nn0,lots,1,0,\n",
    );
    let error = ksim_trace::alibaba::read_nodes(&broken, Default::default(), false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}:2:2: cpu_milli `lots` is not a whole number >= 0",
            broken.display()
        )
    );
}

#[test]
fn google_machines_at_the_start_become_pool_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = gzip(
        dir.path(),
        "machine_events.csv.gz",
        "0,5,0,h,0.5,0.25\n0,6,0,h,0.5,0.25\n0,7,0,h,1,1\n0,8,0,h,,\n0,7,1,h,,\n900,9,0,h,0.5,0.25\n\
         950,5,2,h,0.5,0.5\n960,6,1,h,,\n970,4,1,h,,\n",
    );
    let machines = ksim_trace::google::read_machines(&path, Default::default(), false).unwrap();
    let shapes: Vec<_> = machines.shapes.iter().map(|(s, n)| (*s, *n)).collect();
    let half = (16_000, 32 << 30);
    assert_eq!(shapes, vec![(half, 2)]);
    assert_eq!(machines.missing_capacity, 1);
    // Later: machine 9 added, machine 6 removed (its shape from its ADD);
    // the UPDATE of 5 and the REMOVE of a machine never added are counted.
    let event = |time_us: i64, added| ksim_trace::google::MachineEvent {
        time_us,
        shape: half,
        added,
    };
    assert_eq!(machines.events, vec![event(900, true), event(960, false)]);
    assert_eq!(machines.later_events, 2);
}

#[test]
fn native_rows_round_trip_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "arrival_s,run_s,template,priority,cpu_millis,memory_bytes,gpu,outcome,labels\n\
                0,1.5,web,100,250,1048576,0,succeeded,app=web;tier=front\n\
                0.000000001,,batch,0,1000,0,1,failed,\n";
    let path = write(dir.path(), "pods.csv", text);
    let spec = TraceSpec::new(Format::Native, path);
    let mut out = Vec::new();
    ksim_trace::native::convert(&spec, &mut out, |_, _| {}).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        text.replace("                ", "")
    );
    for (bad, message) in [
        (
            "1,,web,0,1,1,0,maybe,",
            "2:8: outcome `maybe` is not succeeded or failed",
        ),
        ("1,-2,web,0,1,1,0,failed,", "2:2: run_s is negative"),
        (
            "1,1e3,web,0,1,1,0,failed,",
            "2:2: run_s `1e3` is not seconds (up to 9 decimals)",
        ),
        (
            "1,1,web,0,1,1,0,failed,novalue",
            "2:9: label `novalue` is not key=value",
        ),
        ("1,1,web,0,1,1,0,failed", "2:1: expected 9 fields, found 8"),
    ] {
        let path = write(
            dir.path(),
            "bad.csv",
            &format!("{}\n{bad}\n", ksim_trace::native::HEADER.join(",")),
        );
        let error = pods(&TraceSpec::new(Format::Native, path.clone()))
            .unwrap_err()
            .to_string();
        assert_eq!(error, format!("{}:{message}", path.display()));
    }
    let backwards = write(
        dir.path(),
        "backwards.csv",
        &format!(
            "{}\n5,1,a,0,1,1,0,succeeded,\n4,1,a,0,1,1,0,succeeded,\n",
            ksim_trace::native::HEADER.join(",")
        ),
    );
    let error = pods(&TraceSpec::new(Format::Native, backwards))
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with(":3:1: arrival_s goes back in time: rows must be in arrival order"),
        "{error}"
    );
}

#[test]
fn a_pod_limit_stops_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "batch_task.csv", ALIBABA_2017);
    let mut spec = TraceSpec::new(Format::AlibabaV2017, path);
    spec.pod_limit = Some(4);
    assert_eq!(pods(&spec).unwrap().len(), 4);
    assert!(replay_counts(&spec).stopped_at_pod_limit);
}

#[test]
fn azure_invocations_become_per_second_rate_series() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "invocations.csv",
        "HashOwner,HashApp,HashFunction,Trigger,1,2,3\no,a,0123456789abcdef,http,60,0,30\no,a,fedcba9876543210,timer,1,1,1\n",
    );
    let mut out = Vec::new();
    let (functions, minutes) = ksim_trace::azure::read_invocations(&path, false, |f| {
        ksim_trace::azure::write_series(&mut out, &f).unwrap();
        Ok(())
    })
    .unwrap();
    assert_eq!((functions, minutes.len()), (2, 3));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().take(3).collect::<Vec<_>>(),
        vec!["0,fn-01234567,1", "60,fn-01234567,0", "120,fn-01234567,0.5"]
    );
    let bad = write(
        dir.path(),
        "bad.csv",
        "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1,-4\n",
    );
    let error = ksim_trace::azure::read_invocations(&bad, false, |_| Ok(()))
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}:2:6: invocations `-4` is not a whole number >= 0",
            bad.display()
        )
    );
}
