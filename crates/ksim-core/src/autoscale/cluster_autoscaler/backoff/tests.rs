//! Ported from upstream's `utils/backoff/exponential_backoff_test.go`. Its
//! id-keyed back-off becomes an ordered map of group states.

use super::*;
use std::collections::BTreeMap;

fn minutes(m: u64) -> SimDuration {
    SimDuration::from_secs(60 * m)
}

/// Upstream's start time, as a time well into the run.
const START: SimTime = SimTime(1_000 * crate::time::NANOS_PER_SEC);

fn at(offset: SimDuration) -> SimTime {
    START + offset
}

struct Backoffs {
    groups: BTreeMap<&'static str, GroupBackoff>,
    settings: BackoffSettings,
}

impl Backoffs {
    fn new(initial: SimDuration, max: SimDuration, reset_timeout: SimDuration) -> Self {
        Backoffs {
            groups: BTreeMap::new(),
            settings: BackoffSettings {
                initial,
                max,
                reset_timeout,
            },
        }
    }
    fn backoff(&mut self, group: &'static str, now: SimTime) {
        let previous = self.groups.get(group).copied();
        let next = GroupBackoff::after_failure(previous, now, &self.settings);
        self.groups.insert(group, next);
    }
    fn is_backed_off(&self, group: &str, now: SimTime) -> bool {
        self.groups.get(group).is_some_and(|b| b.is_backed_off(now))
    }
    fn remove_stale(&mut self, now: SimTime) {
        let settings = self.settings;
        self.groups.retain(|_, b| !b.is_stale(now, &settings));
    }
}

// upstream: exponential_backoff_test.go TestBackoffTwoKeys
#[test]
fn backoff_two_keys() {
    let mut b = Backoffs::new(minutes(10), minutes(60), minutes(180));
    assert!(!b.is_backed_off("id1", START));
    assert!(!b.is_backed_off("id2", START));
    b.backoff("id1", at(minutes(1)));
    assert!(b.is_backed_off("id1", at(minutes(2))));
    assert!(!b.is_backed_off("id2", START));
    assert!(!b.is_backed_off("id1", at(minutes(11))));
}

// upstream: exponential_backoff_test.go TestMaxBackoff
#[test]
fn max_backoff() {
    let mut b = Backoffs::new(minutes(1), minutes(3), minutes(180));
    b.backoff("id1", START);
    assert!(b.is_backed_off("id1", START));
    assert!(!b.is_backed_off("id1", at(minutes(1))));
    b.backoff("id1", at(minutes(1)));
    assert!(b.is_backed_off("id1", at(minutes(1))));
    assert!(!b.is_backed_off("id1", at(minutes(3))));
    b.backoff("id1", at(minutes(3)));
    assert!(b.is_backed_off("id1", at(minutes(3))));
    assert!(!b.is_backed_off("id1", at(minutes(6))));
}

// upstream: exponential_backoff_test.go TestRemoveBackoff
#[test]
fn remove_backoff() {
    let mut b = Backoffs::new(minutes(1), minutes(3), minutes(180));
    b.backoff("id1", START);
    assert!(b.is_backed_off("id1", START));
    b.groups.remove("id1");
    assert!(!b.is_backed_off("id1", START));
}

// upstream: exponential_backoff_test.go TestResetStaleBackoffData
#[test]
fn reset_stale_backoff_data() {
    let mut b = Backoffs::new(minutes(1), minutes(3), minutes(180));
    b.backoff("id1", START);
    b.backoff("id2", at(minutes(60)));
    b.remove_stale(at(minutes(60)));
    assert_eq!(b.groups.len(), 2);
    b.remove_stale(at(minutes(240)));
    assert_eq!(b.groups.len(), 1);
    b.remove_stale(at(minutes(300)));
    assert_eq!(b.groups.len(), 0);
}

#[test]
fn durations_double_after_expiry_and_hold_during_backoff() {
    let s = BackoffSettings::default();
    let first = GroupBackoff::after_failure(None, START, &s);
    assert_eq!(first.duration, minutes(5));
    // A second failure inside the back-off keeps the length, restarts it.
    let concurrent = GroupBackoff::after_failure(Some(first), at(minutes(2)), &s);
    assert_eq!(concurrent.duration, minutes(5));
    assert_eq!(concurrent.until, at(minutes(7)));
    // After it ends: 10, 20, then capped at 30.
    let mut b = concurrent;
    for expected in [10, 20, 30, 30] {
        b = GroupBackoff::after_failure(Some(b), b.until + SimDuration(1), &s);
        assert_eq!(b.duration, minutes(expected));
    }
}

#[test]
fn default_settings_are_upstream_flags() {
    let s = BackoffSettings::default();
    assert_eq!(s.initial, minutes(5));
    assert_eq!(s.max, minutes(30));
    assert_eq!(s.reset_timeout, minutes(180));
}
