//! The startup orchestrator: phases in order, the exact DeterministicStartupError, worker exit,
//! and the staging bypass that sets `gcp_websocket_ready` anyway.

use std::rc::Rc;

use super::world::{AppPhase, World};
use super::{manager, registry, validator};
use crate::trace::Ev;
use crate::vocab::{Actor, EnvName, Route, StartupOutcome};

/// The error text, exactly as smd.py formats it.
pub fn startup_error_message(failed: &[&str], elapsed_ms: u64) -> String {
    format!(
        "GCP WebSocket readiness validation failed. Failed services: [{}]. State: failed. \
         Elapsed: {}s. This will cause 1011 WebSocket errors in GCP Cloud Run.",
        failed.join(", "),
        seconds_2dp(elapsed_ms)
    )
}

/// Whole ms as seconds with two decimals, rounded half away from zero: 7508 -> "7.51".
pub fn seconds_2dp(ms: u64) -> String {
    let centis = ms / 10 + u64::from(ms % 10 >= 5);
    format!("{}.{:02}", centis / 100, centis % 100)
}

async fn phase(w: &World, name: &'static str, ms: u64) {
    w.emit(Actor::Startup, Ev::Phase(name));
    if ms > 0 {
        w.rt.sleep(ms).await;
    }
}

/// The lifespan startup of one worker.
pub async fn run(w: Rc<World>) {
    let s = w.startup_cfg.clone();
    phase(&w, "INIT", s.init_ms).await;
    phase(&w, "DEPENDENCIES", s.dependencies_ms).await;
    phase(&w, "DATABASE", s.database_ms).await;
    w.emit(Actor::Startup, Ev::Phase("CACHE"));
    manager::initialize(&w).await;
    if s.cache_ms > 0 {
        w.rt.sleep(s.cache_ms).await;
    }
    phase(&w, "SERVICES", s.services_ms).await;
    phase(&w, "WEBSOCKET", s.websocket_ms).await;
    let verdict = validator::run(&w).await;
    let outcome = if verdict.skipped {
        StartupOutcome::Skipped
    } else if verdict.ready {
        StartupOutcome::Ready
    } else if w.env == EnvName::Staging && w.policy.bypass_in_staging {
        StartupOutcome::Bypassed
    } else {
        StartupOutcome::Failed
    };
    {
        let mut r = w.results();
        r.verdict_at_ms = Some(w.now());
        r.elapsed_ms = Some(verdict.elapsed_ms);
        r.failed_services = verdict.failed.clone();
        r.validation_failed = !verdict.ready;
    }
    if !verdict.ready {
        w.emit(Actor::Startup, Ev::StartupError);
    }
    if outcome == StartupOutcome::Failed {
        w.emit(Actor::Startup, Ev::WorkerExit);
        w.results().startup = Some(outcome);
        w.app.send_replace(AppPhase::Exited);
        w.goal_done();
        return;
    }
    if outcome == StartupOutcome::Bypassed {
        w.emit(Actor::Startup, Ev::Bypassed);
    }
    w.emit(Actor::Startup, Ev::GcpReadyFlag);
    phase(&w, "FINALIZE", s.finalize_ms).await;
    w.startup_complete.set(true);
    w.emit(Actor::Startup, Ev::StartupComplete);
    if w.policy.route == Route::F1 && w.client_count() > 0 {
        w.rt.spawn(registry::sweep_task(w.clone()));
    }
    w.results().startup = Some(outcome);
    w.app.send_replace(AppPhase::Serving);
    w.goal_done();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_rounds_half_away_from_zero() {
        assert_eq!(seconds_2dp(7508), "7.51");
        assert_eq!(seconds_2dp(1505), "1.51");
        assert_eq!(seconds_2dp(1504), "1.50");
        assert_eq!(seconds_2dp(0), "0.00");
        assert_eq!(seconds_2dp(999), "1.00");
        assert_eq!(seconds_2dp(60000), "60.00");
    }

    #[test]
    fn message_is_the_incident_text() {
        assert_eq!(
            startup_error_message(&["redis"], 7508),
            "GCP WebSocket readiness validation failed. Failed services: [redis]. State: failed. Elapsed: 7.51s. This will cause 1011 WebSocket errors in GCP Cloud Run."
        );
        assert!(startup_error_message(&["a", "b"], 10).contains("[a, b]"));
    }
}
