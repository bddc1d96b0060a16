//! The demo upstream: a small HTTP/1.1 server that answers every request with a JSON echo of
//! what reached it (method, path, headers, body). It stands in for a user's backend in the
//! quick start, the docker-compose file, the tests and the benchmark.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEAD: usize = 64 * 1024;

/// Serves forever on `listener`.
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = connection(stream).await;
        });
    }
}

/// Binds `addr` and serves on a thread of its own; returns the bound address.
pub fn spawn(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let local = std_listener.local_addr()?;
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(listener) = TcpListener::from_std(std_listener) {
                serve(listener).await;
            }
        });
    });
    Ok(local)
}

async fn connection(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let (head_len, method, path, headers, content_length, chunked, close) = loop {
            let mut hdrs = [httparse::EMPTY_HEADER; 128];
            let mut req = httparse::Request::new(&mut hdrs);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let headers: Vec<(String, String)> = req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    let find = |name: &str| {
                        headers
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.clone())
                    };
                    let content_length = find("content-length")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    let chunked = find("transfer-encoding").is_some_and(|v| v.contains("chunked"));
                    let close = find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    break (
                        n,
                        req.method.unwrap_or("").to_string(),
                        req.path.unwrap_or("").to_string(),
                        headers,
                        content_length,
                        chunked,
                        close,
                    );
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
                    if read_more(&mut stream, &mut buf).await? == 0 {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        };
        buf.drain(..head_len);
        let upgrade = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("upgrade") && v.eq_ignore_ascii_case("websocket"));
        if upgrade {
            // A stand-in for a WebSocket backend: switch protocols, say who it was told the user
            // is, then echo raw bytes until the client goes away.
            let user = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-auth-user"))
                .map_or(String::new(), |(_, v)| v.clone());
            let head = format!(
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-echo-user: {user}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            if !buf.is_empty() {
                stream.write_all(&buf).await?;
            }
            let (mut r, mut w) = stream.split();
            tokio::io::copy(&mut r, &mut w).await?;
            return Ok(());
        }
        let body = if chunked {
            read_chunked(&mut stream, &mut buf).await?
        } else {
            while buf.len() < content_length {
                if read_more(&mut stream, &mut buf).await? == 0 {
                    return Ok(());
                }
            }
            buf.drain(..content_length).collect()
        };
        if let Some(ms) = path
            .split_once("sleep_ms=")
            .and_then(|(_, v)| v.split('&').next()?.parse().ok())
        {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let echo = json!({
            "method": method,
            "path": path,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        let payload = echo.to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n{}",
            payload.len(),
            if close { "connection: close\r\n" } else { "" },
            payload
        );
        stream.write_all(response.as_bytes()).await?;
        if close {
            return Ok(());
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if read_more(stream, buf).await? == 0 {
                return Ok(body);
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            if read_more(stream, buf).await? == 0 {
                return Ok(body);
            }
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
        if size == 0 {
            return Ok(body);
        }
    }
}
