//! `gatehouse policy check URL` (docs/contract.md §9): what the gateway would do with one
//! request — the checks it makes before routing, the route it chooses, the rule that decides
//! and the decision — for people (text) or scripts (`--json`).
//!
//! [`explain`] is pure: it calls the same `routes` and `policy` functions as the gateway, and
//! the user's groups are passed in, so every explanation is unit-tested without a database.
//! Only [`check`] reads the store, and only when `--user` names someone; `render.rs` prints.

use std::net::IpAddr;

use super::{runtime, show, unreachable_db, CheckArgs, Failure};
use crate::auth::input;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::{
    host_is_valid, matched, normalise_host, normalise_path, Matched, Outcome, Policy, Route,
    Routes, SignedIn,
};
use crate::store::{groups, users, Db};

/// One request, as a client would send it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: http::Method,
    /// The `Host` header: the URL's authority as written (port included), empty for a path.
    pub host: String,
    /// The request target: path and query as written.
    pub target: String,
    /// The path as the gateway's HTTP parser reads it from the target.
    pub path: String,
    /// The client address of §6, which rules' `networks` are matched against.
    pub client: Option<IpAddr>,
}

impl Request {
    /// `url` is `http(s)://authority/path?query` or `/path?query` (no host: only routes
    /// without `hosts` apply). The method is taken as given, as the gateway compares it: HTTP
    /// methods are case-sensitive tokens, so `get` is another method than `GET`.
    pub fn parse(url: &str, method: &str, client: Option<IpAddr>) -> Result<Request, String> {
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("{method:?} is not an HTTP method (a token such as GET)"))?;
        let (host, target) = split_url(url)?;
        // A target the HTTP parser refuses never reaches the gateway's checks; it is a typing
        // matter (a space, say), which only the operator can settle by encoding it as a
        // client would.
        let uri = http::Uri::try_from(target.as_str()).map_err(|_| {
            format!(
                "{url:?} is not a request a client could send: percent-encode spaces and \
                 other characters a URL cannot hold, as a client would"
            )
        })?;
        Ok(Request {
            method,
            host,
            path: uri.path().to_string(),
            target,
            client,
        })
    }
}

fn split_url(url: &str) -> Result<(String, String), String> {
    if url.starts_with('/') {
        return Ok((String::new(), url.to_string()));
    }
    let rest = ["http://", "https://"].iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .map(|s| &url[s.len()..])
    });
    let Some(rest) = rest else {
        return Err(format!(
            "{url:?} is neither an http(s):// URL nor a path starting with /"
        ));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    if authority.is_empty() {
        return Err(format!("{url:?} names no host; give a bare /path for that"));
    }
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    Ok((authority.to_string(), target))
}

/// Who is asking, as the store knows them.
#[derive(Debug, Clone)]
pub struct Asker {
    pub name: String,
    pub groups: Vec<String>,
    /// A disabled user has no session, so the gateway sees nobody.
    pub disabled: bool,
    /// `--mfa`: judge as if the session's sign-in had used a second factor.
    pub two_factor: bool,
}

impl Asker {
    /// As the gateway's session cache holds them: `groups` is the comma-joined list.
    fn signed_in<'a>(&'a self, groups: &'a str) -> Option<SignedIn<'a>> {
        (!self.disabled).then_some(SignedIn {
            name: &self.name,
            groups,
            two_factor: self.two_factor,
        })
    }
}

/// What the gateway does with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 400 `bad_path`: refused before routing (docs/contract.md §6).
    BadPath,
    /// 400: a `Host` the gateway cannot read.
    BadHost,
    /// `/auth/*`: answered by the gateway itself on every host.
    Gateway,
    /// 404 `not_found`: no route for this host and path.
    NoRoute,
    Decided(Outcome),
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::BadPath => "bad_path",
            Verdict::BadHost => "bad_host",
            Verdict::Gateway => "gateway",
            Verdict::NoRoute => "no_route",
            Verdict::Decided(outcome) => outcome.as_str(),
        }
    }

    /// Whether the request reaches an upstream: `policy check`'s exit status 0.
    pub fn forwarded(self) -> bool {
        matches!(self, Verdict::Decided(Outcome::Forward | Outcome::Bypass))
    }
}

