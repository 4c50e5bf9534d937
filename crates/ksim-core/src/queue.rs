//! The future event list: a radix heap over nanosecond timestamps with 8-bit
//! digits, whose earliest bucket is sorted into a short "run" to pop from.
//!
//! Contract: events pop in ascending time; events with equal time pop in the
//! order they were pushed (FIFO). Pushing an event earlier than the last popped
//! time is refused with [`PastEventError`].
//!
//! Why a radix heap: simulated time is monotone (nothing is scheduled before
//! the clock), which is exactly what a radix heap needs. Relative to a base
//! time no later than the clock, an event whose time first differs from the
//! base in base-256 digit `level` lives in bucket `(level, its digit there)`,
//! and bucket order is time order. When the first non-empty bucket is large,
//! the base moves to its earliest time and the bucket is redistributed; every
//! event lands at a strictly lower level, so an event moves a few times over
//! its life (about 2.5 in the 1M-event hold benchmark) and each move is a
//! sequential append. Once the first bucket is small (or holds a single time)
//! it is stably sorted into the run. A binary heap with a million entries
//! instead takes a cache miss per level on every push and pop.
//!
//! FIFO ties: equal times always share a bucket, pushes append at the back,
//! redistribution walks a bucket front to back into lower buckets (all empty
//! at that moment), the run sort is stable, and a push into the run's time
//! range goes after every run event at or before its time.
//!
//! Memory: buckets are linked lists of [`BLOCK_LEN`]-event blocks in one
//! arena, and emptied blocks go to a free list shared by all buckets, so the
//! footprint follows the peak number of pending events (24 bytes each for a
//! 16-byte event) instead of each bucket's busiest moment.

use crate::time::SimTime;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event scheduled at {at} but the clock is already at {now}")]
pub struct PastEventError {
    pub at: SimTime,
    pub now: SimTime,
}

const DIGIT_BITS: u32 = 8;
const DIGITS_PER_LEVEL: usize = 1 << DIGIT_BITS;
const LEVELS: usize = (u64::BITS / DIGIT_BITS) as usize;
const BUCKET_COUNT: usize = LEVELS * DIGITS_PER_LEVEL;
const OCCUPANCY_WORDS: usize = BUCKET_COUNT / 64;
/// Events per arena block: large enough for sequential streaming, small enough
/// that the one partly filled block per non-empty bucket wastes little.
const BLOCK_LEN: usize = 64;
/// Marks the end of a bucket's block list.
const NO_BLOCK: u32 = u32::MAX;
/// Buckets this small are sorted into the run instead of being split further:
/// below this size a stable sort is cheaper than more passes over memory.
const SORT_LIMIT: u32 = 256;
/// A run this long is spilled back to its bucket rather than taking another
/// insertion in its middle, so a burst of out-of-order pushes into the run's
/// time range costs amortised O(1) each instead of O(run length). Twice
/// `SORT_LIMIT`, so at least that many pushes pay for each spill.
const SPILL_LIMIT: usize = 2 * SORT_LIMIT as usize;
/// Run capacity kept after a burst (a single time with many events) passed.
const RUN_KEPT_CAPACITY: usize = SPILL_LIMIT;

#[derive(Debug, Clone, Copy)]
struct Entry<E> {
    time_ns: u64,
    event: E,
}

/// An append-only list of events as a linked list of arena blocks. Every
/// block but the last is full.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    head: u32,
    tail: u32,
    /// Number of events written to the tail block.
    tail_len: u32,
    len: u32,
    /// Earliest time in the bucket; valid only while it is non-empty.
    min_ns: u64,
}

const EMPTY_BUCKET: Bucket = Bucket {
    head: NO_BLOCK,
    tail: NO_BLOCK,
    tail_len: 0,
    len: 0,
    min_ns: u64::MAX,
};

