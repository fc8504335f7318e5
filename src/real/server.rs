//! A private `redis-server`: started on a free loopback port with no persistence, waited for
//! until it answers PING, and always stopped with its folder (on drop, on error, and by the
//! Ctrl-C handler through [`super::process::stop_all`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{self, Owned};
use super::RealError;

/// A running `redis-server` this process owns.
pub struct RedisProcess {
    child: Owned,
    /// Where it listens.
    pub addr: SocketAddr,
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
        static CLEAN: std::sync::Once = std::sync::Once::new();
        CLEAN.call_once(|| {
            process::clean_stale();
        });
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|e| RealError::Server(format!("no free port: {e}")))?;
            let dir = process::temp_dir("redis")
                .map_err(|e| RealError::Server(format!("no temporary folder: {e}")))?;
            // Its output goes to a file, not a pipe: a pipe can fill, or be held open by a
            // wrapper's child, and hang the reader; the file's tail explains a failed start.
            let log_path = dir.join("server.log");
            let log = std::fs::File::create(&log_path).and_then(|f| Ok((f.try_clone()?, f)));
            let (out, err) = log.map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                RealError::Server(format!("cannot create {}: {e}", log_path.display()))
            })?;
            let mut cmd = Command::new(bin);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--protected-mode", "yes", "--loglevel", "warning"])
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            let child = process::spawn(&mut cmd, Some(dir.clone())).map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                RealError::Server(format!("cannot start {}: {e}", bin.display()))
            })?;
            let mut p = RedisProcess {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if answers_ping(p.addr) {
                    return Ok(p);
                }
                if let Some(status) = p.child.try_wait() {
                    let said = tail(&log_path, 2000);
                    last = format!("{} exited ({status}): {}", bin.display(), said.trim());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if last.is_empty() {
                let said = tail(&log_path, 2000);
                last = format!(
                    "{} did not answer PING within 5 s; it said: {}",
                    bin.display(),
                    if said.trim().is_empty() {
                        "nothing"
                    } else {
                        said.trim()
                    }
                );
            }
            // Dropping `p` stops it; try another port (another process may have taken this one).
        }
        Err(RealError::Server(last))
    }
}

/// The last `max` bytes of the file at `path` (lossy UTF-8), or nothing.
fn tail(path: &Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let from = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}
