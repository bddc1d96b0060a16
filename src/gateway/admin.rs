//! The admin listener (docs/contract.md §8): `/healthz`, `/readyz` and `/metrics`, never served on the
//! public listener.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::App;

/// `/readyz` answers within this even when the database accepts connections but stops
/// answering: a load balancer's probe must get "not ready", not hang (docs/contract.md §8: 5 s).
const READY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Admin {
    app: Arc<App>,
}

impl Admin {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

fn response(status: u16, content_type: &str, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut r = http::Response::new(body);
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    let len = r.body().len();
    r.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    r
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let path = session.req_header().uri.path();
        let text = "text/plain; charset=utf-8";
        match path {
            "/healthz" => response(200, text, b"ok\n".to_vec()),
            "/readyz" => {
                if self.app.draining() {
                    response(503, text, b"draining\n".to_vec())
                } else if tokio::time::timeout(READY_DEADLINE, self.app.db.ready())
                    .await
                    .unwrap_or(false)
                {
                    response(200, text, b"ready\n".to_vec())
                } else {
                    response(503, text, b"database not ready\n".to_vec())
                }
            }
            "/metrics" => response(200, "text/plain; version=0.0.4", self.app.metrics.render()),
            _ => response(404, text, b"not found\n".to_vec()),
        }
    }
}
