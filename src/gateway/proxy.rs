//! The public listener's `ProxyHttp`. Read top to bottom, this is where every request goes;
//! each phase copies what it needs out of Pingora's session, asks the domain, and either writes
//! the gateway's own answer (`respond.rs`) or lets Pingora forward.
//!
//! ```text
//! request_filter
//!   ├─ framing: CL+TE, two CLs, TE ≠ chunked, h2c ───────────────────► 400, connection closed
//!   ├─ target: dot segments in any reading, %2F %5C %00 \ (routes.rs) ► 400 bad_path
//!   ├─ classify (routes.rs)
//!   │    └─ /auth/* ─ body (body.rs, bounded) ─ auth::handlers ───────► the handler's reply
//!   │    └─ /auth/verify, /auth/forward ─ access::forward ────────────► 200 / 401 / 403 / 302
//!   ├─ Connection naming a header the gateway sets: option dropped (request.rs)
//!   ├─ host: two Hosts, not a name, absolute-form ≠ Host ───────────► 400
//!   └─ access::admit: route by host and path, first matching rule (policy/)
//!        ├─ no route ─────────────────────────────────────────────────► 404
//!        ├─ deny ─────────────────────────────────────────────────────► 403 forbidden
//!        ├─ bypass ───────────────────────────────────────────────────► forward, anonymous
//!        └─ one_factor / two_factor: access cookie or bearer → token memory → session
//!           cache → database (deadline.rs)
//!             ├─ active (or refreshed in line), allowed ────────────► forward with identity
//!             ├─ not in `allow` ──────────────────────────────────────► 403 forbidden
//!             ├─ two_factor, one-factor session ─────────────────────► 302 /auth/mfa / 403
//!             ├─ browser GET/HEAD without a session ──────────────► 302 /auth/login?rd=
//!             └─ otherwise ───────────────────────────────────────► 401 / 503
//!        (browsers get pages for 403, 404, 502, 503, 504; API clients JSON)
//! request_body_filter   a proxied body keeps 1 KiB/s after 5 s, else 408 (request.rs)
//! upstream_peer         the route's upstream, with its own pool and timeouts
//! upstream_request_filter  strip client identity headers, the gateway's cookies and tokens;
//!                       set X-Auth-* (with the signed X-Auth-Assertion when keys are
//!                       configured, auth/assertion.rs), X-Forwarded-*, X-Request-Id (upstream.rs)
//! response_filter       X-Request-Id, cookies of an in-line refresh (upstream.rs)
//! fail_to_proxy         refused/reset 502, timeout 504, client errors 4xx or nothing
//! logging               metrics and one access line, no secrets
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error as PError, ErrorType};

use super::body::read_body;
use super::deadline::{stalled, within, AUTH_DEADLINE, ROUTE_DEADLINE};
use super::request_id::request_id;
use super::respond;
use crate::access::{self, forward, Target, Verdict};
use crate::auth::{self, handlers, Credentials, Identity, Request};
use crate::error::Error;
use crate::pages;
use crate::reply::Reply;
use crate::request::{self, RequestMeta};
use crate::routes::{self, Route};
use crate::{App, InFlight};

pub struct Gateway {
    app: Arc<App>,
}

