//! The Chrome trace-event JSON of a picture (opens in ui.perfetto.dev and chrome://tracing):
//! one thread per lane, complete events (`X`) for spans and instant events (`i`) for marks.

use serde_json::{json, Value};

use super::{MarkKind, Picture};

/// Virtual ms as the format's microseconds.
fn us(ms: u64) -> u64 {
    ms.saturating_mul(1000)
}

/// The trace-event document: `{"traceEvents": [...], "displayTimeUnit": "ms", ...}`.
///
/// Every event has `name`, `ph`, `ts` (µs of virtual time), `pid` (1) and `tid` (the lane,
/// from 1 in lane order); spans carry `dur`, instants `s: "t"`. Metadata events name the
/// process after the scenario and each thread after its lane, sorted as the timeline sorts.
pub fn trace(p: &Picture) -> Value {
    let mut ev = vec![json!({
        "name": "process_name", "ph": "M", "pid": 1, "tid": 0, "ts": 0,
        "args": {"name": format!("readysim: {}", p.title)},
    })];
    for (i, l) in p.lanes.iter().enumerate() {
        let tid = i + 1;
        ev.push(json!({
            "name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "ts": 0,
            "args": {"name": l.label},
        }));
        ev.push(json!({
            "name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid, "ts": 0,
            "args": {"sort_index": i},
        }));
    }
    for s in &p.spans {
        ev.push(json!({
            "name": s.label, "cat": s.kind.name(), "ph": "X",
            "ts": us(s.from), "dur": us(s.to.saturating_sub(s.from)),
            "pid": 1, "tid": s.lane + 1,
            "args": {"from_ms": s.from, "to_ms": s.to},
        }));
    }
    for m in &p.marks {
        let cat = m.kind.category();
        // Violations and the verdict matter to every thread: global scope draws them across.
        let scope = if matches!(m.kind, MarkKind::Violation | MarkKind::Verdict) {
            "g"
        } else {
            "t"
        };
        ev.push(json!({
            "name": m.label, "cat": cat, "ph": "i", "s": scope,
            "ts": us(m.t), "pid": 1, "tid": m.lane + 1,
            "args": {"at_ms": m.t},
        }));
    }
    json!({
        "traceEvents": ev,
        "displayTimeUnit": "ms",
        "otherData": {
            "scenario": p.title,
            "verdict": p.verdict,
            "message": p.message,
            "clock": "virtual: 1 ms of the model is 1000 us here",
        },
    })
}