pub struct EventQueue<E: Copy> {
    /// The earliest pending events, sorted by time and then push order. Holds
    /// every pending event up to `run_last_ns`; no bucket does.
    run: VecDeque<Entry<E>>,
    /// Latest time covered by the run, if a run is active.
    run_last_ns: Option<u64>,
    /// Radix heap over the events after the run, bucketed relative to
    /// `base_ns`. Index order is time order.
    buckets: Box<[Bucket; BUCKET_COUNT]>,
    /// The reference time of the bucketing: a lower bound of every pending
    /// time, at most `now`.
    base_ns: u64,
    /// Bit `b % 64` of word `b / 64` is set iff bucket `b` is non-empty.
    occupancy: [u64; OCCUPANCY_WORDS],
    /// Bit `w` is set iff `occupancy[w]` is non-zero.
    occupancy_summary: u32,
    /// Bucket storage, `BLOCK_LEN` entries per block.
    arena: Vec<Entry<E>>,
    /// Successor of each block in its bucket's list.
    next_block: Vec<u32>,
    free_blocks: Vec<u32>,
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
            run: VecDeque::new(),
            run_last_ns: None,
            buckets: Box::new([EMPTY_BUCKET; BUCKET_COUNT]),
            base_ns: 0,
            occupancy: [0; OCCUPANCY_WORDS],
            occupancy_summary: 0,
            arena: Vec::new(),
            next_block: Vec::new(),
            free_blocks: Vec::new(),
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
        let entry = Entry {
            time_ns: time.0,
            event,
        };
        match self.run_last_ns {
            Some(last_ns) if time.0 <= last_ns => self.insert_into_run(entry),
            _ => self.append(entry),
        }
        self.len += 1;
        Ok(())
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.run.is_empty() && !self.refill_run() {
            return None;
        }
        let entry = self.run.pop_front()?;
        self.now = SimTime(entry.time_ns);
        self.len -= 1;
        Some((self.now, entry.event))
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        let earliest_ns = match self.run.front() {
            Some(entry) => entry.time_ns,
            None => self.buckets[self.first_occupied()?].min_ns,
        };
        Some(SimTime(earliest_ns))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the queue holds: the arena at its peak (freed blocks are reused,
    /// never returned), block links and the run.
    pub fn bytes_held(&self) -> u64 {
        let entry = std::mem::size_of::<Entry<E>>();
        let link = std::mem::size_of::<u32>();
        let bytes = (self.arena.len() + self.run.capacity()) * entry
            + (self.next_block.len() + self.free_blocks.capacity()) * link;
        bytes as u64
    }

    /// Inserts after every run event at or before its time (FIFO ties).
    fn insert_into_run(&mut self, entry: Entry<E>) {
        let position = self.run.partition_point(|e| e.time_ns <= entry.time_ns);
        if position == self.run.len() {
            self.run.push_back(entry);
        } else if position == 0 {
            self.run.push_front(entry);
        } else if self.run.len() < SPILL_LIMIT {
            self.run.insert(position, entry);
        } else {
            self.spill_run();
            self.append(entry);
        }
    }

    /// Returns the run to the radix heap. Its events all fall in the range of
    /// the bucket it was loaded from, which is empty, so appending them in
    /// run order keeps that bucket in time-then-push order.
    fn spill_run(&mut self) {
        self.run_last_ns = None;
        while let Some(entry) = self.run.pop_front() {
            self.append(entry);
        }
    }

    /// Loads the earliest events into the (empty) run, splitting buckets that
    /// are too large to sort. Returns false if the queue is empty.
    fn refill_run(&mut self) -> bool {
        loop {
            let Some(index) = self.first_occupied() else {
                return false;
            };
            if index < DIGITS_PER_LEVEL || self.buckets[index].len <= SORT_LIMIT {
                self.load_run(index);
                return true;
            }
            self.redistribute(index);
            // The earliest event now equals the base, so it sits at level 0.
            debug_assert!(self.first_occupied() < Some(DIGITS_PER_LEVEL));
        }
    }

    fn first_occupied(&self) -> Option<usize> {
        if self.occupancy_summary == 0 {
            return None;
        }
        let word = self.occupancy_summary.trailing_zeros() as usize;
        Some(word * 64 + self.occupancy[word].trailing_zeros() as usize)
    }

    /// Appends to the bucket that `entry` belongs to relative to `base_ns`.
    fn append(&mut self, entry: Entry<E>) {
        let index = bucket_index(entry.time_ns, self.base_ns);
        let bucket = self.buckets[index];
        if bucket.head == NO_BLOCK {
            let block = self.alloc_block(entry);
            self.arena[block as usize * BLOCK_LEN] = entry;
            self.buckets[index] = Bucket {
                head: block,
                tail: block,
                tail_len: 1,
                len: 1,
                min_ns: entry.time_ns,
            };
            self.occupancy[index / 64] |= 1 << (index % 64);
            self.occupancy_summary |= 1 << (index / 64);
            return;
        }
        let mut tail = bucket.tail;
        let mut tail_len = bucket.tail_len as usize;
        if tail_len == BLOCK_LEN {
            let block = self.alloc_block(entry);
            self.next_block[tail as usize] = block;
            tail = block;
            tail_len = 0;
        }
        self.arena[tail as usize * BLOCK_LEN + tail_len] = entry;
        self.buckets[index] = Bucket {
            head: bucket.head,
            tail,
            tail_len: tail_len as u32 + 1,
            len: bucket.len + 1,
            min_ns: bucket.min_ns.min(entry.time_ns),
        };
    }

    /// A block from the free list, or a new one at the end of the arena
    /// (filled with copies of `filler`, since entries have no default).
    fn alloc_block(&mut self, filler: Entry<E>) -> u32 {
        let block = match self.free_blocks.pop() {
            Some(block) => block,
            None => {
                let block =
                    u32::try_from(self.next_block.len()).expect("event arena exceeds 2^32 blocks");
                self.arena.resize(self.arena.len() + BLOCK_LEN, filler);
                self.next_block.push(NO_BLOCK);
                block
            }
        };
        self.next_block[block as usize] = NO_BLOCK;
        block
    }

    /// Empties bucket `index`, calling `visit` on its events in order and
    /// freeing each block once it has been read (so `visit` may reuse it).
    fn drain_bucket(&mut self, index: usize, mut visit: impl FnMut(&mut Self, Entry<E>)) {
        let bucket = self.buckets[index];
        self.buckets[index] = EMPTY_BUCKET;
        self.clear_occupancy(index);
        let mut block = bucket.head;
        while block != NO_BLOCK {
            let next = self.next_block[block as usize];
            let filled = if next == NO_BLOCK {
                bucket.tail_len as usize
            } else {
                BLOCK_LEN
            };
            let start = block as usize * BLOCK_LEN;
            for offset in start..start + filled {
                visit(self, self.arena[offset]);
            }
            self.free_blocks.push(block);
            block = next;
        }
    }

    /// Moves the bucket's events into the run, sorted, and makes the run cover
    /// the bucket's whole time range.
    fn load_run(&mut self, index: usize) {
        let incoming = self.buckets[index].len as usize;
        if self.run.capacity() > 2 * incoming.max(RUN_KEPT_CAPACITY) {
            self.run.shrink_to(incoming.max(RUN_KEPT_CAPACITY));
        }
        self.drain_bucket(index, |queue, entry| queue.run.push_back(entry));
        // Stable, so equal times keep push order. Level-0 buckets hold a single
        // time and need no sort.
        if index >= DIGITS_PER_LEVEL {
            self.run.make_contiguous().sort_by_key(|e| e.time_ns);
        }
        self.run_last_ns = Some(bucket_last_ns(index, self.base_ns));
    }

    /// Rebases the radix heap on the earliest time in bucket `index` and moves
    /// the bucket's events to lower buckets, in order. Only valid for the first
    /// non-empty bucket, so that every lower bucket is empty and no run is active.
    fn redistribute(&mut self, index: usize) {
        debug_assert!(self.run.is_empty());
        self.base_ns = self.buckets[index].min_ns;
        self.run_last_ns = None;
        self.drain_bucket(index, |queue, entry| queue.append(entry));
    }

    fn clear_occupancy(&mut self, index: usize) {
        let word = &mut self.occupancy[index / 64];
        *word &= !(1 << (index % 64));
        if *word == 0 {
            self.occupancy_summary &= !(1 << (index / 64));
        }
    }
}

/// Bucket of `time_ns` relative to `base_ns`: level = highest base-256 digit in
/// which they differ (0 when equal), then the event's own digit there.
fn bucket_index(time_ns: u64, base_ns: u64) -> usize {
    let significant_bits = u64::BITS - (time_ns ^ base_ns).leading_zeros();
    let level = significant_bits.saturating_sub(1) / DIGIT_BITS;
    let digit = (time_ns >> (level * DIGIT_BITS)) as usize & (DIGITS_PER_LEVEL - 1);
    level as usize * DIGITS_PER_LEVEL + digit
}

/// Latest time that falls in bucket `index` relative to `base_ns`: the base's
/// digits above the bucket's level, the bucket's digit, then all ones.
fn bucket_last_ns(index: usize, base_ns: u64) -> u64 {
    let shift = (index / DIGITS_PER_LEVEL) as u32 * DIGIT_BITS;
    let digit = (index % DIGITS_PER_LEVEL) as u64;
    let upper_mask = u64::MAX.checked_shl(shift + DIGIT_BITS).unwrap_or(0);
    (base_ns & upper_mask) | (digit << shift) | ((1u64 << shift) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    /// Checks every structural invariant the ordering argument relies on.
    fn assert_invariants<E: Copy>(queue: &EventQueue<E>) {
        let mut bucketed = 0usize;
        let mut used_blocks = 0usize;
        for (index, bucket) in queue.buckets.iter().enumerate() {
            let occupied = queue.occupancy[index / 64] & (1 << (index % 64)) != 0;
            assert_eq!(occupied, bucket.len > 0, "occupancy of bucket {index}");
            let mut times = Vec::new();
            let mut block = bucket.head;
            while block != NO_BLOCK {
                let next = queue.next_block[block as usize];
                let filled = if next == NO_BLOCK {
                    bucket.tail_len as usize
                } else {
                    BLOCK_LEN
                };
                let start = block as usize * BLOCK_LEN;
                times.extend(queue.arena[start..start + filled].iter().map(|e| e.time_ns));
                used_blocks += 1;
                block = next;
            }
            assert_eq!(times.len(), bucket.len as usize, "length of bucket {index}");
            bucketed += times.len();
            for &time_ns in &times {
                assert_eq!(bucket_index(time_ns, queue.base_ns), index);
                assert!(!matches!(queue.run_last_ns, Some(last) if time_ns <= last));
            }
            if let Some(&min_ns) = times.iter().min() {
                assert_eq!(bucket.min_ns, min_ns, "min of bucket {index}");
            }
        }
        for word in 0..OCCUPANCY_WORDS {
            let summarised = queue.occupancy_summary & (1 << word) != 0;
            assert_eq!(summarised, queue.occupancy[word] != 0);
        }
        assert_eq!(
            used_blocks + queue.free_blocks.len(),
            queue.next_block.len(),
            "every block is either in a bucket or free"
        );
        assert!(queue
            .run
            .iter()
            .zip(queue.run.iter().skip(1))
            .all(|(a, b)| a.time_ns <= b.time_ns));
        if let (Some(first), Some(last_ns)) = (queue.run.front(), queue.run_last_ns) {
            assert!(first.time_ns >= queue.now.0);
            assert!(queue.run.back().is_some_and(|e| e.time_ns <= last_ns));
        }
        assert!(queue.run.is_empty() || queue.run_last_ns.is_some());
        assert!(queue.base_ns <= queue.now.0);
        assert_eq!(queue.len, queue.run.len() + bucketed);
    }

    /// The obviously correct queue the real one must agree with.
    #[derive(Default)]
    struct Reference {
        pending: Vec<(u64, u64, u32)>,
        next_seq: u64,
    }

    impl Reference {
        fn push(&mut self, time_ns: u64, id: u32) {
            self.pending.push((time_ns, self.next_seq, id));
            self.next_seq += 1;
        }
        fn pop(&mut self) -> Option<(SimTime, u32)> {
            let (position, _) = self
                .pending
                .iter()
                .enumerate()
                .min_by_key(|(_, &(time_ns, seq, _))| (time_ns, seq))?;
            let (time_ns, _, id) = self.pending.swap_remove(position);
            Some((SimTime(time_ns), id))
        }
        fn peek_time(&self) -> Option<SimTime> {
            self.pending.iter().map(|&(t, _, _)| SimTime(t)).min()
        }
    }

    fn drain<E: Copy>(queue: &mut EventQueue<E>) -> Vec<(SimTime, E)> {
        std::iter::from_fn(|| queue.pop()).collect()
    }

    #[test]
    fn empty_queue_pops_nothing_and_keeps_its_clock() {
        let mut queue = EventQueue::<u32>::new();
        assert!(queue.is_empty());
        assert_eq!(queue.len(), 0);
        assert_eq!(queue.peek_time(), None);
        assert_eq!(queue.pop(), None);
        assert_eq!(queue.now(), SimTime::ZERO);

        queue.push(SimTime(500), 1).unwrap();
        assert_eq!(queue.pop(), Some((SimTime(500), 1)));
        assert_eq!(queue.pop(), None);
        assert_eq!(queue.peek_time(), None);
        assert!(queue.is_empty());
        assert_eq!(
            queue.now(),
            SimTime(500),
            "an empty pop must not move the clock"
        );
    }

    #[test]
    fn equal_times_pop_in_push_order() {
        let mut queue = EventQueue::new();
        // Interleave two far-apart times so each set of ties is pushed while
        // its bucket is high up and then redistributed before it pops.
        let (early, late) = (SimTime(3_000_000_000), SimTime(7_200_000_000_000));
        for id in 0..2_000u32 {
            let time = if id % 3 == 0 { late } else { early };
            queue.push(time, id).unwrap();
        }
        let popped = drain(&mut queue);
        let early_ids: Vec<u32> = (0..2_000).filter(|id| id % 3 != 0).collect();
        let late_ids: Vec<u32> = (0..2_000).filter(|id| id % 3 == 0).collect();
        let expected: Vec<(SimTime, u32)> = early_ids
            .into_iter()
            .map(|id| (early, id))
            .chain(late_ids.into_iter().map(|id| (late, id)))
            .collect();
        assert_eq!(popped, expected);
    }

    #[test]
    fn push_at_now_is_accepted_and_queues_behind_earlier_ties() {
        let mut queue = EventQueue::new();
        queue.push(SimTime(10), 'a').unwrap();
        queue.push(SimTime(10), 'b').unwrap();
        queue.push(SimTime(11), 'd').unwrap();
        assert_eq!(queue.pop(), Some((SimTime(10), 'a')));
        queue.push(SimTime(10), 'c').unwrap();
        assert_eq!(queue.peek_time(), Some(SimTime(10)));
        assert_eq!(
            drain(&mut queue),
            vec![(SimTime(10), 'b'), (SimTime(10), 'c'), (SimTime(11), 'd')]
        );
    }

    #[test]
    fn past_event_is_refused_with_both_times_and_changes_nothing() {
        let mut queue = EventQueue::new();
        queue.push(SimTime(100), 1u8).unwrap();
        queue.push(SimTime(300), 2).unwrap();
        queue.pop();
        let error = queue.push(SimTime(99), 3).unwrap_err();
        assert_eq!(
            error,
            PastEventError {
                at: SimTime(99),
                now: SimTime(100)
            }
        );
        assert_eq!(
            error.to_string(),
            "event scheduled at 0.000s but the clock is already at 0.000s"
        );
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.now(), SimTime(100));
        assert_eq!(drain(&mut queue), vec![(SimTime(300), 2)]);
    }

    #[test]
    fn extreme_times_are_ordered() {
        let mut queue = EventQueue::new();
        let times = [
            u64::MAX,
            0,
            1 << 63,
            u64::MAX - 1,
            255,
            256,
            1,
            u64::MAX,
            (1 << 56) - 1,
            1 << 56,
        ];
        for (id, &time_ns) in times.iter().enumerate() {
            queue.push(SimTime(time_ns), id).unwrap();
        }
        let mut expected: Vec<(SimTime, usize)> = times
            .iter()
            .enumerate()
            .map(|(id, &t)| (SimTime(t), id))
            .collect();
        expected.sort_by_key(|&(time, id)| (time, id));
        assert_eq!(drain(&mut queue), expected);
        assert_eq!(queue.push(SimTime(u64::MAX), 99), Ok(()));
        assert_eq!(queue.pop(), Some((SimTime(u64::MAX), 99)));
    }

    /// Pod lifetimes of minutes to hours next to control-loop hops of
    /// microseconds, in a hold model that keeps many events pending.
    #[test]
    fn mixed_short_and_long_delays_match_reference() {
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let mut queue = EventQueue::new();
        let mut reference = Reference::default();
        let delay_ns = |rng: &mut Pcg64Mcg| match rng.random_range(0..10) {
            0 => 0,
            1..=3 => rng.random_range(1_000..1_000_000),
            4 => rng.random_range(1..4) * 3_600_000_000_000,
            _ => (-(1.0 - rng.random::<f64>()).ln() * 60e9) as u64,
        };
        for id in 0..3_000u32 {
            let time_ns = delay_ns(&mut rng);
            queue.push(SimTime(time_ns), id).unwrap();
            reference.push(time_ns, id);
        }
        for id in 3_000..60_000u32 {
            let popped = queue.pop();
            assert_eq!(popped, reference.pop());
            let time_ns = popped.unwrap().0 .0 + delay_ns(&mut rng);
            queue.push(SimTime(time_ns), id).unwrap();
            reference.push(time_ns, id);
            if id % 4_096 == 0 {
                assert_invariants(&queue);
            }
        }
        assert_invariants(&queue);
        while let Some(expected) = reference.pop() {
            assert_eq!(queue.pop(), Some(expected));
        }
        assert!(queue.is_empty());
    }

    #[test]
    fn out_of_order_pushes_into_the_run_spill_and_stay_ordered() {
        let mut queue = EventQueue::new();
        let mut reference = Reference::default();
        // A small bucket a few hundred microseconds ahead becomes the run.
        for id in 0..10u32 {
            let time_ns = 400_000 + u64::from(id) * 1_000;
            queue.push(SimTime(time_ns), id).unwrap();
            reference.push(time_ns, id);
        }
        assert_eq!(queue.pop(), reference.pop());
        let run_last_ns = queue.run_last_ns.expect("the first pop loads a run");
        // Descending times inside the run's range, each twice so the spill
        // must keep ties in push order: almost every push lands mid-run.
        let mut spilled = false;
        for id in 10..5_000u32 {
            let time_ns = run_last_ns - u64::from(id / 2) * 7;
            queue.push(SimTime(time_ns), id).unwrap();
            reference.push(time_ns, id);
            spilled |= queue.run_last_ns.is_none();
        }
        assert!(spilled, "the test must exercise the spill path");
        assert_invariants(&queue);
        while let Some(expected) = reference.pop() {
            assert_eq!(queue.pop(), Some(expected));
        }
    }

    /// Times past 2^56 ns use the top digit; a run there must end at its own
    /// digit even when the base's top digit is non-zero.
    #[test]
    fn runs_at_the_top_level_cover_only_their_own_bucket() {
        let top_digit_ns = 1u64 << 56;
        let mut queue = EventQueue::new();
        // More events than SORT_LIMIT, so the bucket is split and the base
        // moves to 3 * 2^56.
        for id in 0..300 {
            queue.push(SimTime(3 * top_digit_ns + id), id).unwrap();
        }
        for id in 0..300 {
            assert_eq!(queue.pop(), Some((SimTime(3 * top_digit_ns + id), id)));
        }
        queue.push(SimTime(5 * top_digit_ns), 1_000).unwrap();
        queue.push(SimTime(6 * top_digit_ns + 10), 1_001).unwrap();
        assert_eq!(queue.pop(), Some((SimTime(5 * top_digit_ns), 1_000)));
        queue.push(SimTime(6 * top_digit_ns + 20), 1_002).unwrap();
        assert_invariants(&queue);
        assert_eq!(
            drain(&mut queue),
            vec![
                (SimTime(6 * top_digit_ns + 10), 1_001),
                (SimTime(6 * top_digit_ns + 20), 1_002)
            ]
        );
    }

    #[test]
    fn burst_at_one_time_keeps_order_and_releases_run_capacity() {
        let mut queue = EventQueue::new();
        for id in 0..50_000u32 {
            queue.push(SimTime(5_000), id).unwrap();
        }
        queue.push(SimTime(9_000_000_000), 50_000).unwrap();
        for id in 0..50_000u32 {
            assert_eq!(queue.pop(), Some((SimTime(5_000), id)));
        }
        assert_eq!(queue.pop(), Some((SimTime(9_000_000_000), 50_000)));
        queue.push(SimTime(9_000_000_001), 0).unwrap();
        queue.pop();
        assert!(queue.run.capacity() <= 2 * RUN_KEPT_CAPACITY);
    }

    #[test]
    fn memory_follows_pending_count_not_bucket_history() {
        let pending = 100_000usize;
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let mut queue = EventQueue::new();
        for id in 0..pending {
            queue
                .push(SimTime(rng.random_range(0..3_600_000_000_000)), id)
                .unwrap();
        }
        for id in 0..400_000 {
            let (time, _) = queue.pop().unwrap();
            let delay_ns = rng.random_range(1_000..120_000_000_000);
            queue.push(SimTime(time.0 + delay_ns), id).unwrap();
        }
        // Full blocks plus at most one partial block per bucket in use.
        let blocks = queue.next_block.len();
        assert!(
            blocks <= pending / BLOCK_LEN + BUCKET_COUNT / 4,
            "{blocks} blocks"
        );
    }

    /// The guard against runs outgrowing memory reads this: it must cover
    /// every pending event, and not shrink when they are gone, as the arena
    /// keeps its blocks.
    #[test]
    fn bytes_held_covers_pending_events_and_keeps_the_peak() {
        let mut queue = EventQueue::new();
        let entry = std::mem::size_of::<Entry<u64>>() as u64;
        for id in 0..10_000u64 {
            queue
                .push(SimTime(id * 1_000_003 % 7_000_000_000), id)
                .unwrap();
        }
        let peak = queue.bytes_held();
        assert!(peak >= 10_000 * entry, "{peak}");
        while queue.pop().is_some() {}
        assert!(queue.bytes_held() >= peak);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push { delay_ns: u64 },
        PushPast { before_ns: u64 },
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Push { delay_ns: 0 }),
            3 => (0u64..300).prop_map(|delay_ns| Op::Push { delay_ns }),
            2 => (0u64..2_000_000).prop_map(|delay_ns| Op::Push { delay_ns }),
            2 => (0u64..1 << 43).prop_map(|delay_ns| Op::Push { delay_ns }),
            1 => any::<u64>().prop_map(|delay_ns| Op::Push { delay_ns }),
            1 => (1u64..1_000).prop_map(|before_ns| Op::PushPast { before_ns }),
            6 => Just(Op::Pop),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn agrees_with_sorted_reference(ops in prop::collection::vec(op(), 1..1_500)) {
            let mut queue = EventQueue::new();
            let mut reference = Reference::default();
            for (id, op) in ops.into_iter().enumerate() {
                let id = id as u32;
                let now_ns = queue.now().0;
                match op {
                    Op::Push { delay_ns } => {
                        let time_ns = now_ns.saturating_add(delay_ns);
                        prop_assert_eq!(queue.push(SimTime(time_ns), id), Ok(()));
                        reference.push(time_ns, id);
                    }
                    Op::PushPast { before_ns } => {
                        // Only meaningful once the clock has moved past `before_ns`.
                        if let Some(time_ns) = now_ns.checked_sub(before_ns) {
                            let expected = PastEventError { at: SimTime(time_ns), now: SimTime(now_ns) };
                            prop_assert_eq!(queue.push(SimTime(time_ns), id), Err(expected));
                        }
                    }
                    Op::Pop => prop_assert_eq!(queue.pop(), reference.pop()),
                }
                prop_assert_eq!(queue.peek_time(), reference.peek_time());
                prop_assert_eq!(queue.len(), reference.pending.len());
                prop_assert_eq!(queue.is_empty(), reference.pending.is_empty());
            }
            assert_invariants(&queue);
            while let Some(expected) = reference.pop() {
                prop_assert_eq!(queue.pop(), Some(expected));
            }
            prop_assert_eq!(queue.pop(), None);
        }
    }
}
