//! Unit tests of the engines through the public `Rt` handle: timer order, ties, decisions,
//! draws, cancellation, freeze, the budgets, quiescence, `first_of`'s bias, and the fast
//! engine's reuse of task slots and boxes from one run to the next.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use readysim::engine::{
    self, first_of, Choice, EndReason, EngineKind, EngineReport, Rt, RunConfig,
};

/// Events recorded by test tasks: (label, virtual time).
type Log = Rc<RefCell<Vec<(u32, u64)>>>;

fn config(decisions: &[u32]) -> RunConfig {
    RunConfig {
        horizon_ms: 1_000_000,
        max_steps: 100_000,
        decisions: decisions.to_vec(),
        decisions_from_ms: 0,
    }
}

/// Runs `tasks` (each given the handle and the log); the last one to finish stops the run.
fn run_tasks<F, Fut>(
    kind: EngineKind,
    cfg: &RunConfig,
    tasks: Vec<F>,
) -> (EngineReport, Vec<(u32, u64)>)
where
    F: FnOnce(Rt, Log) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let left = Rc::new(Cell::new(tasks.len()));
    let l = log.clone();
    let report = engine::run(kind, cfg, move |rt| {
        for t in tasks {
            let fut = t(rt.clone(), l.clone());
            let (rt2, left) = (rt.clone(), left.clone());
            rt.spawn(async move {
                fut.await;
                left.set(left.get() - 1);
                if left.get() == 0 {
                    rt2.stop();
                }
            });
        }
    });
    let events = log.borrow().clone();
    (report, events)
}

/// A task of any shape, for lists of different closures.
type BoxedTask = Box<dyn FnOnce(Rt, Log) -> Pin<Box<dyn Future<Output = ()>>>>;

fn note(rt: &Rt, log: &Log, label: u32) {
    log.borrow_mut().push((label, rt.now()));
}

const BOTH: [EngineKind; 2] = [EngineKind::Fast, EngineKind::Tokio];

#[test]
fn timers_fire_in_deadline_order_on_both_engines() {
    for kind in BOTH {
        let tasks: Vec<_> = [30u64, 10, 20, 5]
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                move |rt: Rt, log: Log| async move {
                    rt.sleep(d).await;
                    note(&rt, &log, i as u32);
                }
            })
            .collect();
        let (rep, log) = run_tasks(kind, &config(&[]), tasks);
        assert_eq!(log, vec![(3, 5), (1, 10), (2, 20), (0, 30)], "{kind:?}");
        assert_eq!(rep.end, EndReason::Stopped, "{kind:?}");
        assert_eq!(rep.end_ms, 30, "{kind:?}");
    }
}

#[test]
fn same_deadline_timers_wake_in_registration_order_on_both_engines() {
    // Task i first sleeps 5 - i ms, so the t=100 timers are registered in the order
    // 4, 3, 2, 1, 0: the reverse of spawn order.
    for kind in BOTH {
        let tasks: Vec<_> = (0..5u64)
            .map(|i| {
                move |rt: Rt, log: Log| async move {
                    rt.sleep(5 - i).await;
                    rt.sleep_until(100).await;
                    note(&rt, &log, i as u32);
                }
            })
            .collect();
        let (_, log) = run_tasks(kind, &config(&[]), tasks);
        let order: Vec<u32> = log.iter().map(|e| e.0).collect();
        assert_eq!(order, vec![4, 3, 2, 1, 0], "{kind:?}");
        assert!(log.iter().all(|e| e.1 == 100), "{kind:?}: {log:?}");
    }
}

fn three_tied(decisions: &[u32]) -> (EngineReport, Vec<u32>) {
    let tasks: Vec<_> = (0..3u32)
        .map(|i| {
            move |rt: Rt, log: Log| async move {
                note(&rt, &log, 10 + i);
                rt.sleep_until(10).await;
                note(&rt, &log, i);
            }
        })
        .collect();
    let (rep, log) = run_tasks(EngineKind::Fast, &config(decisions), tasks);
    (rep, log.into_iter().map(|e| e.0).collect())
}

