//! A node group's back-off after a failed scale-up (upstream's
//! `utils/backoff/exponential_backoff.go`): the first failure backs the group
//! off for the initial duration; a failure after the back-off ended doubles
//! it, up to the maximum; one during the back-off (concurrent scale-ups
//! failing together) restarts it at the same length. The history is
//! forgotten once the last failure is older than the reset timeout.
//!
//! The state of one group is a value; the controller keeps one per group
//! (in an ordered map) and drops it on success or when stale.

use super::{
    DEFAULT_INITIAL_NODE_GROUP_BACKOFF, DEFAULT_MAX_NODE_GROUP_BACKOFF,
    DEFAULT_NODE_GROUP_BACKOFF_RESET_TIMEOUT,
};
use crate::time::{SimDuration, SimTime};

/// The three back-off flags.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BackoffSettings {
    /// `--initial-node-group-backoff-duration`
    pub initial: SimDuration,
    /// `--max-node-group-backoff-duration`
    pub max: SimDuration,
    /// `--node-group-backoff-reset-timeout`
    pub reset_timeout: SimDuration,
}

impl Default for BackoffSettings {
    fn default() -> Self {
        BackoffSettings {
            initial: DEFAULT_INITIAL_NODE_GROUP_BACKOFF,
            max: DEFAULT_MAX_NODE_GROUP_BACKOFF,
            reset_timeout: DEFAULT_NODE_GROUP_BACKOFF_RESET_TIMEOUT,
        }
    }
}

/// One group's back-off.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GroupBackoff {
    pub duration: SimDuration,
    pub until: SimTime,
    pub last_failure: SimTime,
}

impl GroupBackoff {
    /// The state after a failure at `now`, given the group's state before.
    pub fn after_failure(
        previous: Option<GroupBackoff>,
        now: SimTime,
        settings: &BackoffSettings,
    ) -> GroupBackoff {
        let duration = match previous {
            None => settings.initial,
            Some(p) if p.until < now => p
                .duration
                .0
                .checked_mul(2)
                .map_or(settings.max, |d| SimDuration(d).min(settings.max)),
            Some(p) => p.duration,
        };
        GroupBackoff {
            duration,
            until: now + duration,
            last_failure: now,
        }
    }

    /// True while scale-ups of the group are held back.
    pub fn is_backed_off(&self, now: SimTime) -> bool {
        self.until > now
    }

    /// True once the history should be forgotten.
    pub fn is_stale(&self, now: SimTime, settings: &BackoffSettings) -> bool {
        self.last_failure + settings.reset_timeout < now
    }
}

#[cfg(test)]
mod tests;
