//! Installs (through the project's own venv script) and runs the moto server, the AWS
//! emulator of the local stack and the tests, on a free loopback port.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("installing the Python tools failed ({0}); run scripts/venv.sh to see why")]
    Install(String),
    #[error("starting the moto server failed: {0}")]
    Start(String),
}

/// The project's venv: `BRIDGE_VENV`, or `.venv` at the repository root.
pub fn venv_dir(root: &Path) -> PathBuf {
    std::env::var_os("BRIDGE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv"))
}

/// Creates or refreshes the venv with the pinned tools (a no-op when up to date).
pub fn ensure_venv(root: &Path) -> Result<PathBuf, MotoError> {
    let status = Command::new("bash")
        .arg(root.join("scripts/venv.sh"))
        .status()
        .map_err(|e| MotoError::Install(e.to_string()))?;
    if !status.success() {
        return Err(MotoError::Install(format!(
            "scripts/venv.sh exited with {status}"
        )));
    }
    Ok(venv_dir(root))
}

/// A free loopback port (the OS picks it; a tiny race with other processes remains).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running moto server. It stops when this value drops, and also when this process
/// dies: a small Python watchdog ends moto as soon as our end of its stdin closes.
pub struct MotoServer {
    pub endpoint: String,
    child: Child,
}

/// moto's server with DynamoDB's isolation (the file's docstring says why).
const SERVE: &str = include_str!("../../tools/moto/serve.py");

/// Runs moto as a child and ends it when stdin reaches end of file.
const WATCHDOG: &str = r#"
import subprocess, sys
moto = subprocess.Popen([sys.executable, "-c", sys.argv[1], "-H", "127.0.0.1", "-p", sys.argv[2]],
                        stdout=subprocess.DEVNULL, stderr=open(sys.argv[3], "ab"))
try:
    sys.stdin.read()
finally:
    moto.terminate()
    try:
        moto.wait(5)
    except subprocess.TimeoutExpired:
        moto.kill()
"#;

impl MotoServer {
    /// Starts moto from `venv` on `port` (a free one if `None`) and waits until it listens.
    pub fn start(venv: &Path, port: Option<u16>, log: &Path) -> Result<Self, MotoError> {
        let port = match port {
            Some(port) => port,
            None => free_port().map_err(|e| MotoError::Start(e.to_string()))?,
        };
        let python = venv.join("bin/python");
        let moto = venv.join("bin/moto_server");
        if !moto.exists() {
            return Err(MotoError::Start(format!("{} is missing", moto.display())));
        }
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let child = Command::new(python)
            .arg("-c")
            .arg(WATCHDOG)
            .arg(SERVE)
            .arg(port.to_string())
            .arg(log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| MotoError::Start(e.to_string()))?;
        let mut server = MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                // Listening is not serving: ask for moto's own API once.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                if stream
                    .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    .is_ok()
                {
                    let mut head = [0u8; 12];
                    if std::io::Read::read(&mut stream, &mut head).unwrap_or(0) > 0 {
                        return Ok(server);
                    }
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(MotoError::Start(format!(
                    "moto exited with {status}; see {}",
                    log.display()
                )));
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(MotoError::Start(format!(
                    "moto did not answer on port {port} within 30 s; see {}",
                    log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(6);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
