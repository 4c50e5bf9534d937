//! Parsing throughput of the trace readers: rows per second through a
//! whole replay (read, parse, assemble, window and censoring), on
//! generated files in each format's schema. The target is 10^6 rows/s
//! (`docs/performance.md`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ksim_trace::replay::Replay;
use ksim_trace::{Format, TraceSpec};
use std::io::Write;
use std::path::{Path, PathBuf};

const ROWS: u64 = 200_000;

/// Google task_events: each task's SUBMIT, SCHEDULE and FINISH, tasks
/// overlapping as in the trace (each runs 1,000 rows' worth of time).
fn google(dir: &Path, gzip: bool) -> PathBuf {
    let mut text = String::new();
    let tasks = ROWS / 3;
    let mut events: Vec<(u64, u64, u64)> = Vec::new();
    for t in 0..tasks {
        let at = 600_000_000 + t * 1_000;
        events.push((at, t, 0));
        events.push((at + 500, t, 1));
        events.push((at + 1_000_000, t, 4));
    }
    events.sort_unstable();
    for (time, task, kind) in events {
        text.push_str(&format!(
            "{time},,{},{},42,{kind},user,2,9,0.0625,0.03125,0.0001,0\n",
            6_000_000 + task / 100,
            task % 100
        ));
    }
    let name = if gzip {
        "task_events.csv.gz"
    } else {
        "task_events.csv"
    };
    let path = dir.join(name);
    if gzip {
        let file = std::fs::File::create(&path).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(file, Default::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
    } else {
        std::fs::write(&path, text).unwrap();
    }
    path
}

fn native(dir: &Path) -> PathBuf {
    let mut text = String::from(
        "arrival_s,run_s,template,priority,cpu_millis,memory_bytes,gpu,outcome,labels\n",
    );
    for i in 0..ROWS {
        text.push_str(&format!(
            "{}.{:03},{}.5,batch,0,500,1073741824,0,succeeded,\n",
            i / 1000,
            i % 1000,
            i % 600
        ));
    }
    let path = dir.join("native.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn alibaba_gpu(dir: &Path) -> PathBuf {
    let mut text = String::from(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n",
    );
    for i in 0..ROWS {
        text.push_str(&format!(
            "openb-pod-{i:06},12000,16384,1,460,,LS,Running,{i},{},{i}\n",
            i + 540
        ));
    }
    let path = dir.join("openb_pods.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn replay_all(spec: &TraceSpec) -> u64 {
    let mut replay = Replay::open(spec).unwrap();
    while replay.next_pod().unwrap().is_some() {}
    replay.counts.tasks_read
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "google-task-events",
            Format::GoogleCluster2011,
            google(dir.path(), false),
        ),
        (
            "google-task-events-gzip",
            Format::GoogleCluster2011,
            google(dir.path(), true),
        ),
        ("native", Format::Native, native(dir.path())),
        (
            "alibaba-gpu-v2023",
            Format::AlibabaGpuV2023,
            alibaba_gpu(dir.path()),
        ),
    ];
    let mut group = c.benchmark_group("trace_parsing");
    group.sample_size(10);
    for (name, format, path) in cases {
        let spec = TraceSpec::new(format, path);
        // Rows of the file (Google's: three events per task).
        let rows = match format {
            Format::GoogleCluster2011 => ROWS - ROWS % 3,
            _ => ROWS,
        };
        group.throughput(Throughput::Elements(rows));
        group.bench_function(name, |b| b.iter(|| replay_all(&spec)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
