//! `berth` as a process: one-shot commands, and `berth serve` running until dropped, with
//! its stderr in the test logs (`logs.rs`) and its stdout read as it comes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs `berth ARGS` with `stdin` as its input.
pub fn berth(args: &[&str], stdin: &str) -> Output {
    berth_with_env(args, stdin, &[])
}

/// Runs `berth ARGS` with `stdin` as its input and these environment variables set.
pub fn berth_with_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A site directory with the files Berth looks for (enough to serve pages).
pub fn site(dir: &Path) -> String {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/berth.css"), "body {}").unwrap();
    std::fs::write(site.join("pkg/berth.js"), "").unwrap();
    site.to_string_lossy().into_owned()
}

/// `berth serve` running until dropped; its stdout lines as they come.
pub struct Server {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    /// `berth serve ARGS` with these environment variables set besides.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "debug,berth_server=trace")
            .stdout(Stdio::piped())
            .stderr(super::logs::child_log())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Server { child, lines }
    }

    /// The server's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The stdout lines up to and including the one naming the address.
    pub fn wait_until_running(&self) -> (Vec<String>, String) {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("berth did not start; it said {seen:?}"));
            if let Some(url) = line.strip_prefix("Berth is running at ") {
                let url = url.trim_end_matches('/').to_owned();
                seen.push(line);
                return (seen, url);
            }
            seen.push(line);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client(tls: Option<rustls::ClientConfig>) -> reqwest::Client {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder();
    match tls {
        Some(config) => builder.use_preconfigured_tls(config),
        None => builder,
    }
    .build()
    .unwrap()
}

/// `POST /api/v1/session` with the server's own origin.
pub async fn sign_in(
    client: &reqwest::Client,
    url: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(format!("{url}/api/v1/session"))
        .header("origin", url)
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

/// A session on a running Berth, as a browser holds it: the cookie and the CSRF token (both
/// noted as secrets for the check over the logs).
pub struct WebSession {
    pub cookie: String,
    pub csrf_token: String,
}

impl WebSession {
    /// The session a successful `POST /api/v1/session` answered with.
    pub async fn from_response(response: reqwest::Response) -> WebSession {
        assert_eq!(response.status(), 200, "signed in");
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let body: serde_json::Value = response.json().await.unwrap();
        let csrf_token = body["csrf_token"].as_str().unwrap().to_owned();
        // `berth_session=VALUE`, or `__Host-berth_session=VALUE` with secure cookies.
        super::logs::secret(cookie.split_once('=').map_or(cookie.as_str(), |(_, value)| value));
        super::logs::secret(&csrf_token);
        WebSession { cookie, csrf_token }
    }

    /// A request with the session's cookie, and for writes the CSRF token and the `origin` of
    /// the page that sends it.
    pub fn send(&self, request: reqwest::RequestBuilder, origin: &str) -> reqwest::RequestBuilder {
        request
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf_token)
            .header("origin", origin)
    }

    /// A new API token of this session's user, made through `url`.
    pub async fn create_token(&self, http: &reqwest::Client, url: &str, name: &str) -> String {
        let request = http
            .post(format!("{url}/api/v1/tokens"))
            .json(&serde_json::json!({ "name": name }));
        let response = self.send(request, url).send().await.unwrap();
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        super::logs::secret(&token);
        token
    }
}