#[test]
fn decisions_pick_value_mod_ready_and_are_recorded_in_order() {
    // t=0: ready [0,1,2], 7 % 3 = 1 -> task 1; ready [0,2], 2 % 2 = 0 -> task 0; then 2.
    // Timers registered 1, 0, 2, so t=10: ready [1,0,2], 4 % 3 = 1 -> task 0;
    // ready [1,2], 5 % 2 = 1 -> task 2; then 1. The 9 is never needed.
    let (rep, order) = three_tied(&[7, 2, 4, 5, 9]);
    assert_eq!(order, vec![11, 10, 12, 0, 2, 1]);
    let c = |at_ms, ready, chosen, value| Choice {
        at_ms,
        ready,
        chosen,
        value,
    };
    assert_eq!(
        rep.choices,
        vec![
            c(0, 3, 1, Some(7)),
            c(0, 2, 0, Some(2)),
            c(10, 3, 1, Some(4)),
            c(10, 2, 1, Some(5)),
        ]
    );
    assert_eq!(rep.decisions_used, 4);
}

#[test]
fn an_exhausted_decision_list_picks_the_first_ready_task() {
    let (rep, order) = three_tied(&[7]);
    // 7 picks task 1 first; after that the list is empty and FIFO order rules.
    assert_eq!(order, vec![11, 10, 12, 1, 0, 2]);
    let values: Vec<Option<u32>> = rep.choices.iter().map(|c| c.value).collect();
    assert_eq!(values, vec![Some(7), None, None, None]);
    let chosen: Vec<u32> = rep.choices.iter().map(|c| c.chosen).collect();
    assert_eq!(chosen, vec![1, 0, 0, 0]);
    assert_eq!(rep.decisions_used, 1);
}

#[test]
fn draw_consumes_from_the_same_list_as_choices() {
    let drawn = Rc::new(RefCell::new(Vec::new()));
    let mk = |label: u32| {
        let drawn = drawn.clone();
        move |rt: Rt, _log: Log| async move {
            let v = rt.draw();
            drawn.borrow_mut().push((label, v));
        }
    };
    // The t=0 choice between the two tasks takes 3 (3 % 2 = 1: task 1 first); task 1 then
    // draws 42, task 0 finds the list exhausted.
    let (rep, _) = run_tasks(EngineKind::Fast, &config(&[3, 42]), vec![mk(0), mk(1)]);
    assert_eq!(*drawn.borrow(), vec![(1, Some(42)), (0, None)]);
    assert_eq!(rep.decisions_used, 2);
    assert_eq!(rep.choices.len(), 1);

    // The tokio engine makes no choices, but draws read the same list.
    drawn.borrow_mut().clear();
    let (rep, _) = run_tasks(EngineKind::Tokio, &config(&[3, 42]), vec![mk(0), mk(1)]);
    assert_eq!(*drawn.borrow(), vec![(0, Some(3)), (1, Some(42))]);
    assert_eq!(rep.decisions_used, 2);
}

#[test]
fn a_dropped_sleep_is_cancelled_and_wakes_nobody() {
    let polls = Rc::new(Cell::new(0u32));
    let p = polls.clone();
    let report = engine::run(EngineKind::Fast, &config(&[]), move |rt| {
        let rt2 = rt.clone();
        rt.spawn(async move {
            let r = first_of(rt2.sleep(100), rt2.sleep(10)).await;
            assert!(matches!(r, engine::Either::Right(())));
            // Wait forever, counting every poll: a woken cancelled timer would poll again.
            std::future::poll_fn(|_| {
                p.set(p.get() + 1);
                std::task::Poll::<()>::Pending
            })
            .await;
        });
    });
    assert_eq!(
        polls.get(),
        1,
        "the task was woken after its sleep was dropped"
    );
    assert_eq!(report.end, EndReason::Quiescent);
    assert_eq!(
        report.end_ms, 10,
        "the clock moved to the cancelled deadline"
    );
    assert_eq!(report.steps, 2);
}

