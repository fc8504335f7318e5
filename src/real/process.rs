//! The processes `readysim real` starts (private `redis-server`s, the user's `--app`): each in
//! a process group of its own, killed with readysim, stopped on drop and by the Ctrl-C and
//! SIGTERM handler through [`stop_all`], its temporary folder removed with it.
//!
//! A process group is what lets "stop it" mean everything it started: `sh -c 'COMMAND'`, the
//! interpreter it runs, that interpreter's workers. `PR_SET_PDEATHSIG` (Linux) covers the one
//! exit no handler sees, readysim itself being killed: the kernel kills the direct child then.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A group this process started and has not stopped yet: its id, what it runs (for the
/// interrupt's report), the folder to remove.
type Entry = (i32, String, Option<PathBuf>);

/// Every group this process started and has not stopped yet.
static RUNNING: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set once [`stop_all`] has begun: a run in progress must not report what it saw of
/// processes the handler killed.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`stop_all`] has begun (readysim is being interrupted).
pub fn stopping() -> bool {
    STOPPING.load(std::sync::atomic::Ordering::SeqCst)
}

/// Stops every group still running and removes their folders: SIGTERM, up to 2 s for them to
/// go, then SIGKILL. For the Ctrl-C and SIGTERM handler, which cannot reach the owners; from
/// then on [`stopping`] is true and no new process is started. Returns one line per group
/// stopped: what it ran, its id, and the folder removed.
pub fn stop_all() -> Vec<String> {
    STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
    let all = std::mem::take(&mut *running());
    for (pgid, _, _) in &all {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGTERM);
    }
    // The handler runs on a thread of its own: waiting here delays only the exit.
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    #[allow(clippy::disallowed_methods)]
    while t.elapsed() < Duration::from_secs(2)
        && all
            .iter()
            .any(|(g, _, _)| killpg(Pid::from_raw(*g), None).is_ok())
    {
        reap_any();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut report = Vec::new();
    for (pgid, what, dir) in &all {
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
        let mut line = format!("stopped {what} (process group {pgid})");
        if let Some(d) = dir {
            if std::fs::remove_dir_all(d).is_ok() || !d.exists() {
                line.push_str(&format!(", removed {}", d.display()));
            }
        }
        report.push(line);
    }
    report
}

/// What a command runs, short enough for one line: `redis-server`, `sh -c 'python app.py'`.
fn describe(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program());
    let name = program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let line = match args.as_slice() {
        [c, script, ..] if c == "-c" => format!("{name} -c '{script}'"),
        _ => name,
    };
    if line.chars().count() > 80 {
        line.chars().take(77).collect::<String>() + "..."
    } else {
        line
    }
}

/// Reaps exited children so that a group whose members all exited stops answering `killpg`.
fn reap_any() {
    use nix::sys::wait::{waitpid, WaitPidFlag};
    while let Ok(s) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if matches!(s, nix::sys::wait::WaitStatus::StillAlive) {
            break;
        }
    }
}

/// A fresh temporary folder for a process this run starts, named
/// `readysim-{what}-{pid}-XXXXXX` so that a later run can tell whether its owner is gone.
pub fn temp_dir(what: &str) -> std::io::Result<PathBuf> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("readysim-{what}-{}-", std::process::id()))
        .tempdir()?
        .keep())
}

/// Removes what killed runs left in the temporary directory (SIGKILL reaches no handler):
/// folders named by [`temp_dir`] whose owner is no longer running, and folders of the older
/// `readysim-redis-XXXXXX` naming that no live process owns; a `redis-server` still serving
/// such a folder (a server from before `PR_SET_PDEATHSIG`, adopted by init) is killed first.
/// Returns the folders removed.
pub fn clean_stale() -> Vec<PathBuf> {
    clean_stale_in(&std::env::temp_dir())
}

fn clean_stale_in(tmp: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("readysim-redis-") else {
            continue;
        };
        let dir = e.path();
        let users = processes_using(&dir);
        let stale = match rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<i32>().ok())
        {
            Some(owner) => !alive(owner),
            // The older naming: stale when nothing uses it, or only orphans (parent: init).
            None => users.iter().all(|&(_, ppid)| ppid == 1),
        };
        if !stale || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        for (pid, _) in users {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        })
        .unwrap_or(false)
}

/// Processes (pid, parent pid) working in `dir` (a server started with `--dir` works there;
/// its command line is no help, since redis-server rewrites its process title).
fn processes_using(dir: &std::path::Path) -> Vec<(i32, i32)> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|p| p.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == dir))
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect()
}

/// A process (and its group) this process owns: stopped when dropped.
pub struct Owned {
    child: Child,
    pgid: i32,
    dir: Option<PathBuf>,
    status: Option<ExitStatus>,
}

/// Starts `cmd` as the leader of a new process group that dies with readysim, registered for
/// [`stop_all`]; `dir` (a folder the process works in) is removed when it is stopped.
pub fn spawn(cmd: &mut Command, dir: Option<PathBuf>) -> std::io::Result<Owned> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and calls only prctl(2), which is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    // Registered before the spawn returns to the caller: a signal right after still finds it.
    let mut reg = running();
    if stopping() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "readysim is stopping",
        ));
    }
    let child = cmd.spawn()?;
    let pgid = child.id() as i32;
    reg.push((pgid, describe(cmd), dir.clone()));
    drop(reg);
    Ok(Owned {
        child,
        pgid,
        dir,
        status: None,
    })
}

impl Owned {
    /// The child's pipes and handles.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The leader's exit status, once it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// SIGTERM to the whole group, up to `grace` for the leader to exit, then SIGKILL to the
    /// group (a member that ignored SIGTERM, or outlived its leader, goes too).
    #[allow(clippy::disallowed_methods)]
    pub fn stop(&mut self, grace: Duration) {
        let g = Pid::from_raw(self.pgid);
        if self.try_wait().is_none() {
            let _ = killpg(g, Signal::SIGTERM);
            let t = Instant::now();
            while t.elapsed() < grace && self.try_wait().is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = killpg(g, Signal::SIGKILL);
        if self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        running().retain(|(p, _, _)| *p != self.pgid);
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Running (a zombie waiting for a reaper that a container may not have is gone).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                let state = s
                    .rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next());
                state != Some("Z")
            })
            .unwrap_or(false)
    }

    #[test]
    // Real processes, real time.
    #[allow(clippy::disallowed_methods)]
    fn stopping_a_group_stops_what_its_leader_started_and_removes_the_folder() {
        let dir = tempfile::Builder::new()
            .prefix("readysim-test-")
            .tempdir()
            .unwrap()
            .keep();
        // The shell starts a sleeper that ignores SIGTERM and prints its pid.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "trap '' TERM; sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped());
        let mut p = spawn(&mut cmd, Some(dir.clone())).unwrap();
        let mut line = String::new();
        let out = p.child_mut().stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
        let sleeper: i32 = line.trim().parse().unwrap();
        assert!(alive(sleeper));
        p.stop(Duration::from_millis(200));
        // The grandchild was in the group: SIGKILL reached it (it is reaped by init, so poll).
        let t = Instant::now();
        while alive(sleeper) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(sleeper), "the sleeper outlived its group");
        assert!(!dir.exists());
        assert!(!running().iter().any(|(g, _, _)| *g == p.pgid));
    }
}
