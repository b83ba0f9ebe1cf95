//! How many requests are being handled at once (spec 01 §0): a counting semaphore the
//! connection threads take a permit from before they run the handler. It bounds the
//! memory and CPU of concurrent handlers (a step-up PIN check hashes with 64 MiB; a
//! stalled vault holds its caller) and of the responses they write, while an
//! uncontended permit costs one uncontended lock — no handoff between threads. `close`
//! refuses new permits and `wait_idle` waits for the ones in use, so a stop lets
//! in-flight requests finish.

use parking_lot::{Condvar, Mutex};

pub struct Permits {
    state: Mutex<State>,
    /// A permit came back (one waiter may take it).
    freed: Condvar,
    /// Every permit is back after `close`.
    idle: Condvar,
    max: usize,
}

struct State {
    free: usize,
    closed: bool,
}

/// One request being handled; its permit returns on drop (also while unwinding).
pub struct Permit<'a>(&'a Permits);

impl Permits {
    pub fn new(max: usize) -> Permits {
        let max = max.max(1);
        Permits {
            state: Mutex::new(State {
                free: max,
                closed: false,
            }),
            freed: Condvar::new(),
            idle: Condvar::new(),
            max,
        }
    }

    /// Waits for a free permit; `None` once closed.
    pub fn acquire(&self) -> Option<Permit<'_>> {
        let mut s = self.state.lock();
        loop {
            if s.closed {
                return None;
            }
            if s.free > 0 {
                s.free -= 1;
                return Some(Permit(self));
            }
            self.freed.wait(&mut s);
        }
    }

    /// Refuses every later `acquire` (and wakes the ones waiting, who get `None`).
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.freed.notify_all();
    }

    /// Blocks until every permit is back.
    pub fn wait_idle(&self) {
        let mut s = self.state.lock();
        while s.free < self.max {
            self.idle.wait(&mut s);
        }
    }

    /// Permits in use.
    pub fn in_use(&self) -> usize {
        self.max - self.state.lock().free
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let all_back = {
            let mut s = self.0.state.lock();
            s.free += 1;
            s.free == self.0.max
        };
        self.0.freed.notify_one();
        if all_back {
            self.0.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn bounds_concurrency_and_hands_back_on_drop() {
        let p = Permits::new(2);
        let a = p.acquire().unwrap();
        let b = p.acquire().unwrap();
        assert_eq!(p.in_use(), 2);
        drop(a);
        assert_eq!(p.in_use(), 1);
        let _c = p.acquire().unwrap();
        drop(b);
        assert_eq!(p.in_use(), 1);
    }

    #[test]
    fn a_waiter_gets_the_next_free_permit() {
        let p = Arc::new(Permits::new(1));
        let held = p.acquire().unwrap();
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || p2.acquire().is_some());
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "no permit was free");
        drop(held);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn close_refuses_new_permits_and_wait_idle_waits_for_the_held_ones() {
        let p = Arc::new(Permits::new(2));
        let held = p.acquire().unwrap();
        let p2 = p.clone();
        let blocked = {
            let _other = p.acquire().unwrap();
            let waiter = std::thread::spawn(move || p2.acquire().is_none());
            std::thread::sleep(Duration::from_millis(20));
            p.close();
            waiter
        };
        assert!(blocked.join().unwrap(), "a waiter is refused at close");
        assert!(p.acquire().is_none());
        let p3 = p.clone();
        let idle = std::thread::spawn(move || p3.wait_idle());
        std::thread::sleep(Duration::from_millis(20));
        assert!(!idle.is_finished(), "a permit is still held");
        drop(held);
        idle.join().unwrap();
        assert_eq!(p.in_use(), 0);
    }
}
