//! The future event list: a radix heap over nanosecond timestamps.
//!
//! Contract: events pop in ascending time; events with equal time pop in the
//! order they were pushed (FIFO). Pushing an event earlier than the last popped
//! time is refused with [`PastEventError`].
//!
//! Why a radix heap: simulated time is monotone (nothing is scheduled before
//! the clock), which is exactly the precondition of a radix heap. Each pending
//! event sits in bucket `b` = number of significant bits of `time ^ now`, so
//! bucket 0 holds events at exactly `now` and bucket `b > 0` holds events that
//! first differ from `now` at bit `b - 1`. Popping drains bucket 0; when it is
//! empty the smallest non-empty bucket is redistributed relative to its
//! minimum, and every event lands in a strictly lower bucket. An event therefore
//! moves at most 64 times over its life (a handful in practice) and each move
//! is a sequential append, so the structure streams through memory where a
//! binary heap with a million entries takes a cache miss per level.
//!
//! FIFO ties come for free: equal times always map to the same bucket, pushes
//! append at the back, and redistribution walks a bucket front to back into
//! buckets that are empty at that moment (all lower buckets are), so relative
//! push order is never disturbed. Bucket 0 is consumed from the front.

use crate::time::SimTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event scheduled at {at} but the clock is already at {now}")]
pub struct PastEventError {
    pub at: SimTime,
    pub now: SimTime,
}

/// Bucket 0 plus one bucket per bit of a `u64` time.
const BUCKET_COUNT: usize = 65;

#[derive(Debug, Clone, Copy)]
struct Entry<E> {
    time_ns: u64,
    event: E,
}

pub struct EventQueue<E: Copy> {
    buckets: [Vec<Entry<E>>; BUCKET_COUNT],
    /// Earliest time in each bucket (`u64::MAX` when empty); makes `peek_time`
    /// O(1) and spares a separate min-scan before each redistribution.
    bucket_min_ns: [u64; BUCKET_COUNT],
    /// Bit `b` set iff bucket `b` holds an event not yet popped.
    occupied: u128,
    /// Bucket 0 is consumed from the front; entries before this index are popped.
    head0: usize,
    now: SimTime,
    len: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            buckets: std::array::from_fn(|_| Vec::new()),
            bucket_min_ns: [u64::MAX; BUCKET_COUNT],
            occupied: 0,
            head0: 0,
            now: SimTime::ZERO,
            len: 0,
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
        let bucket = bucket_of(time.0, self.now.0);
        self.insert(
            bucket,
            Entry {
                time_ns: time.0,
                event,
            },
        );
        self.len += 1;
        Ok(())
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        if self.occupied & 1 == 0 {
            self.advance_clock_to_next_bucket();
        }
        let entry = self.buckets[0][self.head0];
        self.head0 += 1;
        if self.head0 == self.buckets[0].len() {
            self.buckets[0].clear();
            self.head0 = 0;
            self.bucket_min_ns[0] = u64::MAX;
            self.occupied &= !1;
        }
        self.len -= 1;
        Some((self.now, entry.event))
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        if self.len == 0 {
            return None;
        }
        let first = self.occupied.trailing_zeros() as usize;
        Some(SimTime(self.bucket_min_ns[first]))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn insert(&mut self, bucket: usize, entry: Entry<E>) {
        self.buckets[bucket].push(entry);
        let min = &mut self.bucket_min_ns[bucket];
        *min = (*min).min(entry.time_ns);
        self.occupied |= 1 << bucket;
    }

    /// Moves the clock to the earliest pending time and redistributes the
    /// bucket holding it, which fills bucket 0. Requires bucket 0 empty and
    /// at least one event pending.
    fn advance_clock_to_next_bucket(&mut self) {
        let source = self.occupied.trailing_zeros() as usize;
        debug_assert!(source > 0 && source < BUCKET_COUNT);
        self.now = SimTime(self.bucket_min_ns[source]);
        // Taken out and put back so the bucket keeps its capacity for reuse.
        let mut entries = std::mem::take(&mut self.buckets[source]);
        self.bucket_min_ns[source] = u64::MAX;
        self.occupied &= !(1 << source);
        for entry in entries.drain(..) {
            // Every target is below `source`: the entries agree with the new
            // clock on all bits from `source - 1` upwards.
            self.insert(bucket_of(entry.time_ns, self.now.0), entry);
        }
        self.buckets[source] = entries;
    }
}

/// Number of significant bits in `time_ns ^ now_ns`: 0 when equal, else one
/// more than the index of the highest bit where they differ.
fn bucket_of(time_ns: u64, now_ns: u64) -> usize {
    (u64::BITS - (time_ns ^ now_ns).leading_zeros()) as usize
}