#[test]
fn freeze_moves_the_clock_with_nothing_else_running_and_timers_fire_late() {
    let mk_sleeper = |label: u32, d: u64| {
        move |rt: Rt, log: Log| async move {
            rt.sleep(d).await;
            note(&rt, &log, label);
        }
    };
    let freezer = |rt: Rt, log: Log| async move {
        rt.sleep(1).await;
        note(&rt, &log, 100);
        rt.freeze(50).await;
        note(&rt, &log, 101);
    };
    let tasks: Vec<BoxedTask> = vec![
        Box::new(move |rt, log| Box::pin(freezer(rt, log))),
        Box::new(move |rt, log| Box::pin(mk_sleeper(1, 10)(rt, log))),
        Box::new(move |rt, log| Box::pin(mk_sleeper(2, 60)(rt, log))),
    ];
    let (rep, log) = run_tasks(EngineKind::Fast, &config(&[]), tasks);
    // The freezer starts at 1 and resumes at 51 before anyone else runs; the 10 ms timer
    // fires late at 51; the 60 ms timer on time.
    assert_eq!(log, vec![(100, 1), (101, 51), (1, 51), (2, 60)]);
    assert_eq!(rep.end, EndReason::Stopped);
}

#[test]
fn freeze_on_tokio_also_fires_timers_late() {
    let tasks: Vec<BoxedTask> = vec![
        Box::new(|rt: Rt, log: Log| {
            Box::pin(async move {
                rt.sleep(1).await;
                rt.freeze(50).await;
                note(&rt, &log, 101);
            })
        }),
        Box::new(|rt: Rt, log: Log| {
            Box::pin(async move {
                rt.sleep(10).await;
                note(&rt, &log, 1);
            })
        }),
    ];
    let (_, mut log) = run_tasks(EngineKind::Tokio, &config(&[]), tasks);
    log.sort();
    assert_eq!(log, vec![(1, 51), (101, 51)]);
}

#[test]
fn the_horizon_ends_a_run_on_both_engines() {
    for kind in BOTH {
        let cfg = RunConfig {
            horizon_ms: 500,
            ..config(&[])
        };
        let tasks = vec![|rt: Rt, log: Log| async move {
            rt.sleep(1000).await;
            note(&rt, &log, 1);
        }];
        let (rep, log) = run_tasks(kind, &cfg, tasks);
        assert_eq!(rep.end, EndReason::Horizon, "{kind:?}");
        assert_eq!(rep.end_ms, 500, "{kind:?}");
        assert!(log.is_empty(), "{kind:?}: {log:?}");
    }
}

#[test]
fn the_step_budget_ends_a_busy_loop() {
    let cfg = RunConfig {
        max_steps: 1000,
        ..config(&[])
    };
    let tasks = vec![|rt: Rt, _log: Log| async move {
        loop {
            rt.yield_now().await;
        }
    }];
    let (rep, _) = run_tasks(EngineKind::Fast, &cfg, tasks);
    assert_eq!(rep.end, EndReason::StepBudget);
    assert_eq!(rep.steps, 1000);
    assert_eq!(rep.end_ms, 0);
}

#[test]
fn a_task_waiting_for_what_never_comes_ends_quiescent() {
    let tasks = vec![|_rt: Rt, _log: Log| async move {
        let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
        let _tx_kept = _tx;
        let _ = rx.await;
    }];
    let (rep, _) = run_tasks(EngineKind::Fast, &config(&[]), tasks);
    assert_eq!(rep.end, EndReason::Quiescent);
    assert_eq!(rep.end_ms, 0);
}

#[test]
fn first_of_is_biased_to_the_left() {
    for kind in BOTH {
        let tasks = vec![|rt: Rt, log: Log| async move {
            // Both complete at once, every time: the left one must win every time.
            for _ in 0..20 {
                let r = first_of(rt.sleep(5), rt.sleep(5)).await;
                let label = match r {
                    engine::Either::Left(()) => 0,
                    engine::Either::Right(()) => 1,
                };
                note(&rt, &log, label);
                let r = first_of(std::future::ready(1u8), std::future::ready(2u8)).await;
                assert_eq!(r, engine::Either::Left(1));
            }
        }];
        let (_, log) = run_tasks(kind, &config(&[]), tasks);
        assert_eq!(log.len(), 20, "{kind:?}");
        assert!(log.iter().all(|e| e.0 == 0), "{kind:?}: {log:?}");
    }
}

