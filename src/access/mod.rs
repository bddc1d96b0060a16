//! Who may reach what, at run time (docs/contract.md §9): the live route table
//! (`table.rs`), its reload on SIGHUP (`reload.rs`), forward auth (`forward.rs`), and
//! [`admit`], the one function that turns a request's host, path, method, client address and
//! credentials into a [`Verdict`]. The proxy and forward auth both call it, so they cannot
//! decide differently.

pub mod forward;
pub mod reload;
mod table;

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::auth::pair::Pair;
use crate::auth::{authenticate_or_refresh, Credentials, Identity};
use crate::error::Error;
use crate::policy::{self, normalise_path, Matched, Outcome, SignedIn};
use crate::App;
pub use table::{Entry, RouteTable, Target};

/// The request being decided, as received (the path without its query).
#[derive(Clone, Copy)]
pub struct Ask<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub method: &'a http::Method,
    /// The client address of docs/contract.md §6, asked for only by a route with `networks`
    /// rules: finding it reads `X-Forwarded-For`.
    pub client: &'a (dyn Fn() -> Option<IpAddr> + Sync),
    /// `X-Forwarded-Host` from a trusted proxy, which goes upstream with the request; asked
    /// for only when routes differ by host.
    pub forwarded_host: &'a (dyn Fn() -> Option<&'a str> + Sync),
}

/// What happens to the request.
pub enum Verdict {
    /// 404: no route serves this host and path.
    NoRoute,
    /// 403 `forbidden`; the identity when the user is known (a failed `allow`).
    Forbidden(Option<Identity>),
    /// Forwarded without authentication or identity.
    Bypass,
    /// The policy needs a session and there is none.
    Unauthenticated,
    /// `two_factor`, and the session's sign-in used one factor.
    MfaRequired(Identity),
    /// Forwarded with the identity; with a new token pair when refreshed in line.
    Forward(Identity, Option<Arc<Pair>>),
}

/// A verdict and what it was reached with.
pub struct Admitted {
    pub verdict: Verdict,
    /// The route's name; `None` when no route matched.
    pub route: Option<&'static str>,
    /// The deciding rule's position in its route (0-based); `None`: the route's own policy.
    pub rule: Option<usize>,
    /// Where to forward, for the verdicts that forward.
    pub target: Option<Target>,
}

impl Admitted {
    fn no_route() -> Self {
        Admitted {
            verdict: Verdict::NoRoute,
            route: None,
            rule: None,
            target: None,
        }
    }
}

/// Decides a request: routes and rules first, and authentication only when the matching
/// policy needs a session (`deny` and `bypass` never touch the session store). The table is
/// read twice around the session lookup and never held across it; when a reload swapped it
/// meanwhile, the request is decided again, wholly, on the new one.
pub async fn admit(
    app: &App,
    ask: &Ask<'_>,
    creds: &Credentials<'_>,
    now: OffsetDateTime,
) -> Result<Admitted, Error> {
    let path = normalise_path(ask.path);
    let seen = {
        let table = app.routes.load();
        let Some((index, matched)) = look(&table, ask, &path)? else {
            return Ok(Admitted::no_route());
        };
        if !matched.needs_session() {
            let outcome = matched.judge(None).outcome;
            let verdict = match outcome {
                Outcome::Bypass => Verdict::Bypass,
                // `deny`: nobody is asked who they are.
                _ => Verdict::Forbidden(None),
            };
            return Ok(settle(&table, index, matched.rule, outcome, verdict));
        }
        (table.generation, index, matched.rule)
    };
    let session = match authenticate_or_refresh(app, creds, now).await {
        Ok(found) => Some(found),
        Err(Error::Unauthorized) => None,
        Err(e) => return Err(e),
    };
    let table = app.routes.load();
    let found = if table.generation == seen.0 {
        table
            .routes
            .get(seen.1)
            .map(|route| (seen.1, Matched::of(route, seen.2)))
    } else {
        look(&table, ask, &path)?
    };
    let Some((index, matched)) = found else {
        return Ok(Admitted::no_route());
    };
    let signed_in = session.as_ref().map(|(identity, _)| SignedIn {
        name: identity.username(),
        groups: identity.groups_joined(),
        // docs/contract.md §10: the session's sign-in (or a later step-up) used a second factor.
        two_factor: identity.mfa,
    });
    let outcome = matched.judge(signed_in.as_ref()).outcome;
    let verdict = match (outcome, session) {
        (Outcome::Forward, Some((identity, pair))) => Verdict::Forward(identity, pair),
        (Outcome::MfaRequired, Some((identity, _))) => Verdict::MfaRequired(identity),
        (Outcome::Forbidden, session) => Verdict::Forbidden(session.map(|(identity, _)| identity)),
        (Outcome::Bypass, _) => Verdict::Bypass,
        // Unauthenticated, or an outcome that needs a session without one (cannot happen:
        // judging without a user gives none of them): never forwarded.
        _ => Verdict::Unauthenticated,
    };
    Ok(settle(&table, index, matched.rule, outcome, verdict))
}

/// The route is chosen by `Host`, and the upstream hears the trusted proxy's
/// `X-Forwarded-Host`: when routes differ by host and the two disagree, an upstream that serves
/// by `X-Forwarded-Host` would answer for a host other than the one decided on.
fn forwarded_host_disagrees(ask: &Ask<'_>) -> bool {
    (ask.forwarded_host)()
        .is_some_and(|f| policy::normalise_host(f) != policy::normalise_host(ask.host))
}

/// The route and the first matching rule for `ask` on `table`; `Ok(None)` when no route
/// serves it. Before choosing, a request whose reading is in doubt is refused: a trusted
/// `X-Forwarded-Host` naming another host when routes differ by host (400), or a path that
/// decoded again would meet another route or rule (400 `bad_path`).
fn look<'t>(
    table: &'t RouteTable,
    ask: &Ask<'_>,
    path: &str,
) -> Result<Option<(usize, Matched<'t>)>, Error> {
    if table.by_host && forwarded_host_disagrees(ask) {
        return Err(Error::Malformed(
            "X-Forwarded-Host names another host than Host.".into(),
        ));
    }
    let Some((index, route)) = table
        .routes
        .select(ask.host, path)
        .and_then(|i| Some((i, table.routes.get(i)?)))
    else {
        table.count_no_route();
        return Ok(None);
    };
    let client = if route.uses_networks() {
        (ask.client)()
    } else {
        None
    };
    if table
        .routes
        .reading_matters(ask.host, ask.method, path, client)
    {
        return Err(Error::BadPath);
    }
    Ok(Some((
        index,
        policy::matched(route, ask.method, path, client),
    )))
}

fn settle(
    table: &RouteTable,
    index: usize,
    rule: Option<usize>,
    outcome: Outcome,
    verdict: Verdict,
) -> Admitted {
    let entry = table.entry(index);
    if let Some(e) = entry {
        e.count(outcome);
    }
    Admitted {
        target: if outcome.forwards() {
            entry.and_then(|e| e.target.clone())
        } else {
            None
        },
        route: entry.map(|e| e.name),
        rule,
        verdict,
    }
}
