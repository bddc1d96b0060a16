//! Reading an `/auth` request's body off the Pingora session: small, bounded in size and in
//! time (docs/contract.md §5).

use std::time::Instant;

use pingora::proxy::Session;
use pingora::ErrorType;

use crate::auth::input::MAX_BODY;
use crate::error::Error;

/// An `/auth` body, whole, by `deadline` (GATEHOUSE_HEADER_TIMEOUT after its head): the
/// gateway's own routes take small bodies, and a slow client may not pin a connection and a
/// handler for long, however it paces its bytes.
pub async fn read_body(session: &mut Session, deadline: Instant) -> Result<Vec<u8>, Error> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    session.set_read_timeout(Some(remaining));
    match tokio::time::timeout_at(deadline.into(), read_all(session)).await {
        Ok(body) => body,
        Err(_) => Err(Error::RequestTimeout),
    }
}

async fn read_all(session: &mut Session) -> Result<Vec<u8>, Error> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Error::PayloadTooLarge);
    }
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(Error::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if *e.etype() == ErrorType::ReadTimedout => return Err(Error::RequestTimeout),
            Err(_) => {
                return Err(Error::Malformed(
                    "The request body could not be read.".into(),
                ))
            }
        }
    }
}
