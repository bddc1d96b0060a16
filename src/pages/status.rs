//! The pages a browser gets instead of the gateway's JSON errors (docs/contract.md §6, §9):
//! 403 naming who is signed in with a way to sign out, 404, 502, 503, 504.

use super::layout::{escape, layout};
use crate::error::Error;
use crate::reply::Reply;

/// What the gateway answers `e` with: a page for a browser when the status has one, else the
/// JSON error. `who` is the signed-in username, when known.
pub fn answer(e: &Error, browser: bool, who: Option<&str>) -> Reply {
    if browser {
        if let Some(html) = error_page(e, who) {
            let d = e.describe();
            // Logged as `Reply::error` logs it for an API client: a page must not hide a cause.
            if d.status >= 500 {
                tracing::error!(error = %crate::chain::Chain(e), code = d.code, "request failed");
            }
            return Reply::html(d.status, html).with_error_headers(e);
        }
    }
    Reply::error(e)
}

/// The page for an error a browser may meet on the way to an upstream; `None` for the others,
/// which keep their JSON.
pub fn error_page(e: &Error, who: Option<&str>) -> Option<String> {
    let (title, text) = match e {
        Error::Forbidden => (
            "Access denied",
            "You do not have access to this page. If you think you should, ask the people who run it.",
        ),
        Error::MfaRequired => (
            "Second factor required",
            "This page needs a sign-in with a second factor.",
        ),
        Error::NotFound => ("Not found", "Nothing is served at this address."),
        Error::BadGateway => (
            "The service is not answering",
            "The application behind this address did not answer. Try again in a moment.",
        ),
        Error::GatewayTimeout => (
            "The service is taking too long",
            "The application behind this address did not answer in time. Try again in a moment.",
        ),
        Error::Store(_) | Error::Busy => (
            "Temporarily unavailable",
            "Sign-in cannot be checked right now. Try again in a moment.",
        ),
        _ => return None,
    };
    let mut body = format!(
        "<div class=\"card\"><h1>{}</h1><p>{}</p>",
        escape(title),
        escape(text)
    );
    if let Some(name) = who {
        body.push_str(&signed_in_as(name));
    }
    body.push_str("</div>");
    Some(layout(title, &body))
}

/// Who is signed in, with the account page and a sign-out button: the way out of a page that
/// another account might be allowed to see.
fn signed_in_as(name: &str) -> String {
    format!(
        "<p>You are signed in as <strong>{}</strong>.</p><div class=\"row actions\">\
<a href=\"/auth/account\">Your account</a>\
<form method=\"post\" action=\"/auth/logout\"><button class=\"secondary\" type=\"submit\">\
Sign out</button></form></div>",
        escape(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Body;

    #[test]
    fn a_browser_gets_a_page_that_names_who_is_signed_in() {
        let reply = answer(&Error::Forbidden, true, Some("<alice>"));
        assert_eq!(reply.status, 403);
        let Body::Html(html) = &reply.body else {
            panic!("not a page")
        };
        assert!(html.contains("signed in as <strong>&lt;alice&gt;</strong>"));
        assert!(html.contains("action=\"/auth/logout\""));
    }

    #[test]
    fn api_clients_and_other_errors_keep_json() {
        assert!(matches!(
            answer(&Error::Forbidden, false, None).body,
            Body::Json(_)
        ));
        assert!(matches!(
            answer(&Error::Unauthorized, true, None).body,
            Body::Json(_)
        ));
        let page = answer(&Error::NotFound, true, None);
        assert_eq!(page.status, 404);
        assert!(matches!(page.body, Body::Html(_)));
    }
}
