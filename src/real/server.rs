//! A private `redis-server`: started on a free loopback port with no persistence, waited for
//! until it answers PING, and always stopped (on drop, on error, and by the Ctrl-C handler
//! through [`stop_all`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::RealError;

/// The PIDs of every server this process started and has not stopped yet.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Stops every server still running (for a Ctrl-C handler, which cannot reach the guards).
pub fn stop_all() {
    let pids = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(|e| e.into_inner()));
    for pid in pids {
        let _ = Command::new("kill")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A running `redis-server` this process owns.
pub struct RedisProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// `redis-server` from `READYSIM_REDIS_SERVER`, else from PATH, if there is one.
pub fn find_redis_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("READYSIM_REDIS_SERVER") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether a server at `addr` answers `PING` with `+PONG`.
pub fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl RedisProcess {
    /// Starts `bin` on a free loopback port (`--save "" --appendonly no`) and waits up to 5 s
    /// for it to answer PING.
    // Starting and waiting for a real server is the point of this module.
    #[allow(clippy::disallowed_methods)]
    pub fn start(bin: &Path) -> Result<RedisProcess, RealError> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|e| RealError::Server(format!("no free port: {e}")))?;
            let dir =
                std::env::temp_dir().join(format!("readysim-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .map_err(|e| RealError::Server(format!("{}: {e}", dir.display())))?;
            let child = Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--protected-mode", "yes", "--loglevel", "warning"])
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| RealError::Server(format!("cannot start {}: {e}", bin.display())))?;
            RUNNING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(child.id());
            let mut p = RedisProcess {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir,
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if answers_ping(p.addr) {
                    return Ok(p);
                }
                if let Ok(Some(status)) = p.child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = p.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    last = format!("{} exited ({status}): {}", bin.display(), err.trim());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if last.is_empty() {
                last = format!("{} did not answer PING within 5 s", bin.display());
            }
            // Dropping `p` stops it; try another port (another process may have taken this one).
        }
        Err(RealError::Server(last))
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let id = self.child.id();
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != id);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