/// Everything `policy check` prints.
#[derive(Debug)]
pub struct Explanation<'r> {
    method: String,
    /// The host and path as routes read them (docs/contract.md §9).
    host: String,
    path: String,
    /// The host and path as sent, shown beside the normalised ones when they differ.
    sent: (String, String),
    client: Option<IpAddr>,
    asker: Option<Asker>,
    pub route: Option<&'r Route>,
    pub matched: Option<Matched<'r>>,
    pub verdict: Verdict,
    pub reason: String,
}

/// Explains `request` against `routes`, in the gateway's order: the target check, the
/// gateway's own routes, the host check, the route, then the rule and the decision.
pub fn explain<'r>(
    routes: &'r Routes,
    request: &Request,
    asker: Option<&Asker>,
) -> Explanation<'r> {
    let raw_path = request.path.as_str();
    let path = normalise_path(raw_path).into_owned();
    let mut e = Explanation {
        method: request.method.to_string(),
        host: normalise_host(&request.host).into_owned(),
        path,
        sent: (request.host.clone(), raw_path.to_string()),
        client: request.client,
        asker: asker.cloned(),
        route: None,
        matched: None,
        verdict: Verdict::NoRoute,
        reason: String::new(),
    };
    if !crate::routes::target_is_acceptable(request.target.as_bytes(), raw_path) {
        e.verdict = Verdict::BadPath;
        e.reason = if request.target.contains('#') {
            "a request target never carries a #fragment (clients keep it to themselves) and \
             the gateway refuses one: 400 bad_path"
                .into()
        } else {
            "the gateway refuses this path before routing (a dot segment, an encoded / \\ or \
             NUL, a backslash or a bad %-escape, however it is spelt): 400 bad_path"
                .into()
        };
        return e;
    }
    if crate::routes::classify(request.method.as_str(), raw_path) != crate::routes::Route::Proxy {
        e.verdict = Verdict::Gateway;
        e.reason = format!(
            "{raw_path} is the gateway's own route on every host: gatehouse answers it and \
             never forwards it"
        );
        return e;
    }
    if !host_is_valid(&request.host) {
        e.verdict = Verdict::BadHost;
        e.reason = format!(
            "the host {:?} is not one the gateway can read (dot-separated labels of letters, \
             digits, - and _, or a [v6] literal, then an optional port): 400",
            request.host
        );
        return e;
    }
    let Some(route) = routes
        .select(&request.host, &e.path)
        .and_then(|i| routes.get(i))
    else {
        let host = if e.host.is_empty() {
            "no host"
        } else {
            e.host.as_str()
        };
        e.reason = format!("no route serves {host} with path {}: 404 not_found", e.path);
        return e;
    };
    if routes.reading_matters(&request.host, &request.method, &e.path, request.client) {
        e.verdict = Verdict::BadPath;
        e.reason = "decoded once more, as some upstreams do, this path would be judged by \
                    another route or rule: 400 bad_path"
            .into();
        return e;
    }
    let m = matched(route, &request.method, &e.path, request.client);
    let joined = asker.map(|a| a.groups.join(",")).unwrap_or_default();
    let signed_in = asker.and_then(|a| a.signed_in(&joined));
    let outcome = m.judge(signed_in.as_ref()).outcome;
    e.reason = reason(&m, outcome, asker, signed_in.as_ref());
    e.route = Some(route);
    e.matched = Some(m);
    e.verdict = Verdict::Decided(outcome);
    e
}

