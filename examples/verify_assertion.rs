//! An upstream that believes only what the gateway signed (docs/contract.md §11):
//!
//! ```text
//! cargo run --example verify_assertion -- 127.0.0.1:8080 https://auth.example.com app.example.com
//! ```
//!
//! Listens on the first address; fetches the key set from `<gateway>/.well-known/jwks.json`
//! (the second argument is the gateway's public URL, which is also the expected `iss`); accepts
//! a request only when its `X-Auth-Assertion` is signed by a published key, is for the audience
//! in the third argument (the host your users type, no port) and has not expired. It answers
//! and prints who the request is; anything else is 401 with the reason. `X-Auth-User` and its
//! siblings are ignored: anyone who reaches this port directly could have written them.
//!
//! The key set is cached for five minutes (as the gateway's `Cache-Control` allows) and fetched
//! again at once, at most every 30 s, when an assertion names a key it does not hold: that is
//! how a rotated key is picked up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// The claims the gateway asserts.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    sid: String,
    groups: Vec<String>,
    mfa: bool,
    exp: i64,
}

struct Verifier {
    issuer: String,
    audience: String,
    jwks_url: String,
    http: reqwest::Client,
    /// The key set and when it was fetched.
    keys: Mutex<(JwkSet, Option<Instant>)>,
}

impl Verifier {
    async fn fetch(&self) -> Result<JwkSet, String> {
        let r = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| format!("cannot fetch {}: {e}", self.jwks_url))?;
        r.json::<JwkSet>()
            .await
            .map_err(|e| format!("{} is not a key set: {e}", self.jwks_url))
    }

    /// The published key `kid`, refetching the set when it is old or lacks that key.
    async fn key(&self, kid: &str) -> Result<DecodingKey, String> {
        let mut keys = self.keys.lock().await;
        let age = keys.1.map(|t| t.elapsed());
        let stale = age.is_none_or(|a| a > Duration::from_secs(300));
        let unknown = keys.0.find(kid).is_none() && age.is_none_or(|a| a > Duration::from_secs(30));
        if stale || unknown {
            *keys = (self.fetch().await?, Some(Instant::now()));
        }
        let jwk = keys
            .0
            .find(kid)
            .ok_or("signed by a key the gateway does not publish")?;
        DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))
    }

    async fn verify(&self, token: &str) -> Result<Claims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        // Only what the gateway signs with: never `none`, never a shared-secret algorithm.
        if !matches!(header.alg, Algorithm::EdDSA | Algorithm::ES256) {
            return Err(format!("unexpected algorithm {:?}", header.alg));
        }
        let key = self.key(header.kid.as_deref().ok_or("no kid")?).await?;
        let mut v = Validation::new(header.alg);
        v.set_audience(&[&self.audience]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

/// The value of `name` in a request head, when it appears exactly once.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    let mut found = head.lines().skip(1).filter_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    });
    match (found.next(), found.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

async fn serve(mut conn: TcpStream, verifier: Arc<Verifier>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let outcome = match header(&head, "x-auth-assertion") {
        Some(token) => verifier.verify(token).await,
        None => Err("no X-Auth-Assertion (or more than one)".into()),
    };
    let (status, body) = match outcome {
        Ok(c) => {
            println!(
                "verified: name={} sub={} sid={} groups={:?} mfa={} exp={}",
                c.name, c.sub, c.sid, c.groups, c.mfa, c.exp
            );
            let groups = c.groups.join(",");
            (
                "200 OK",
                format!("hello {} (groups: {groups}; mfa: {})\n", c.name, c.mfa),
            )
        }
        Err(why) => {
            println!("refused: {why}");
            ("401 Unauthorized", format!("refused: {why}\n"))
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(response.as_bytes()).await
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, gateway, audience] = args.as_slice() else {
        eprintln!("usage: verify_assertion LISTEN GATEWAY_PUBLIC_URL AUDIENCE");
        std::process::exit(2);
    };
    let issuer = gateway.trim_end_matches('/').to_string();
    let verifier = Arc::new(Verifier {
        jwks_url: format!("{issuer}/.well-known/jwks.json"),
        issuer,
        audience: audience.to_ascii_lowercase(),
        http: reqwest::Client::new(),
        keys: Mutex::new((JwkSet { keys: Vec::new() }, None)),
    });
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    println!("verifying upstream listening on http://{listen}");
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let verifier = verifier.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(conn, verifier).await {
                eprintln!("connection: {e}");
            }
        });
    }
}
