//! The future event list. PLACEHOLDER: a BinaryHeap keyed by (time, sequence);
//! to be replaced by a faster structure with the same contract.
//!
//! Contract: events pop in ascending time; events with equal time pop in the
//! order they were pushed (FIFO). Pushing an event earlier than the last popped
//! time is refused with [`PastEventError`].

use crate::time::SimTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event scheduled at {at} but the clock is already at {now}")]
pub struct PastEventError {
    pub at: SimTime,
    pub now: SimTime,
}

#[derive(Debug)]
struct Entry<E> {
    time: SimTime,
    seq: u64,
    event: E,
}
impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

pub struct EventQueue<E: Copy> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
    now: SimTime,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }

    /// Time of the last popped event (the simulation clock).
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn push(&mut self, time: SimTime, event: E) -> Result<(), PastEventError> {
        if time < self.now {
            return Err(PastEventError {
                at: time,
                now: self.now,
            });
        }
        self.heap.push(Reverse(Entry {
            time,
            seq: self.next_seq,
            event,
        }));
        self.next_seq += 1;
        Ok(())
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let Reverse(entry) = self.heap.pop()?;
        self.now = entry.time;
        Some((entry.time, entry.event))
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
