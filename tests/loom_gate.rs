#![cfg(readysim_loom)]
//! Loom model checks for the readiness gate: wake-ups, data visibility, ordering, and a
//! planted ordering bug that loom must catch.
//!
//! Run with `.ci/loom` (`RUSTFLAGS="--cfg readysim_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test --release --test loom_gate -- --test-threads=1
//! --nocapture`). Each test prints how many interleavings it explored.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use loom::sync::Arc;
use loom::thread;
use readysim::{Readiness, ReadinessGate};

/// Prints how many interleavings a model explored, even when the model panics, so CI logs
/// show the explored state space for the planted-bug test as well.
struct Explored {
    test: &'static str,
    count: &'static AtomicUsize,
}

impl Drop for Explored {
    fn drop(&mut self) {
        println!(
            "loom: {} explored {} interleavings",
            self.test,
            self.count.load(Relaxed)
        );
    }
}

/// Runs `body` under `loom::model` (which honours `LOOM_MAX_PREEMPTIONS`), counting iterations.
fn explore(
    test: &'static str,
    count: &'static AtomicUsize,
    body: impl Fn() + Sync + Send + 'static,
) {
    let _report = Explored { test, count };
    loom::model(move || {
        count.fetch_add(1, Relaxed);
        body();
    });
}

#[test]
fn no_lost_wake_up() {
    static N: AtomicUsize = AtomicUsize::new(0);
    explore("no_lost_wake_up", &N, || {
        let gate = Arc::new(ReadinessGate::new());
        let publisher = {
            let gate = gate.clone();
            thread::spawn(move || gate.publish_ready(7))
        };
        let waiter = {
            let gate = gate.clone();
            thread::spawn(move || loom::future::block_on(gate.wait_ready()))
        };
        // A lost wake-up leaves a waiter blocked forever, which loom reports as a deadlock.
        let expected = Readiness {
            generation: 0,
            since_ms: 7,
        };
        assert_eq!(loom::future::block_on(gate.wait_ready()), expected);
        assert_eq!(waiter.join().unwrap(), expected);
        publisher.join().unwrap();
    });
}

/// Publisher sets since_ms=42; a concurrent reader that sees "ready" must see 42.
fn ready_implies_data(gate: ReadinessGate) {
    let gate = Arc::new(gate);
    let publisher = {
        let gate = gate.clone();
        thread::spawn(move || gate.publish_ready(42))
    };
    if let Some(seen) = gate.current() {
        assert_eq!(seen.since_ms, 42, "saw ready before the data it guards");
    }
    publisher.join().unwrap();
    assert_eq!(gate.current().map(|r| r.since_ms), Some(42));
}

#[test]
fn ready_is_never_seen_before_its_data() {
    static N: AtomicUsize = AtomicUsize::new(0);
    explore("ready_is_never_seen_before_its_data", &N, || {
        ready_implies_data(ReadinessGate::new());
    });
}

#[test]
fn observations_are_monotonic() {
    static N: AtomicUsize = AtomicUsize::new(0);
    explore("observations_are_monotonic", &N, || {
        let gate = Arc::new(ReadinessGate::new());
        let publisher = {
            let gate = gate.clone();
            thread::spawn(move || {
                gate.publish_ready(5);
                gate.publish_not_ready();
            })
        };
        let first = gate.current();
        let g1 = gate.generation();
        let second = gate.current();
        let g2 = gate.generation();

        assert!(g1 <= g2, "generation went backwards: {g1} then {g2}");
        for seen in [first, second].into_iter().flatten() {
            assert_eq!(
                seen,
                Readiness {
                    generation: 0,
                    since_ms: 5
                }
            );
        }
        if let Some(seen) = first {
            assert!(seen.generation <= g1);
        }
        // Once "not ready" (generation 1) was observed, the older "ready" must stay invisible.
        if g1 >= 1 {
            assert_eq!(second, None, "saw ready after the later not-ready");
        }
        publisher.join().unwrap();
        assert_eq!(gate.current(), None);
        assert_eq!(gate.generation(), 1);
    });
}

/// A reader overlapping a republish (ready 1 -> not ready -> ready 2) sees one whole
/// generation or "not ready", never generation 0 with the new value or generation 1 with the
/// old one. With the value in a plain cell this overlap was a data race.
#[test]
fn republish_never_mixes_generations() {
    static N: AtomicUsize = AtomicUsize::new(0);
    explore("republish_never_mixes_generations", &N, || {
        let gate = Arc::new(ReadinessGate::new());
        gate.publish_ready(1);
        let publisher = {
            let gate = gate.clone();
            thread::spawn(move || gate.publish_ready(2))
        };
        let old = Readiness {
            generation: 0,
            since_ms: 1,
        };
        let new = Readiness {
            generation: 1,
            since_ms: 2,
        };
        let seen = gate.current();
        assert!(
            seen.is_none() || seen == Some(old) || seen == Some(new),
            "mixed generations: {seen:?}"
        );
        publisher.join().unwrap();
        assert_eq!(gate.current(), Some(new));
    });
}

/// The same scenario with Relaxed publication: loom finds an interleaving where the reader
/// sees the ready bit but the stale `since_ms` (0), and the ordinary assertion fires.
#[test]
#[should_panic(expected = "saw ready before the data it guards")]
fn planted_bug_relaxed_orderings_is_caught() {
    // The panic is the point of this test: say so in one line instead of a default report
    // that reads like a failure in CI logs.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("saw ready before the data it guards") {
            eprintln!("loom found the planted ordering bug, as it must: {msg}");
        } else {
            default(info);
        }
    }));
    static N: AtomicUsize = AtomicUsize::new(0);
    explore("planted_bug_relaxed_orderings_is_caught", &N, || {
        ready_implies_data(ReadinessGate::with_orderings(Relaxed, Relaxed));
    });
}
