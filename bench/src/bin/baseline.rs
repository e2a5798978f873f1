//! `baseline`: the floor the fake is measured against.
//!
//! A bare axum server as one is usually written (`#[tokio::main]`: tokio's
//! multi-threaded runtime, one worker per core) that answers every request,
//! whatever its method and path, with one fixed JSON body of about 600 bytes
//! shaped like a Numora document. It reads the request body (as the fake
//! does) and does nothing else.
//!
//! The fake serves on one thread by default, which spares it the hand-offs
//! between workers that this baseline pays; run on one thread too, the
//! baseline costs less per request, and the fake's ratios are higher (see
//! docs/performance.md, "The baseline's runtime").
//!
//! With `--outbox-body FILE`, `GET /v1/delivery/outbox` (any query) answers
//! the bytes of FILE instead, read once at start-up into a buffer that every
//! answer shares: the bench saves the fake's own outbox page there, so the two
//! send the same body and only the work of making it differs.
//!
//! Usage: `baseline [--port N] [--outbox-body FILE]` (port 0: a free port).
//! Its first line on stdout is `listening on http://127.0.0.1:PORT`, like
//! the fake's.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
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

/// The prepared page: a shared buffer, cloned (not copied) into every answer.
async fn page(State(page): State<Bytes>, _body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], page)
}

struct Args {
    port: u16,
    outbox_body: Option<String>,
}

const USAGE: &str = "usage: baseline [--port N] [--outbox-body FILE]";

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        port: 0,
        outbox_body: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                parsed.port = value
                    .parse()
                    .map_err(|_| format!("--port: '{value}' is not a port"))?;
            }
            "--outbox-body" => {
                parsed.outbox_body = Some(args.next().ok_or("--outbox-body needs a file")?);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    Ok(parsed)
}

fn app(outbox_body: Option<Bytes>) -> Router {
    let router = Router::new();
    let router = match outbox_body {
        Some(body) => router.route("/v1/delivery/outbox", get(page).with_state(body)),
        None => router,
    };
    router.fallback(answer)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("baseline: {message}");
            return ExitCode::from(2);
        }
    };
    let outbox_body = match &args.outbox_body {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(e) => {
                eprintln!("baseline: cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let port = args.port;
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
    match axum::serve(listener, app(outbox_body)).await {
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