impl Gateway {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

/// The peer for a route's upstream: its pool of its own (`group_key`), its timeouts.
fn peer(target: &Target) -> HttpPeer {
    let mut peer = HttpPeer::new(target.addr, target.tls, target.sni.clone());
    peer.group_key = target.pool;
    let timeout = target.timeout;
    peer.options.connection_timeout = Some(timeout.min(Duration::from_secs(10)));
    peer.options.read_timeout = Some(timeout);
    peer.options.write_timeout = Some(timeout);
    peer.options.idle_timeout = Some(Duration::from_secs(60));
    peer
}

/// Per-request state shared across Pingora's phases.
pub struct Ctx {
    route: Route,
    /// The name of the `[[routes]]` entry that served the request, once chosen.
    route_name: Option<&'static str>,
    /// Where the request goes, once admitted.
    target: Option<Target>,
    started: Instant,
    request_id: http::HeaderValue,
    identity: Option<Identity>,
    /// `X-Auth-Assertion` for the upstream, when keys are configured and someone signed in.
    assertion: Option<http::HeaderValue>,
    peer: Option<std::net::IpAddr>,
    peer_trusted: bool,
    /// New cookies from an in-line refresh, for the response.
    set_cookies: Option<[String; 2]>,
    /// Bytes of the request body passed on so far; `None` for a tunnel (an upgrade), which is
    /// not a body and has no rate to keep.
    body_received: Option<u64>,
    /// `fail_to_proxy` (or the reply table) wrote the line for a failure; Pingora's would be a
    /// second.
    failure_logged: bool,
    /// The request's `Cookie` headers hold more than the gateway's cookies; true until read.
    other_cookies: bool,
    /// Which headers the client sent, of those the gateway looks for.
    sent: request::Sent,
    _in_flight: InFlight,
}

impl Ctx {
    fn rid(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            route: Route::Proxy,
            route_name: None,
            target: None,
            started: Instant::now(),
            request_id: http::HeaderValue::from_static(""),
            identity: None,
            assertion: None,
            peer: None,
            peer_trusted: false,
            set_cookies: None,
            body_received: Some(0),
            failure_logged: false,
            other_cookies: true,
            sent: request::Sent::UNKNOWN,
            _in_flight: InFlight::new(),
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> pingora::Result<bool> {
        let app = &self.app;
        // Idle keep-alive connections are closed by the header-timeout wrapper
        // (header_timeout.rs), which does it without a timer per request.
        ctx.peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        ctx.peer_trusted = request::is_trusted(ctx.peer, &app.config.trusted_proxies);
        let req = session.req_header();
        let sent = request::Sent::of(&req.headers, auth::identity::is_identity_header);
        ctx.sent = sent;
        ctx.request_id = request_id(
            sent.request_id
                .then(|| req.headers.get(super::upstream::X_REQUEST_ID))
                .flatten(),
        );
        if sent.framing_in_doubt() {
            // The raw head is only consulted for the rare request with Transfer-Encoding.
            let raw_head = sent.transfer_encoding.then(|| session.as_ref().to_h1_raw());
            if let Some(problem) = request::framing_problem(&req.headers, raw_head.as_deref()) {
                // Ambiguous framing is how requests get smuggled: refuse it and drop the
                // connection.
                session.set_keepalive(None);
                return Box::pin(self.reply(session, ctx, Error::Malformed(problem.into()).into()))
                    .await;
            }
        }
        let path = req.uri.path();
        if !routes::target_is_acceptable(req.raw_path(), path) {
            return Box::pin(self.reply(session, ctx, Error::BadPath.into())).await;
        }
        ctx.route = routes::classify(req.method.as_str(), path);
        if ctx.route != Route::Proxy {
            // Boxed, like every branch below that is not the authenticated hit: an `/auth`
            // handler's state is many kilobytes, and kept inline it would be allocated and
            // copied for every proxied request too.
            let reply = Box::pin(self.answer_auth_route(session, ctx)).await;
            return Box::pin(self.reply(session, ctx, reply)).await;
        }
        let options = match sent.connection {
            true => request::connection_options(&req.headers, auth::identity::is_identity_header),
            false => Ok(request::ConnectionOptions::Keep),
        };
        match options {
            Ok(request::ConnectionOptions::Keep) => {}
            Ok(request::ConnectionOptions::Rewrite(value)) => {
                let req = session.req_header_mut();
                req.remove_header(&http::header::CONNECTION);
                if let Some(v) = value {
                    req.insert_header(http::header::CONNECTION, v)?;
                }
            }
            Err(problem) => {
                return Box::pin(self.reply(session, ctx, Error::Malformed(problem.into()).into()))
                    .await
            }
        }
        self.admit(session, ctx).await
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        if let Some(received) = ctx.body_received.as_mut() {
            *received += body.as_ref().map_or(0, |b| b.len() as u64);
            if !end_of_stream && request::body_too_slow(ctx.started.elapsed(), *received) {
                return Err(PError::explain(
                    ErrorType::HTTPStatus(408),
                    "request body below the minimum rate",
                ));
            }
        }
        Ok(())
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Ctx,
    ) -> pingora::Result<Box<HttpPeer>> {
        // Only a verdict that forwards gets here, and every such route has an upstream
        // (policy/load.rs); should that ever break, nothing is forwarded.
        let target = ctx.target.as_ref().ok_or_else(|| {
            PError::explain(ErrorType::InternalError, "admitted without an upstream")
        })?;
        Ok(Box::new(peer(target)))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        let app = &self.app;
        let forwarding = super::upstream::Forwarding {
            identity: ctx.identity.as_ref().map(|i| &i.header_values),
            assertion: ctx.assertion.as_ref(),
            peer: ctx.peer,
            peer_trusted: ctx.peer_trusted,
            tls: app.tls.is_some(),
            request_id: &ctx.request_id,
            other_cookies: ctx.other_cookies,
            sent: &ctx.sent,
        };
        super::upstream::apply(upstream, &forwarding, &app.cookies, |t| app.keys.is_ours(t))
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut pingora::http::ResponseHeader,
        ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        let cookies = ctx.set_cookies.as_ref().map_or(&[][..], |c| &c[..]);
        super::upstream::apply_response(upstream_response, &ctx.request_id, cookies)
    }

    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        reused: bool,
        _peer: &HttpPeer,
        #[cfg(unix)] _fd: std::os::unix::io::RawFd,
        #[cfg(windows)] _sock: std::os::windows::io::RawSocket,
        _digest: Option<&pingora::protocols::Digest>,
        _ctx: &mut Ctx,
    ) -> pingora::Result<()> {
        self.app.metrics.upstream_connection(reused);
        Ok(())
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &PError, ctx: &mut Ctx) -> FailToProxy {
        let downstream = matches!(e.esource(), pingora::ErrorSource::Downstream);
        let error = match e.etype() {
            // The client stopped sending its body.
            ErrorType::ReadTimedout if downstream => Some(Error::RequestTimeout),
            ErrorType::HTTPStatus(408) => Some(Error::RequestTimeout),
            // The client stopped reading: nobody to answer.
            ErrorType::WriteTimedout if downstream => None,
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
                Some(Error::GatewayTimeout)
            }
            _ if matches!(e.esource(), pingora::ErrorSource::Upstream) => Some(Error::BadGateway),
            ErrorType::HTTPStatus(code) if (400..500).contains(code) => {
                Some(Error::Malformed("The request could not be read.".into()))
            }
            // Pingora's own checks of what the client sent (header values it will not forward).
            ErrorType::InvalidHTTPHeader => Some(Error::Malformed(
                "The request has a header that cannot be forwarded.".into(),
            )),
            // The client went away or sent garbage: nothing useful to answer.
            _ if downstream => None,
            _ => Some(Error::Internal(e.to_string())),
        };
        // The reply table logs an internal error as it answers it (reply.rs).
        let internal = matches!(error, Some(Error::Internal(_)));
        let code = match error {
            Some(err) if session.response_written().is_none() => {
                // The connection is not reused after a failure; say so in the response.
                session.set_keepalive(None);
                let browser = request::is_browser(&session.req_header().headers);
                let reply = pages::answer(&err, browser, None);
                let status = reply.status;
                if let Err(we) = respond::write(session, reply, ctx.rid()).await {
                    tracing::debug!(error = %we, "could not write error response");
                }
                status
            }
            _ => 0,
        };
        // One line per failure: Pingora's own is then suppressed (`suppress_error_log`).
        ctx.failure_logged = internal && code != 0;
        if code == 502 || code == 504 {
            ctx.failure_logged = true;
            tracing::warn!(
                route = ctx.route_name,
                upstream = ctx.target.as_ref().map(|t| tracing::field::display(t.addr)),
                kind = e.etype().as_str(),
                status = code,
                // Debug-quoted: the cause can carry text the upstream sent.
                error = ?e.to_string(),
                request_id = ctx.rid(),
                "upstream failed"
            );
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// What a client did wrong is answered (4xx) and counted, not logged as the gateway's
    /// error: a client must not be able to fill the error log. A failure `fail_to_proxy`
    /// answered has had its one line already.
    fn suppress_error_log(&self, _session: &Session, ctx: &Ctx, e: &PError) -> bool {
        ctx.failure_logged || matches!(e.esource(), pingora::ErrorSource::Downstream)
    }

    /// A reused upstream connection that turned out closed is retried on a fresh one; the
    /// client sees nothing of it, so it is no warning. A retry that fails too is logged once,
    /// by `fail_to_proxy`.
    fn suppress_proxy_warn_log(
        &self,
        _session: &Session,
        ctx: &Ctx,
        e: &PError,
        _context: pingora::proxy::ProxyWarnLogContext,
    ) -> bool {
        tracing::debug!(
            kind = e.etype().as_str(),
            request_id = ctx.rid(),
            "retrying the upstream"
        );
        true
    }

    async fn logging(&self, session: &mut Session, _e: Option<&PError>, ctx: &mut Ctx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let elapsed = ctx.started.elapsed();
        self.app
            .metrics
            .request(ctx.route.class(), status, elapsed.as_secs_f64());
        let req = session.req_header();
        // Field values are computed only when the line is written (`GATEHOUSE_LOG` may turn
        // `access` off).
        tracing::info!(
            target: "access",
            method = %req.method,
            // Without the query, where a client may put anything, an invite token among it.
            path = req.uri.path(),
            class = ctx.route.class(),
            // The `[[routes]]` entry (docs/contract.md §9); absent for the gateway's own
            // routes and for requests no route serves.
            route = ctx.route_name,
            status,
            ip = request::client_ip(ctx.peer, &req.headers, &self.app.config.trusted_proxies)
                .map(tracing::field::display),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            // Formatted by the subscriber, only when the line is written: no String per request.
            user_id = ctx.identity.as_ref().map(|i| tracing::field::display(i.user_id)),
            session_id = ctx.identity.as_ref().map(|i| tracing::field::display(i.session_id)),
            request_id = ctx.rid(),
            "request"
        );
    }
}

impl Gateway {
    /// A request for the upstream, decided by its route (docs/contract.md §9): forwarded
    /// (`Ok(false)`), or answered here (`Ok(true)`).
    async fn admit(&self, session: &mut Session, ctx: &mut Ctx) -> pingora::Result<bool> {
        let app = &self.app;
        if session.is_upgrade_req() {
            ctx.body_received = None;
        }
        let req = session.req_header();
        let Some(host) = request::request_host(&req.headers, &req.uri) else {
            let e = Error::Malformed("The Host header does not name one host.".into());
            return Box::pin(self.reply(session, ctx, e.into())).await;
        };
        let (peer, peer_trusted) = (ctx.peer, ctx.peer_trusted);
        let client = || request::client_ip(peer, &req.headers, &app.config.trusted_proxies);
        let forwarded_host = || {
            peer_trusted
                .then(|| req.headers.get(request::X_FORWARDED_HOST))
                .flatten()
                .map(|v| v.to_str().unwrap_or("\u{0}"))
        };
        let ask = access::Ask {
            host,
            path: req.uri.path(),
            method: &req.method,
            client: &client,
            forwarded_host: &forwarded_host,
        };
        let creds = Credentials::from_sent(&req.headers, &ctx.sent, &app.cookies).from(ctx.peer);
        ctx.other_cookies = creds.other_cookies;
        let now = crate::clock::now();
        let admitted = {
            let admit = std::pin::pin!(access::admit(app, &ask, &creds, now));
            within(AUTH_DEADLINE, admit).await
        };
        let admitted = match admitted.unwrap_or_else(|| Err(stalled())) {
            Ok(a) => a,
            Err(e) => {
                let reply = pages::answer(&e, request::is_browser(&req.headers), None);
                return Box::pin(self.reply(session, ctx, reply)).await;
            }
        };
        ctx.route_name = admitted.route;
        ctx.target = admitted.target;
        let refused = match admitted.verdict {
            Verdict::Forward(identity, pair) => {
                if let Some(keys) = &app.assertions {
                    // docs/contract.md §11: `aud` is the host the route was chosen by.
                    let aud = crate::policy::normalise_host(host);
                    let iss = app.config.public_url.as_str();
                    match keys.assert(&identity, iss, &aud, now.unix_timestamp()) {
                        Ok(value) => ctx.assertion = Some(value),
                        Err(e) => {
                            let reply = pages::answer(&e, request::is_browser(&req.headers), None);
                            return Box::pin(self.reply(session, ctx, reply)).await;
                        }
                    }
                }
                ctx.identity = Some(identity);
                // Refreshed in line: the upstream's response carries the new cookies.
                ctx.set_cookies = pair.map(|p| p.cookies(app));
                return Ok(false);
            }
            Verdict::Bypass => return Ok(false),
            refused => refused,
        };
        let browser = request::is_browser(&req.headers);
        let get_or_head = matches!(req.method, http::Method::GET | http::Method::HEAD);
        let here = || req.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let reply = match refused {
            Verdict::Forward(..) | Verdict::Bypass => return Ok(false),
            Verdict::NoRoute => pages::answer(&Error::NotFound, browser, None),
            Verdict::Forbidden(who) => {
                let who = match who {
                    Some(identity) => Some(identity),
                    // A `deny` asked nobody who they are; a browser's page still names them.
                    None if browser => Box::pin(self.who(&creds)).await,
                    None => None,
                };
                pages::answer(
                    &Error::Forbidden,
                    browser,
                    who.as_ref().map(Identity::username),
                )
            }
            Verdict::MfaRequired(_) if browser && get_or_head => {
                Reply::empty(302).header("location", auth::redirect::mfa_location(here()))
            }
            Verdict::MfaRequired(identity) => {
                pages::answer(&Error::MfaRequired, browser, Some(identity.username()))
            }
            Verdict::Unauthenticated if browser && get_or_head => {
                Reply::empty(302).header("location", auth::redirect::login_location(here()))
            }
            Verdict::Unauthenticated => Reply::error(&Error::Unauthorized),
        };
        Box::pin(self.reply(session, ctx, reply)).await
    }