/// One sentence on why `outcome` follows from the policy and who is asking.
fn reason(
    m: &Matched<'_>,
    outcome: Outcome,
    asker: Option<&Asker>,
    user: Option<&SignedIn<'_>>,
) -> String {
    let policy = m.policy;
    match outcome {
        Outcome::Bypass => "forwarded without authentication; identity headers are stripped \
                            and none are set"
            .into(),
        Outcome::Forbidden if policy == Policy::Deny => {
            "deny is 403 forbidden for everyone, never forwarded".into()
        }
        Outcome::Forbidden => {
            let (name, groups) = asker.map_or(("the user", String::new()), |a| {
                (a.name.as_str(), show::list(&a.groups, "none"))
            });
            format!(
                "{name} is signed in, but allow ({}) names neither them nor any of their groups \
                 ({groups}): 403 forbidden, never forwarded",
                show::allow(m.allow)
            )
        }
        Outcome::Unauthenticated => {
            let who = match asker {
                Some(a) => format!("{} is disabled, so has none", a.name),
                None => "the request has none (--user NAME checks as a signed-in user)".into(),
            };
            format!(
                "{policy} needs a session and {who}: 401, or 302 to the sign-in page for a \
                 browser"
            )
        }
        Outcome::MfaRequired => format!(
            "two_factor needs a session signed in with a second factor and {}'s has none: 403 \
             mfa_required, or 302 to /auth/mfa for a browser (--mfa checks as if it had one)",
            asker.map_or("the user", |a| a.name.as_str())
        ),
        Outcome::Forward => {
            let name = asker.map_or("the user", |a| a.name.as_str());
            let factor = if policy == Policy::TwoFactor {
                "a session with a second factor"
            } else {
                "a session"
            };
            match admitting_subject(m, user) {
                Some(subject) => format!(
                    "{name} has {factor} as {policy} needs, and allow names {subject}: forwarded \
                     with their identity"
                ),
                None => format!(
                    "{name} has {factor} as {policy} needs, and every signed-in user may pass: \
                     forwarded with their identity"
                ),
            }
        }
    }
}

/// The first `allow` subject that admits `user`, found by judging with that subject alone so
/// the explanation cannot drift from the decision.
fn admitting_subject(m: &Matched<'_>, user: Option<&SignedIn<'_>>) -> Option<String> {
    m.allow?
        .iter()
        .find(|s| {
            let alone = Matched {
                allow: Some(std::slice::from_ref(*s)),
                ..*m
            };
            alone.judge(user).outcome == Outcome::Forward
        })
        .map(ToString::to_string)
}

/// The command: exit 0 when the request would be forwarded, 1 when not, 2 when the question
/// cannot be answered (arguments, configuration, unknown user, database) — so a script cannot
/// read "could not check" as "denied".
pub fn check(config: &Config, args: &CheckArgs, json: bool) -> Result<(), Failure> {
    let request =
        Request::parse(&args.url, &args.method, args.ip).map_err(|m| Failure::new(2, m))?;
    // Only `--user` needs the database: without it nothing connects, so a check works on a
    // machine that has only the configuration.
    let asker = match &args.user {
        Some(name) => Some(asker(config, name, args.mfa)?),
        None => None,
    };
    let explanation = explain(&config.routes, &request, asker.as_ref());
    if json {
        println!("{}", explanation.json());
    } else {
        print!("{}", explanation.text());
    }
    if explanation.verdict.forwarded() {
        Ok(())
    } else {
        Err(Failure::quiet(1))
    }
}

/// `name`'s groups and state from the store, read without migrating or creating anything:
/// a check changes nothing.
fn asker(config: &Config, name: &str, two_factor: bool) -> Result<Asker, Failure> {
    let unknown = || Failure::new(2, format!("no such user: {name}"));
    let canonical = input::username(name).map_err(|_| unknown())?.canonical;
    let failed = |e: crate::store::StoreError| Failure::new(2, unreachable_db(config, &e).message);
    let db = Db::new(&config.database_url, Metrics::new()).map_err(failed)?;
    let rt = runtime().map_err(|f| Failure::new(2, f.message))?;
    rt.block_on(async {
        let user = users::credentials(&db, &canonical)
            .await
            .map_err(failed)?
            .ok_or_else(unknown)?;
        let groups = groups::of_user(&db, user.id).await.map_err(failed)?;
        Ok(Asker {
            name: user.username,
            groups,
            disabled: user.disabled,
            two_factor,
        })
    })
}

mod render;
#[cfg(test)]
mod tests;
