//! `baseline`: the floor the fake is measured against.
//!
//! A bare axum server on the same tokio runtime flavour as `mock-server`
//! (multi-threaded, one worker per core) that answers every request, whatever
//! its method and path, with one fixed JSON body of about 600 bytes shaped like
//! a Numora document. It reads the request body (as the fake does) and does
//! nothing else, so the difference between the two is the fake's own work.
//!
//! Usage: `baseline [--port N]` (default 0: a free port). Its first line on
//! stdout is `listening on http://127.0.0.1:PORT`, like the fake's.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;

/// The fixed answer: the shape of `GET /v1/documents/{id}`, padded to ~600 bytes.
const BODY: &str = concat!(
    r#"{"data":{"id":"inv_000001","schema":"invoice_v2","status":"reviewed","#,
    r#""external_id":"ap-100017","metadata":{"source":"email-import","batch":"2026-03-24"},"#,
    r#""review_state":{"version":1,"confirmed_general_field_names":["invoice_number","vendor_name"],"#,
    r#""confirmed_line_item_ids":["li_1"]},"duplicate_of":null,"#,
    r#""created_at":"2026-03-21T08:12:40.101Z","updated_at":"2026-03-24T03:05:12.250Z","#,
    r#""status_url":"/v1/documents/inv_000001","#,
    r#""result_url":"/v1/documents/inv_000001/result","#,
    r#""dispatch_url":"/v1/documents/inv_000001/dispatch"},"#,
    r#""meta":{"request_id":"req_01jq0000000000000000000000","#,
    r#""note":"the fixed body of the benchmark baseline"}}"#
);

async fn answer(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}

fn port_from_args() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 0;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: '{value}' is not a port"))?;
            }
            "-h" | "--help" => {
                return Err("usage: baseline [--port N]".into());
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> ExitCode {
    let port = match port_from_args() {
        Ok(port) => port,
        Err(message) => {
            eprintln!("baseline: {message}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("baseline: cannot bind {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    let bound = match listener.local_addr() {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("baseline: {e}");
            return ExitCode::from(2);
        }
    };
    println!("listening on http://{bound}");
    let app = Router::new().fallback(answer);
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baseline: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BODY;

    #[test]
    fn body_is_json_of_about_600_bytes() {
        let value: serde_json::Value = serde_json::from_str(BODY).expect("valid JSON");
        assert!(value.get("data").is_some());
        assert!((560..=640).contains(&BODY.len()), "{} bytes", BODY.len());
    }
}
