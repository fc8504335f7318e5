//! A counting allocator for `readysim bench`: the heap bytes this thread holds and their peak,
//! so the memory of one run is measured, not the process's resident set (which a run that
//! reuses freed memory never moves).
//!
//! The binary installs it (`#[global_allocator]`); counters are thread-local, so counting
//! costs no atomic operation and no thread sees another's allocations. A library user who
//! does not install it gets `None` from [`peak_of`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting this thread's live heap bytes and their peak.
pub struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

/// Whether the binary installed [`Counting`].
static ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn add(n: i64) {
    // `try_with`: during thread teardown the counters may be gone; nothing is counted then.
    let _ = LIVE.try_with(|l| {
        let v = l.get() + n;
        l.set(v);
        let _ = PEAK.try_with(|p| {
            if v > p.get() {
                p.set(v)
            }
        });
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are thread-local cells
// that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Marks the counting allocator as installed (the binary calls it first thing).
pub fn installed() {
    ON.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The peak of heap bytes this thread held during `f`, above what it held before, when the
/// counting allocator is installed.
pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    if !ON.load(std::sync::atomic::Ordering::Relaxed) {
        return (f(), None);
    }
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let t = f();
    let peak = PEAK.with(Cell::get);
    (t, Some((peak - base).max(0) as u64))
}
