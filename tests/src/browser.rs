//! Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol, for the
//! console's tests. Each `Page` has a browser context of its own (its own cookies and HTTP auth
//! cache), and answers the server's basic-auth challenge as a person would in the browser's
//! prompt (`Fetch.authRequired`), with that page's credentials.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
/// Credentials per DevTools session.
type Logins = Arc<Mutex<HashMap<String, (String, String)>>>;

pub struct Browser {
    child: Child,
    profile: PathBuf,
    outgoing: mpsc::UnboundedSender<Value>,
    pending: Pending,
    logins: Logins,
    next_id: Arc<AtomicU64>,
}

/// The Chromium binary: `CHROMIUM` or Debian's.
pub fn chromium_binary() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

async fn devtools_url(profile: &Path) -> String {
    let file = profile.join("DevToolsActivePort");
    for _ in 0..300 {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return format!("ws://127.0.0.1:{port}{path}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromium did not open its DevTools port (is Debian's chromium package installed?)");
}

impl Browser {
    pub async fn launch() -> Self {
        static PROFILES: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "ri-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).expect("a profile directory");
        let child = Command::new(chromium_binary())
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
            .args(["--remote-debugging-port=0", "--hide-scrollbars", "--window-size=1280,900"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", chromium_binary()));
        let (socket, _) = tokio_tungstenite::connect_async(devtools_url(&profile).await).await.expect("DevTools");
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(Message::text(message.to_string())).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let logins: Logins = Arc::default();
        let next_id = Arc::new(AtomicU64::new(1));
        let (reader_pending, reader_logins, reader_out, reader_ids) =
            (pending.clone(), logins.clone(), outgoing.clone(), next_id.clone());
        tokio::spawn(async move {
            let mut challenged = std::collections::HashSet::new();
            while let Some(Ok(message)) = stream.next().await {
                let Ok(text) = message.into_text() else { continue };
                let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(id) = value["id"].as_u64() {
                    if let Some(waiter) = reader_pending.lock().unwrap().remove(&id) {
                        waiter.send(value).ok();
                    }
                    continue;
                }
                let session = value["sessionId"].as_str().unwrap_or_default().to_owned();
                let params = &value["params"];
                let reply = match value["method"].as_str() {
                    Some("Fetch.requestPaused") => {
                        Some(("Fetch.continueRequest", json!({"requestId": params["requestId"]})))
                    }
                    Some("Fetch.authRequired") => {
                        // A second challenge for the same URL means the password was refused:
                        // cancel, as a person closing the prompt would.
                        let url = params["request"]["url"].as_str().unwrap_or_default().to_owned();
                        let refused = challenged.insert((session.clone(), url));
                        let login = reader_logins.lock().unwrap().get(&session).cloned().filter(|_| refused);
                        let response = match login {
                            Some((username, password)) => {
                                json!({"response": "ProvideCredentials", "username": username, "password": password})
                            }
                            None => json!({"response": "CancelAuth"}),
                        };
                        Some((
                            "Fetch.continueWithAuth",
                            json!({"requestId": params["requestId"], "authChallengeResponse": response}),
                        ))
                    }
                    _ => None,
                };
                if let Some((method, params)) = reply {
                    let id = reader_ids.fetch_add(1, Ordering::Relaxed);
                    reader_out.send(json!({"id": id, "method": method, "params": params, "sessionId": session})).ok();
                }
            }
        });
        Self { child, profile, outgoing, pending, logins, next_id }
    }

    async fn send(&self, method: &str, params: Value, session: Option<&str>) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, reply);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.outgoing.send(message).expect("the DevTools connection is open");
        let answer = tokio::time::timeout(Duration::from_secs(30), answer).await.expect("DevTools answers").unwrap();
        assert!(answer.get("error").is_none(), "{method}: {}", answer["error"]);
        answer["result"].clone()
    }

    /// A tab in a fresh browser context that signs in as `username` when the server asks.
    pub async fn page(&self, username: &str, password: &str) -> Page<'_> {
        let context = self.send("Target.createBrowserContext", json!({}), None).await;
        let target = self
            .send(
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": context["browserContextId"]}),
                None,
            )
            .await;
        let attached =
            self.send("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}), None).await;
        let session = attached["sessionId"].as_str().expect("a session").to_owned();
        self.logins.lock().unwrap().insert(session.clone(), (username.to_owned(), password.to_owned()));
        let page = Page { browser: self, session };
        page.call("Fetch.enable", json!({"handleAuthRequests": true, "patterns": [{"urlPattern": "*"}]})).await;
        page.call("Page.enable", json!({})).await;
        page.resize(1280, 900, false).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

pub struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Page<'_> {
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.browser.send(method, params, Some(&self.session)).await
    }

    pub async fn resize(&self, width: u32, height: u32, mobile: bool) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.call("Emulation.setDeviceMetricsOverride", metrics).await;
    }

    pub async fn navigate(&self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    /// The value of a JavaScript expression (promises awaited).
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}))
            .await;
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {}", result["exceptionDetails"]);
        result["result"]["value"].clone()
    }

    /// Waits up to 20 s for `expression` to be truthy.
    pub async fn wait_for(&self, expression: &str) {
        for _ in 0..200 {
            let value = self
                .call(
                    "Runtime.evaluate",
                    json!({"expression": format!("Boolean({expression})"), "returnByValue": true}),
                )
                .await;
            if value["result"]["value"] == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status =
            self.eval("document.getElementById('status') && document.getElementById('status').textContent").await;
        panic!("timed out waiting for {expression} (status line: {status})");
    }

    /// A PNG of the viewport, written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": false})).await;
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).expect("base64 PNG");
        std::fs::create_dir_all(path.parent().unwrap()).ok();
        std::fs::write(path, png).expect("the screenshot is written");
    }
}
