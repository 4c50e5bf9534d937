//! Driving the controllers: their timers and event subscriptions, and the
//! fixed order in which their actions are applied.
//!
//! Controllers due at one instant run in the order they were added (the
//! scenario's order); the actions they return are applied after all of them
//! ran, sorted by class ([`Action::order`]: replicas, new nodes, changes to
//! existing nodes), keeping the controllers' order within a class.

use super::{Event, Simulation};
use crate::cluster::NEVER;
use crate::controller::{Action, ClusterView, Controller, Decision, Subscriptions, Wake};
use crate::metrics::{NodeAutoscalerSummary, NodePressureSummary};
use crate::rng::{RngStreams, SimRng};
use crate::time::SimTime;
use std::collections::BTreeSet;

/// The controllers of a run and what wakes them.
#[derive(Default)]
pub(super) struct Controllers {
    list: Vec<Box<dyn Controller>>,
    rngs: Vec<SimRng>,
    subscriptions: Vec<Subscriptions>,
    /// Per controller: its next timer, `NEVER` when it has none.
    timers: Vec<SimTime>,
    /// Per controller: subscribed events seen since it last ran.
    pending: Vec<Subscriptions>,
    /// Every controller's subscriptions together, to skip the loop when
    /// nobody listens.
    any: Subscriptions,
    /// The instant a wake-up for events is already scheduled at.
    event_wake_at: Option<SimTime>,
    /// Instants a wake-up for timers is scheduled at: controllers sharing a
    /// period (a thousand HPAs) share one event per instant.
    timer_wakes: BTreeSet<SimTime>,
    actions: Vec<Action>,
    /// Every decision the autoscalers explained, in order.
    pub(super) decisions: Vec<Decision>,
    /// Actions the model refused (a pool at its max, a node already gone, ...).
    pub(super) refused: u64,
    pub(super) applied: u64,
}

/// Why a controller cannot be added.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControllerError {
    #[error(
        "a controller named `{0}` already exists: names label random streams and must be unique"
    )]
    DuplicateName(String),
    #[error("controller `{0}` added after the run started")]
    RunStarted(String),
}

impl Controllers {
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|c| c.name())
    }

    /// The first node autoscaler's account of the run (a scenario has one at most).
    pub(super) fn node_autoscaler_summary(&self) -> Option<NodeAutoscalerSummary> {
        self.list.iter().find_map(|c| c.node_autoscaler_summary())
    }

    pub(super) fn pods_no_group(&self) -> Option<&BTreeSet<crate::ids::PodId>> {
        self.list.iter().find_map(|c| c.pods_no_group())
    }

    pub(super) fn node_pressure_summary(&self) -> Option<NodePressureSummary> {
        self.list.iter().find_map(|c| c.node_pressure_summary())
    }
}

impl Simulation {
    /// Adds a controller before the run starts. It draws from its own
    /// stream, `controller/<name>`, so adding one never changes the draws of
    /// the others or of the rest of the model.
    pub fn add_controller(
        &mut self,
        controller: Box<dyn Controller>,
    ) -> Result<(), ControllerError> {
        let name = controller.name().to_string();
        if self.counters.events > 0 {
            return Err(ControllerError::RunStarted(name));
        }
        if self.controllers.names().any(|n| n == name) {
            return Err(ControllerError::DuplicateName(name));
        }
        let c = &mut self.controllers;
        let streams = RngStreams::new(self.config.seed);
        c.rngs.push(streams.stream(&format!("controller/{name}")));
        c.subscriptions.push(controller.subscriptions());
        c.any = c.any.union(controller.subscriptions());
        c.pending.push(Subscriptions::NONE);
        let first = controller.first_wake();
        c.timers.push(first.unwrap_or(NEVER));
        c.list.push(controller);
        if let Some(at) = first {
            self.schedule_timer_wake(at);
        }
        Ok(())
    }

    /// A cluster event: controllers subscribed to it run at this instant,
    /// after the events already scheduled for it.
    pub(super) fn notify_controllers(&mut self, now: SimTime, event: Subscriptions) {
        let c = &mut self.controllers;
        if !c.any.intersects(event) {
            return;
        }
        for (pending, subscribed) in c.pending.iter_mut().zip(&c.subscriptions) {
            if subscribed.intersects(event) {
                *pending = pending.union(event);
            }
        }
        if c.event_wake_at != Some(now) {
            c.event_wake_at = Some(now);
            self.schedule(now, Event::ControllersWake);
        }
    }

    fn schedule_timer_wake(&mut self, at: SimTime) {
        if self.controllers.timer_wakes.insert(at) {
            self.schedule(at, Event::ControllersWake);
        }
    }

    /// Runs every controller due now, in order, then applies their actions.
    pub(super) fn wake_controllers(&mut self, now: SimTime) {
        self.controllers.timer_wakes.remove(&now);
        let mut list = std::mem::take(&mut self.controllers.list);
        for (i, controller) in list.iter_mut().enumerate() {
            let c = &mut self.controllers;
            let events = std::mem::take(&mut c.pending[i]);
            if c.timers[i] != now && events.is_empty() {
                continue;
            }
            let view = ClusterView {
                config: &self.config,
                cluster: &self.cluster,
                pool_live: &self.node_book.pool_live,
                unschedulable: &self.counters.unschedulable,
                pods: &self.pods,
                workload_pods: &self.workload_pods,
                workload_counts: &self.workload_counts,
                serving: &self.serving,
                node_pods: &self.nodes.pods,
                placement: &self.placement,
            };
            let next = controller.wake(Wake {
                now,
                events,
                view,
                rng: &mut c.rngs[i],
                actions: &mut c.actions,
                decisions: &mut c.decisions,
            });
            let timer = match next {
                Some(at) if at > now => at,
                Some(at) => {
                    let problem = format!("asked to be woken at {at}, not after now ({now})");
                    self.violation(format!("controller {}", controller.name()), problem);
                    NEVER
                }
                None => NEVER,
            };
            self.controllers.timers[i] = timer;
            if timer != NEVER {
                self.schedule_timer_wake(timer);
            }
        }
        self.controllers.list = list;
        if self.controllers.event_wake_at == Some(now) {
            self.controllers.event_wake_at = None;
        }
        let mut actions = std::mem::take(&mut self.controllers.actions);
        actions.sort_by_key(Action::order);
        for action in actions.drain(..) {
            self.request_action(now, action);
        }
        self.controllers.actions = actions;
    }
}
