//! A whole pass over a replay: its templates (what `prepare` adds to the
//! configuration) and what `ksim trace inspect` prints.

use std::collections::BTreeMap;

use crate::error::TraceError;
use crate::input::Skipped;
use crate::replay::{Replay, ReplayCounts};
use crate::TraceSpec;

/// One template: the pods of the trace that share it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateStats {
    pub priority: i32,
    pub labels: String,
    pub pods: u64,
    /// Sum of the known run times, and how many are known.
    pub run_ns_total: u128,
    pub runs_known: u64,
    pub gpus: bool,
}

impl TemplateStats {
    pub fn mean_run_ns(&self) -> f64 {
        if self.runs_known == 0 {
            0.0
        } else {
            self.run_ns_total as f64 / self.runs_known as f64
        }
    }
}

/// Arrivals per simulated minute: min, mean and max over the minutes from
/// the first arrival's to the last's (empty minutes count).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerMinute {
    pub min: u64,
    pub mean: f64,
    pub max: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Census {
    pub file: String,
    pub templates: BTreeMap<String, TemplateStats>,
    pub counts: ReplayCounts,
    pub format_counts: Vec<(&'static str, u64)>,
    pub skipped: Skipped,
    pub first_arrival_ns: Option<u64>,
    pub last_arrival_ns: Option<u64>,
    pub per_minute: PerMinute,
    /// Percentiles 50, 90, 99, 100 of CPU (millicores) and memory (bytes),
    /// over pods.
    pub cpu_millis: [u64; 4],
    pub memory_bytes: [u64; 4],
}

pub const PERCENTILES: [f64; 4] = [0.50, 0.90, 0.99, 1.0];
const MINUTE_NS: u64 = 60_000_000_000;

/// Reads the whole replay once. `progress` is called every so often with
/// the bytes read.
pub fn census(spec: &TraceSpec, mut progress: impl FnMut(u64, u64)) -> Result<Census, TraceError> {
    let mut replay = Replay::open(spec)?;
    let (bytes, total) = (replay.bytes_read(), replay.total_bytes());
    let mut templates: BTreeMap<String, TemplateStats> = BTreeMap::new();
    let (mut first, mut last) = (None, None);
    let mut minutes = Minutes::default();
    // (value, pods) per distinct task: instances share one entry.
    let mut cpu: Vec<(u64, u64)> = Vec::new();
    let mut memory: Vec<(u64, u64)> = Vec::new();
    let mut previous_line = 0;
    let file = replay.file().to_string();
    while let Some(pod) = replay.next_pod()? {
        let task = &pod.task;
        first.get_or_insert(pod.arrival_ns);
        last = Some(pod.arrival_ns);
        minutes.add(pod.arrival_ns);
        if task.line != previous_line || cpu.is_empty() {
            cpu.push((task.cpu_millis, 0));
            memory.push((task.memory_bytes, 0));
            previous_line = task.line;
        }
        cpu.last_mut().expect("pushed").1 += 1;
        memory.last_mut().expect("pushed").1 += 1;
        let t = templates
            .entry(task.template.clone())
            .or_insert_with(|| TemplateStats {
                priority: task.priority,
                labels: task.labels.clone(),
                pods: 0,
                run_ns_total: 0,
                runs_known: 0,
                gpus: false,
            });
        if t.priority != task.priority || t.labels != task.labels {
            return Err(TraceError::Row {
                file,
                line: task.line,
                column: 1,
                message: format!(
                    "template `{}` has priority {} and labels `{}` here, {} and `{}` before: a \
                     template's pods share them",
                    task.template, task.priority, task.labels, t.priority, t.labels
                ),
            });
        }
        t.pods += 1;
        t.gpus |= task.gpus > 0;
        if let Some(run) = pod.run_ns {
            t.run_ns_total += u128::from(run);
            t.runs_known += 1;
        }
        if t.pods.is_multiple_of(65_536) {
            progress(bytes.get(), total);
        }
    }
    progress(bytes.get(), total);
    Ok(Census {
        file,
        templates,
        counts: replay.counts.clone(),
        format_counts: replay.format_counts(),
        skipped: replay.skipped().clone(),
        first_arrival_ns: first,
        last_arrival_ns: last,
        per_minute: minutes.finish(),
        cpu_millis: percentiles(cpu),
        memory_bytes: percentiles(memory),
    })
}

#[derive(Default)]
struct Minutes {
    current: Option<u64>,
    in_current: u64,
    count: u64,
    total: u64,
    min: u64,
    max: u64,
}

impl Minutes {
    fn add(&mut self, arrival_ns: u64) {
        let minute = arrival_ns / MINUTE_NS;
        match self.current {
            Some(m) if m == minute => {}
            Some(m) => {
                self.close(self.in_current);
                // Minutes with no arrival between.
                for _ in m + 1..minute {
                    self.close(0);
                }
                self.in_current = 0;
                self.current = Some(minute);
            }
            None => self.current = Some(minute),
        }
        self.in_current += 1;
    }

    fn close(&mut self, n: u64) {
        self.min = if self.count == 0 { n } else { self.min.min(n) };
        self.max = self.max.max(n);
        self.count += 1;
        self.total += n;
    }

    fn finish(mut self) -> PerMinute {
        if self.current.is_none() {
            return PerMinute::default();
        }
        self.close(self.in_current);
        PerMinute {
            min: self.min,
            mean: self.total as f64 / self.count as f64,
            max: self.max,
        }
    }
}

/// Weighted percentiles (nearest rank) of (value, weight) pairs.
fn percentiles(mut values: Vec<(u64, u64)>) -> [u64; 4] {
    values.sort_unstable();
    let total: u64 = values.iter().map(|v| v.1).sum();
    PERCENTILES.map(|p| {
        let rank = ((p * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(value, weight) in &values {
            seen += weight;
            if seen >= rank {
                return value;
            }
        }
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_percentiles_take_the_nearest_rank() {
        assert_eq!(percentiles(vec![(5, 1), (1, 1), (3, 8)]), [3, 3, 5, 5]);
        assert_eq!(percentiles(vec![]), [0; 4]);
    }

    #[test]
    fn empty_minutes_count_toward_the_minimum_and_mean() {
        let mut m = Minutes::default();
        for t in [0, 1, 2, 3 * MINUTE_NS] {
            m.add(t);
        }
        let p = m.finish();
        assert_eq!((p.min, p.max), (0, 3));
        assert_eq!(p.mean, 1.0);
    }
}
