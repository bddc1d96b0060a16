//! The only code that writes a response the gateway itself produces: a [`Reply`] onto the
//! Pingora session, with `Cache-Control: no-store`, the request id, and the page headers.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::reply::{Body, Reply};

/// Writes `reply` downstream. HEAD requests get the headers without the body.
pub async fn write(session: &mut Session, reply: Reply, request_id: &str) -> pingora::Result<()> {
    let head_only = session.req_header().method == http::Method::HEAD;
    let (content_type, body) = match reply.body {
        Body::Empty => (None, Bytes::new()),
        Body::Json(b) => (Some("application/json"), Bytes::from(b)),
        Body::Html(s) => (Some("text/html; charset=utf-8"), Bytes::from(s)),
    };
    let mut resp = ResponseHeader::build(reply.status, Some(reply.headers.len() + 4))?;
    if let Some(ct) = content_type {
        resp.insert_header("content-type", ct)?;
    }
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header("cache-control", "no-store")?;
    resp.insert_header("x-request-id", request_id)?;
    if content_type.is_some_and(|c| c.starts_with("text/html")) {
        // Pages are self-contained: no scripts, no framing, no outside resources. Inline SVG
        // (the QR code of an authenticator app's setup) is markup, which no directive governs.
        resp.insert_header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        )?;
        resp.insert_header("x-frame-options", "DENY")?;
        resp.insert_header("referrer-policy", "same-origin")?;
        resp.insert_header("x-content-type-options", "nosniff")?;
    }
    for (name, value) in reply.headers {
        resp.append_header(name, value)?;
    }
    let empty = head_only || body.is_empty();
    session.write_response_header(Box::new(resp), empty).await?;
    if !empty {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}
