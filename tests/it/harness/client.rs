//! The client side: requests to a gateway over HTTP or raw TCP, the responses read back
//! whole, and a cookie jar that follows the gateway's `Set-Cookie` headers.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpStream;

use super::{Gateway, PASSWORD};

impl Gateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method.parse().unwrap(), self.url(path))
    }

    pub async fn register(&self, username: &str, password: &str) -> Resp {
        send(self.req("POST", "/auth/register").json(&serde_json::json!({
            "username": username, "password": password,
        })))
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Resp {
        self.login_as(username, password, "test-agent/1.0").await
    }

    pub async fn login_as(&self, username: &str, password: &str, agent: &str) -> Resp {
        send(
            self.req("POST", "/auth/login")
                .header("user-agent", agent)
                .json(&serde_json::json!({ "username": username, "password": password })),
        )
        .await
    }

    /// Registers `username` and logs in; returns the cookies.
    pub async fn signup(&self, username: &str) -> Jar {
        let r = self.register(username, PASSWORD).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let r = self.login(username, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.jar()
    }

    pub async fn get(&self, path: &str, jar: &Jar) -> Resp {
        send(self.req("GET", path).with(jar)).await
    }

    pub async fn post(&self, path: &str, jar: &Jar) -> Resp {
        send(self.req("POST", path).with(jar)).await
    }
}

/// A cookie jar that understands the gateway's `Set-Cookie` headers.
#[derive(Debug, Clone, Default)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    pub fn update(&mut self, headers: &HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let s = value.to_str().unwrap();
            let (pair, attrs) = s.split_once(';').unwrap_or((s, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Looked up by suffix because secure cookies carry a `__Host-` or `__Secure-` prefix.
    pub fn get(&self, suffix: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v.as_str())
    }

    pub fn access(&self) -> &str {
        self.get("access_token").expect("an access cookie")
    }

    pub fn refresh(&self) -> &str {
        self.get("refresh_token").expect("a refresh cookie")
    }

    pub fn only(&self, suffix: &str) -> Jar {
        Jar(self
            .0
            .iter()
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

pub trait WithJar {
    fn with(self, jar: &Jar) -> Self;
}

impl WithJar for reqwest::RequestBuilder {
    fn with(self, jar: &Jar) -> Self {
        if jar.0.is_empty() {
            self
        } else {
            self.header("cookie", jar.header())
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub async fn send(rb: reqwest::RequestBuilder) -> Resp {
    let r = rb.send().await.expect("request reaches the gateway");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap_or_default().to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON body, got {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    pub fn jar(&self) -> Jar {
        let mut j = Jar::default();
        j.update(&self.headers);
        j
    }

    /// The error code of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Values of `name` as the echo upstream received them (case-insensitive).
    pub fn echoed(&self, name: &str) -> Vec<String> {
        self.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h[1].as_str().unwrap().to_string())
            .collect()
    }

    pub fn echoed_names(&self) -> Vec<String> {
        self.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap().to_ascii_lowercase())
            .collect()
    }
}

/// A plain TCP connection to the gateway's public listener, for bytes no HTTP client
/// would send.
pub async fn connect(gw: &Gateway) -> TcpStream {
    TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Sends `request` byte for byte and returns the status and body text.
pub async fn raw(gw: &Gateway, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = connect(gw).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// Repeats `attempt` until it answers `want`, for at most 10 s; returns the last status.
pub async fn eventually<F, Fut>(want: u16, mut attempt: F) -> u16
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let mut status = 0;
    for _ in 0..100 {
        status = attempt().await;
        if status == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}
