//! Sync shim: picks loom's model-checked primitives under `cfg(readysim_loom)` and std's otherwise.

#[cfg(readysim_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};
#[cfg(readysim_loom)]
pub(crate) use loom::sync::Mutex;

#[cfg(not(readysim_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64, Ordering};
#[cfg(not(readysim_loom))]
pub(crate) use std::sync::Mutex;
