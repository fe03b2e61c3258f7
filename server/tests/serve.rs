//! `berth user …` and `berth serve` as an administrator runs them: accounts made on the
//! command line, a server that refuses to start without an admin, the demo's admin with a
//! password printed once, and Berth serving HTTPS itself or behind a TLS proxy
//! (`--secure-cookies`).

use crate::support;

use std::process::{Command, Stdio};
use std::sync::Arc;

use support::process::{berth, berth_with_env, client, sign_in, site, text, Server, WebSession};

#[test]
fn users_are_managed_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let password = "a password from stdin";
    support::logs::secret(password);
    let add = berth(
        &[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
            data,
        ],
        &format!("{password}\n"),
    );
    assert!(add.status.success(), "{}", text(&add.stderr));
    assert_eq!(text(&add.stdout), "added alice (admin)\n");
    assert!(!text(&add.stderr).contains(password));

    let bob = berth(
        &["user", "add", "bob", "--role", "reviewer", "--data-dir", data],
        "another password\n",
    );
    assert!(
        bob.status.success(),
        "without a terminal the password is read from stdin: {}",
        text(&bob.stderr)
    );
    let duplicate = berth(
        &["user", "add", "bob", "--role", "viewer", "--data-dir", data],
        "another password\n",
    );
    assert!(!duplicate.status.success());
    assert!(text(&duplicate.stderr).contains("a user named `bob` exists already"));
    let weak = berth(
        &["user", "add", "carol", "--role", "viewer", "--data-dir", data],
        "short\n",
    );
    assert!(text(&weak.stderr).contains("at least 8 characters"));
    let bad_role = berth(
        &["user", "add", "carol", "--role", "root", "--data-dir", data],
        "",
    );
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(text(&bad_role.stderr).contains("roles are viewer, author, reviewer, operator and admin"));

    let list = berth(&["user", "list", "--data-dir", data], "");
    let lines: Vec<String> = text(&list.stdout)
        .lines()
        .map(|line| line.split('\t').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["alice admin active", "bob reviewer active"]);

    let set_role = berth(&["user", "set-role", "bob", "operator", "--data-dir", data], "");
    assert_eq!(text(&set_role.stdout), "bob is now operator\n");
    let last_admin = berth(&["user", "set-role", "alice", "viewer", "--data-dir", data], "");
    assert!(!last_admin.status.success());
    assert!(text(&last_admin.stderr).contains("last enabled admin"));

    let passwd = berth(
        &["user", "passwd", "bob", "--password-stdin", "--data-dir", data],
        "a brand new password\n",
    );
    assert!(passwd.status.success(), "{}", text(&passwd.stderr));
    let missing = berth(
        &["user", "passwd", "nobody", "--data-dir", data],
        "a brand new password\n",
    );
    assert!(text(&missing.stderr).contains("there is no user `nobody`"));
}

#[test]
fn serve_refuses_to_start_without_an_admin_and_says_how_to_add_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Empty variables read as absent: the default database, no proxies, no extra origins.
    let output = berth_with_env(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--site-root",
            &site(dir.path()),
        ],
        "",
        &[
            ("BERTH_DATABASE_URL", ""),
            ("BERTH_TRUSTED_PROXIES", ""),
            ("BERTH_ORIGINS", ""),
        ],
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "berth user add NAME --role admin --data-dir {}",
            data.display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_demo_creates_an_admin_with_a_password_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let (data, site) = (dir.path().join("data"), site(dir.path()));
    let args = [
        "--demo",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--site-root",
        &site,
    ];
    let server = Server::start(&args);
    let (said, url) = server.wait_until_running();
    let told = said
        .iter()
        .find_map(|line| line.strip_prefix("Sign in as admin with the password "))
        .unwrap_or_else(|| panic!("{said:?}"));
    let password = told.split_whitespace().next().unwrap().to_owned();
    support::logs::secret(&password);
    assert!(password.len() >= 16, "{password}");

    let http = client(None);
    let session = WebSession::from_response(sign_in(&http, &url, "admin", &password).await).await;
    // The demo snapshot is in the audit log, stored on the command line.
    let token = session.create_token(&http, &url, "audit").await;
    let audit: serde_json::Value = http
        .get(format!("{url}/api/v1/audit?kind=snapshot"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit[0]["detail"]["source"], "demo");
    assert_eq!(audit[0]["detail"]["via"], "command line");
    let wrong = sign_in(&http, &url, "admin", "admin").await;
    assert_eq!(wrong.status(), 401, "no fixed default password");
    // The audit log has the address of a real connection.
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "wrong username or password");
    drop(server);

    // Started again, the admin exists: no new password, a hint instead.
    let server = Server::start(&args);
    let (said, _) = server.wait_until_running();
    assert!(
        said.iter().all(|line| !line.contains("with the password")),
        "{said:?}"
    );
    assert!(
        said.iter().any(|line| line.contains("berth user passwd admin")),
        "{said:?}"
    );
}

#[tokio::test]
async fn berth_serves_https_itself_with_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let (data, site) = (dir.path().join("data"), site(dir.path()));
    let (cert, key) = (dir.path().join("berth.crt"), dir.path().join("berth.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let password = "the tls admin password";
    support::logs::secret(password);
    let add = berth(
        &[
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &format!("{password}\n"),
    );
    assert!(add.status.success());

    let server = Server::start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--site-root",
        &site,
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let (_, url) = server.wait_until_running();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(&cert).unwrap())
        .unwrap();
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let https = client(Some(config));
    let response = sign_in(&https, &url, "root", password).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    support::logs::secret(
        cookie
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("__Host-berth_session="),
    );
    assert!(
        cookie.starts_with("__Host-berth_session=")
            && cookie.contains("Secure")
            && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The same origin over plain http is not this Berth.
    let plain_origin = https
        .post(format!("{url}/api/v1/session"))
        .header("origin", url.replace("https:", "http:"))
        .json(&serde_json::json!({"username": "root", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(plain_origin.status(), 403);
}

#[tokio::test]
async fn behind_a_tls_proxy_secure_cookies_make_the_cookie_secure_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (data, site) = (dir.path().join("data"), site(dir.path()));
    let server = Server::start(&[
        "--demo",
        "--secure-cookies",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--site-root",
        &site,
    ]);
    let (said, url) = server.wait_until_running();
    assert!(
        url.starts_with("http://"),
        "Berth itself speaks plain HTTP: {url}"
    );
    let password = said
        .iter()
        .find_map(|line| line.strip_prefix("Sign in as admin with the password "))
        .and_then(|told| told.split_whitespace().next())
        .unwrap_or_else(|| panic!("{said:?}"))
        .to_owned();
    support::logs::secret(&password);

    // The browser is on the proxy's HTTPS origin (the same host, forwarded).
    let public_origin = url.replace("http://", "https://");
    let http = client(None);
    let sign_in_from = |origin: String| {
        http.post(format!("{url}/api/v1/session"))
            .header("origin", origin)
            .json(&serde_json::json!({"username": "admin", "password": password}))
            .send()
    };
    let response = sign_in_from(public_origin).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    support::logs::secret(
        cookie
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("__Host-berth_session="),
    );
    assert!(cookie.starts_with("__Host-berth_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The page's own origin is the HTTPS one: a write from plain HTTP is a foreign origin.
    let plain = sign_in_from(url.clone()).await.unwrap();
    assert_eq!(plain.status(), 403);
}
