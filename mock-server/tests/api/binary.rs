//! The `mock-server` binary: its first line, its flags, its refusals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mock-server"))
}

#[tokio::test]
async fn prints_the_listening_line_first_then_the_key_and_org_url() {
    let mut child = binary()
        .args([
            "--port",
            "0",
            "--seed",
            "7",
            "--clock",
            "frozen",
            "--fault",
            "numora:GET:/v1/schemas,status=503,times=1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("listening on ")
        .expect(&first)
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "api key: sk_test_numora_mock_default"
    );
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("dataverse organization url: {url}")
    );
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{url}{path}"))
            .bearer_auth("sk_test_numora_mock_default")
            .send()
    };
    assert_eq!(
        get("/v1/schemas").await.unwrap().status(),
        503,
        "the --fault rule applies"
    );
    assert_eq!(get("/v1/schemas").await.unwrap().status(), 200);
    let clock: serde_json::Value = client
        .get(format!("{url}/_mock/workspaces/default/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["data"]["mode"], "frozen");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn bad_flags_exit_2_with_the_reason() {
    let out = binary()
        .args(["--fault", "crm:GET:/x,status=500"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown api"));
    let out = binary()
        .args(["--port", "0", "--fixtures", "/nonexistent/world.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read fixtures"));
    let out = binary()
        .args(["--port", "0", "--host", "0.0.0.0"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "control API on a public address needs --admin-token"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin token"));
}

#[test]
fn help_teaches_the_flags() {
    let out = binary().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--seed",
        "--fixtures",
        "--clock",
        "--tick",
        "--no-control",
        "--fault",
        "--admin-token",
        "--ready-file",
        "--version",
    ] {
        assert!(help.contains(flag), "--help mentions {flag}");
    }
    for default in [
        "[default: 4010]",
        "else step]",
        "else 1s]",
        "else 1]",
        "[default: 10s]",
        "RUST_LOG",
    ] {
        assert!(help.contains(default), "--help shows {default}: {help}");
    }
}

/// Quiet by default; `RUST_LOG=mock_server=debug` adds workspace lifecycle and
/// one line per request on stderr.
#[tokio::test]
async fn rust_log_selects_lifecycle_and_request_lines() {
    for (filter, expect_lines) in [(None, false), (Some("mock_server=debug"), true)] {
        let mut command = binary();
        command
            .args(["--port", "0"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = filter {
            command.env("RUST_LOG", f);
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("listening on ")
            .expect(&first)
            .to_string();
        let status = reqwest::Client::new()
            .get(format!("{url}/v1/schemas"))
            .bearer_auth("sk_test_numora_mock_default")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lifecycle = stderr.contains("workspace ready");
        let request = stderr
            .lines()
            .any(|l| l.contains("request") && l.contains("/v1/schemas"));
        assert_eq!(lifecycle, expect_lines, "{filter:?}: {stderr}");
        assert_eq!(request, expect_lines, "{filter:?}: {stderr}");
    }
}

#[tokio::test]
async fn no_control_hides_the_control_api() {
    let app = crate::helpers::app_with(mock_server::MockServer::builder().control(false)).await;
    let r = app.send("GET", "/_mock/health", None, None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_admin_token_guards_the_control_api() {
    let app =
        crate::helpers::app_with(mock_server::MockServer::builder().admin_token("let-me-in")).await;
    app.send("GET", "/_mock/health", None, None)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(
        app.send("GET", "/_mock/health", Some("let-me-in"), None)
            .await
            .status,
        200
    );
}

#[test]
fn version_names_the_binary_and_its_version() {
    let out = binary().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("mock-server {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The ready file is written before the `listening on` line, so once that
/// line is read the file must already be complete; it goes away on SIGTERM.
#[tokio::test]
async fn ready_file_holds_the_url_key_and_org_url_and_is_removed_on_stop() {
    let dir = std::env::temp_dir().join(format!("mock-server-ready-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ready = dir.join("fake.json");
    let mut child = binary()
        .args(["--port", "0", "--ready-file"])
        .arg(&ready)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("listening on ").expect(&first);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ready).expect("ready file written")).unwrap();
    assert_eq!(info["url"], url);
    assert_eq!(info["organization_url"], url);
    assert_eq!(info["api_key"], "sk_test_numora_mock_default");
    assert_eq!(info["control_url"], format!("{url}/_mock"));
    assert_eq!(info["pid"], child.id());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["fake.json"], "the temporary file was renamed away");

    let client = reqwest::Client::new();
    let health = client
        .get(format!("{url}/_mock/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let schemas = client
        .get(format!("{url}/v1/schemas"))
        .bearer_auth(info["api_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(schemas.status(), 200, "the key in the file is accepted");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    assert!(!ready.exists(), "a clean stop removes the ready file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_ready_file_exits_2_with_the_reason() {
    let out = binary()
        .args([
            "--port",
            "0",
            "--ready-file",
            "/nonexistent-dir/for-sure/fake.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write the ready file"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "no listening line"
    );
}
