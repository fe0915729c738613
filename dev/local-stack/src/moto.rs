//! A `moto` server on a free loopback port, stopped when its owner goes away.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct MotoServer {
    endpoint: String,
    child: Child,
    /// Closing this pipe makes the wrapper shell stop moto, even if this process is killed.
    _lifeline: ChildStdin,
}

/// The workspace root, found from this crate's location.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

/// `MOTO_SERVER`, else the workspace venv's `moto_server`, else `moto_server` on the PATH.
pub fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("moto_server")
    }
}

pub fn free_loopback_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

impl MotoServer {
    pub fn start() -> io::Result<Self> {
        Self::start_on(free_loopback_port()?, &moto_binary())
    }

    pub fn start_on(port: u16, binary: &Path) -> io::Result<Self> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; read _; kill $pid; wait $pid"#)
            .arg(binary)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .spawn()?;
        let lifeline = child.stdin.take().ok_or_else(|| io::Error::other("no stdin pipe to the moto wrapper"))?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!("moto server {} exited: {status}", binary.display())));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(io::Error::other(format!(
                    "moto server {} did not listen on {address} within {STARTUP_TIMEOUT:?}",
                    binary.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self { endpoint: format!("http://{address}"), child, _lifeline: lifeline })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Dropping the lifeline (after this) ends the wrapper, which stops moto.
        let _ = self.child.try_wait();
    }
}

/// Starts an EC2 instance in moto for `access_key`'s account (ECS container instances must
/// name one). A raw Query-protocol request: the EC2 SDK crate is not worth its build time here.
pub async fn run_ec2_instance(endpoint: &str, access_key: &str, region: &str) -> io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = endpoint.trim_start_matches("http://");
    let body = "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1";
    // moto takes the account from the access key and the region from the credential scope.
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/ec2/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let instance =
        response.split_once("<instanceId>").and_then(|(_, rest)| rest.split_once('<')).map(|(id, _)| id.to_owned());
    instance.ok_or_else(|| io::Error::other(format!("RunInstances failed: {response}")))
}

/// Sets one of moto's canned results (`/moto-api/static/...`, e.g. `inspector2/findings-results`):
/// the answers moto gives to APIs it cannot compute, such as scanners' findings.
pub async fn set_static_result(endpoint: &str, path: &str, json: &str) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = endpoint.trim_start_matches("http://");
    let request = format!(
        "POST /moto-api/static/{path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    match response.split(' ').nth(1) {
        Some("200" | "201") => Ok(()),
        _ => Err(io::Error::other(format!("moto refused {path}: {response}"))),
    }
}