    /// Who is signed in, for a page that names them; nobody when that cannot be told quickly.
    async fn who(&self, creds: &Credentials<'_>) -> Option<Identity> {
        let check = std::pin::pin!(auth::authenticate(&self.app, creds, crate::clock::now()));
        within(AUTH_DEADLINE, check).await.and_then(Result::ok)
    }

    /// Writes one of the gateway's own replies; `Ok(true)` tells Pingora the response is done.
    async fn reply(&self, session: &mut Session, ctx: &Ctx, reply: Reply) -> pingora::Result<bool> {
        if matches!(reply.status, 408 | 413) {
            // The rest of an oversized or stalled body is not worth reading.
            session.set_keepalive(None);
        }
        respond::write(session, reply, ctx.rid()).await?;
        Ok(true)
    }

    async fn answer_auth_route(&self, session: &mut Session, ctx: &Ctx) -> Reply {
        let app = &self.app;
        let deadline = ctx.started + app.config.header_timeout;
        let body = match read_body(session, deadline).await {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let req = session.req_header();
        let meta = RequestMeta {
            method: req.method.clone(),
            path: req.uri.path().to_string(),
            query: req.uri.query().map(str::to_string),
            headers: req.headers.clone(),
            peer: ctx.peer,
            peer_trusted: ctx.peer_trusted,
            client_ip: request::client_ip(ctx.peer, &req.headers, &app.config.trusted_proxies),
        };
        let request = Request {
            meta: &meta,
            body: &body,
            now: crate::clock::now(),
        };
        let handled = match ctx.route {
            Route::Verify | Route::Forward => {
                let mode = if ctx.route == Route::Verify {
                    forward::Mode::Nginx
                } else {
                    forward::Mode::Redirect
                };
                let check = std::pin::pin!(forward::check(app, &meta, request.now, mode));
                within(ROUTE_DEADLINE, check).await
            }
            _ => {
                let handled = std::pin::pin!(handlers::handle(app, &ctx.route, &request));
                within(ROUTE_DEADLINE, handled).await
            }
        };
        handled
            .unwrap_or_else(|| Err(stalled()))
            .unwrap_or_else(Reply::from)
    }
}