/// A future that counts its polls and never completes: a task waiting for a wake that must
/// never come.
fn counted_pending(polls: Rc<Cell<u32>>) -> impl Future<Output = ()> {
    std::future::poll_fn(move |_| {
        polls.set(polls.get() + 1);
        std::task::Poll::<()>::Pending
    })
}

/// Run 1 leaves a waker of its task 0 outside the engine; run 2's task 0 (same slot index)
/// waits forever. Waking the stale waker during run 2, on this thread or another, must not
/// poll run 2's task again.
fn stale_waker_case(from_another_thread: bool) {
    let kept: Rc<RefCell<Option<std::task::Waker>>> = Rc::new(RefCell::new(None));
    let k = kept.clone();
    let first = engine::run(EngineKind::Fast, &config(&[]), move |rt| {
        let rt2 = rt.clone();
        rt.spawn(std::future::poll_fn(move |cx| {
            *k.borrow_mut() = Some(cx.waker().clone());
            rt2.stop();
            std::task::Poll::Ready(())
        }));
    });
    assert_eq!(first.end, EndReason::Stopped);
    let stale = kept.borrow_mut().take().expect("run 1 kept its waker");
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    let second = engine::run(EngineKind::Fast, &config(&[]), move |rt| {
        rt.spawn(counted_pending(p));
        let rt2 = rt.clone();
        rt.spawn(async move {
            rt2.sleep(10).await;
            if from_another_thread {
                std::thread::scope(|s| {
                    s.spawn(|| stale.wake_by_ref());
                });
            } else {
                stale.wake_by_ref();
            }
            rt2.sleep(10).await;
        });
    });
    assert_eq!(second.end, EndReason::Quiescent, "{second:?}");
    assert_eq!(polls.get(), 1, "the stale waker woke a later run's task");
}

#[test]
fn a_waker_kept_from_an_earlier_run_wakes_nothing_in_a_later_one() {
    stale_waker_case(false);
}

#[test]
fn a_waker_kept_from_an_earlier_run_wakes_nothing_even_from_another_thread() {
    stale_waker_case(true);
}

/// Drops counted: each task future owns one, so a future dropped twice or never shows.
struct DropCount(Rc<Cell<u32>>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn reused_task_boxes_run_each_runs_own_futures_and_drop_each_once() {
    // Runs alternate between two future types and between few and many tasks (more than the
    // engine keeps between runs), and some runs end with tasks still waiting (their futures
    // are dropped by the engine, not completed).
    for round in 0..12u32 {
        let n = [1usize, 3, 150, 2][round as usize % 4];
        let sum = Rc::new(Cell::new(0u64));
        let drops = Rc::new(Cell::new(0u32));
        let (s, d) = (sum.clone(), drops.clone());
        let unfinished = round % 3 == 2;
        let report = engine::run(EngineKind::Fast, &config(&[]), move |rt| {
            for i in 0..n {
                let (rt2, s, guard) = (rt.clone(), s.clone(), DropCount(d.clone()));
                let value = u64::from(round) * 1000 + i as u64;
                if round % 2 == 0 {
                    rt.spawn(async move {
                        let _guard = guard;
                        rt2.sleep(1 + i as u64 % 7).await;
                        s.set(s.get() + value);
                        if unfinished {
                            std::future::pending::<()>().await;
                        }
                    });
                } else {
                    let pad = [value; 16];
                    rt.spawn(async move {
                        let _guard = guard;
                        rt2.yield_now().await;
                        s.set(s.get() + pad[15]);
                        if unfinished {
                            std::future::pending::<()>().await;
                        }
                    });
                }
            }
        });
        let want: u64 = (0..n as u64).map(|i| u64::from(round) * 1000 + i).sum();
        assert_eq!(sum.get(), want, "round {round}: {report:?}");
        assert_eq!(
            drops.get(),
            n as u32,
            "round {round}: every future dropped once"
        );
        assert_eq!(report.end, EndReason::Quiescent, "round {round}");
    }
}
