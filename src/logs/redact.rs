//! The redaction itself, pure: which spans of a formatted line are secrets (JWT-shaped strings,
//! URL passwords, recovery-code-shaped words, the values of cookie, authorization, password,
//! invite and second-factor keys), and the line with those spans masked.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::{memchr, memchr2_iter, memchr3_iter, memchr_iter, memmem, memrchr};

use super::MASK;

static JWT: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"eyJ"));
static URL: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"://"));
/// `secret` has no rare letter to anchor on (hex ids are full of `c`), so it is searched for
/// whole: `ecret`, which `secret` and `Secret` contain (the gateway writes it so: the TOTP
/// secret's JSON key and `otpauth://…?secret=`; the `*_SECRET` settings are masked already).
static SECRET: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"ecret"));

/// `line` with every secret replaced by [`MASK`]: JWT-shaped strings, the password in a URL's
/// userinfo, and the values of `cookie`, `set-cookie`, `authorization`,
/// `proxy-authorization`, `password`, `passwd` and `invite` keys, in any case, as HTTP
/// headers, Debug output of `http` types, JSON, forms, query strings or `key=value` fields. A line without any of their
/// markers is returned as it is, after a few `memchr` scans.
pub fn redact(line: &[u8], json: bool) -> Cow<'_, [u8]> {
    let mut spans = Vec::new();
    jwts(line, &mut spans);
    url_passwords(line, &mut spans);
    recovery_codes(line, &mut spans);
    keyed_values(line, json, &mut spans);
    if spans.is_empty() {
        return Cow::Borrowed(line);
    }
    spans.sort_unstable();
    let mut out = Vec::with_capacity(line.len());
    let mut at = 0;
    let mut spans = spans.into_iter().peekable();
    while let Some((start, mut end)) = spans.next() {
        while let Some((_, e)) = spans.next_if(|&(s, _)| s <= end) {
            end = end.max(e);
        }
        out.extend_from_slice(&line[at..start]);
        out.extend_from_slice(MASK.as_bytes());
        at = end;
    }
    out.extend_from_slice(&line[at..]);
    Cow::Owned(out)
}

/// [`redact`] for a message that is no log line (one `main` prints, say).
pub fn redact_str(text: &str) -> String {
    String::from_utf8_lossy(&redact(text.as_bytes(), false)).into_owned()
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `eyJ` is `{"` in base64: every JWT starts with it, and no base64url character is ever
/// escaped, in Debug output or in JSON.
fn jwts(line: &[u8], spans: &mut Vec<(usize, usize)>) {
    let mut done = 0;
    for start in JWT.find_iter(line) {
        // The payload starts with `eyJ` too.
        if start < done {
            continue;
        }
        let mut end = start;
        let mut dots = 0;
        while let Some(&b) = line.get(end) {
            if b == b'.' {
                dots += 1;
            } else if !is_base64url(b) {
                break;
            }
            end += 1;
        }
        // A full stop after a token is punctuation (an unsigned token loses only its last dot).
        while end > start && line[end - 1] == b'.' {
            end -= 1;
            dots -= 1;
        }
        let payload_is_json = memchr(b'.', &line[start..end])
            .is_some_and(|dot| line[start + dot + 1..].starts_with(b"eyJ"));
        if dots >= 2 || (dots == 1 && payload_is_json) {
            spans.push((start, end));
            done = end;
        }
    }
}

/// `scheme://user:password@host`: the password runs from the first `:` to the last `@` before
/// the query (or the last `@` at all, if a password holds an unencoded `?`), never shorter than
/// what tokio-postgres takes (up to the first `@`).
fn url_passwords(line: &[u8], spans: &mut Vec<(usize, usize)>) {
    for scheme_end in URL.find_iter(line) {
        let start = scheme_end + 3;
        let rest = &line[start..];
        let len = rest
            .iter()
            .position(|&b| {
                b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'\\' | b'<' | b'>' | 0x1b)
            })
            .unwrap_or(rest.len());
        let url = &rest[..len];
        let query = memchr(b'?', url).unwrap_or(len);
        let Some(at) = memrchr(b'@', &url[..query]).or_else(|| memrchr(b'@', url)) else {
            continue;
        };
        if let Some(colon) = memchr(b':', &url[..at]) {
            let password = &url[colon + 1..at];
            if !password.is_empty() && password != b"***" {
                spans.push((start + colon + 1, start + at));
            }
        }
    }
}

/// `xxxx-xxxx-xxxx` (letters and digits) standing alone: the shape of a recovery code
/// (docs/contract.md §10), masked wherever it appears since it has no key of its own in a
/// request body (`"code"`). UUIDs and dates do not have this shape.
fn recovery_codes(line: &[u8], spans: &mut Vec<(usize, usize)>) {
    let alnum = |range: std::ops::Range<usize>| line[range].iter().all(u8::is_ascii_alphanumeric);
    // What may stand beside a code: not a letter, digit or dash (which a UUID's groups have).
    let apart = |i: usize| {
        line.get(i)
            .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'-')
    };
    for dash in memchr_iter(b'-', line) {
        // The cheapest tests first: most dashes are not 5 apart, and a UUID's are but have
        // their neighbours on each side.
        if dash < 4 || line.get(dash + 5) != Some(&b'-') {
            continue;
        }
        let (start, end) = (dash - 4, dash + 10);
        if end <= line.len()
            && (start == 0 || apart(start - 1))
            && apart(end)
            && alnum(start..dash)
            && alnum(dash + 1..dash + 5)
            && alnum(dash + 6..end)
        {
            spans.push((start, end));
        }
    }
}

/// Each key is found through a rare letter of it, in either case (`k` of cookie and mfa_token,
/// `z` of authorization, `w` of password, `v` of invite, recovery_codes and qr_svg), or for
/// `secret` through its own text, so the common line costs five scans.
fn keyed_values(line: &[u8], json: bool, spans: &mut Vec<(usize, usize)>) {
    let secrets = SECRET.find_iter(line);
    let anchors = memchr3_iter(b'k', b'z', b'w', line)
        .chain(memchr3_iter(b'K', b'Z', b'W', line))
        .chain(memchr2_iter(b'v', b'V', line))
        // The `c` of `secret`, where keyword_at looks for it.
        .chain(secrets.map(|i| i + 1));
    for anchor in anchors {
        if let Some(span) = keyword_at(line, anchor)
            .and_then(|(start, end, password)| keyed_value(line, start, end, json, password))
        {
            spans.push(span);
        }
    }
}

/// The key around `anchor`: its start, its end, and whether its value is a word (a password,
/// an invite token) that ends at a blank or `&`, as in forms and query strings. A prefix is
/// allowed (`set-cookie`, `proxy-authorization`, `new_password`); a suffix is not (`cookies`,
/// `password_hash`, `invite_id`), because a separator must follow.
fn keyword_at(line: &[u8], anchor: usize) -> Option<(usize, usize, bool)> {
    let key = |offset: usize, word: &[u8]| {
        let start = anchor.checked_sub(offset)?;
        let found = line
            .get(start..start + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word));
        found.then_some((start, start + word.len()))
    };
    match line[anchor] | 0x20 {
        b'k' => key(3, b"cookie")
            .map(|(s, e)| (s, e, false))
            .or_else(|| key(6, b"mfa_token").map(|(s, e)| (s, e, true))),
        b'z' => key(7, b"authorization").map(|(s, e)| (s, e, false)),
        b'w' => key(4, b"password")
            .or_else(|| key(4, b"passwd"))
            .map(|(s, e)| (s, e, true)),
        // An invite token is a bearer credential: `?invite=…` in a request line, `invite=` in
        // a form body, `"invite":"…"` in JSON.
        b'v' => key(2, b"invite")
            // Second factors (docs/contract.md §10): the codes shown at enrolment, and the QR
            // code, which draws the TOTP secret.
            .or_else(|| key(4, b"recovery_codes"))
            .or_else(|| key(4, b"qr_svg"))
            .map(|(s, e)| (s, e, true)),
        // The TOTP secret, alone or inside an `otpauth://…?secret=…` URI.
        b'c' => key(2, b"secret").map(|(s, e)| (s, e, true)),
        _ => None,
    }
}

/// The value after a key: `key: v`, `key=v`, `"key": "v"`, `\"key\":\"v\"` (JSON inside Debug
/// output, or Debug output inside a JSON line), `key = 'v'`, and `"key", "v"` (a pair in a list).
fn keyed_value(
    line: &[u8],
    key_start: usize,
    key_end: usize,
    json: bool,
    password: bool,
) -> Option<(usize, usize)> {
    let quoted_key = key_start
        .checked_sub(1)
        .is_some_and(|i| matches!(line[i], b'"' | b'\''));
    let mut i = key_end;
    while matches!(line.get(i), Some(b'"' | b'\'' | b'\\')) {
        i += 1;
    }
    i = skip_blank(line, i);
    match line.get(i) {
        Some(b':' | b'=') => {}
        Some(b',') if quoted_key => {}
        _ => return None,
    }
    i = skip_blank(line, i + 1);
    let run = backslashes(line, i);
    let quote = match line.get(i + run) {
        Some(&q @ (b'"' | b'\'')) => {
            i += run + 1;
            Some((q, run))
        }
        _ => None,
    };
    let end = value_end(line, i, quote, json, password);
    (end > i && &line[i..end] != b"***").then_some((i, end))
}

/// Spaces, and the ANSI colour codes the text format puts between a field's name and its value.
fn skip_blank(line: &[u8], mut i: usize) -> usize {
    loop {
        match line.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(0x1b) if line.get(i + 1) == Some(&b'[') => {
                i += 2;
                while matches!(line.get(i), Some(b'0'..=b'9' | b';')) {
                    i += 1;
                }
                if line.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
            }
            _ => return i,
        }
    }
}

fn backslashes(line: &[u8], i: usize) -> usize {
    line.get(i..)
        .map_or(0, |rest| rest.iter().take_while(|&&b| b == b'\\').count())
}

/// Where a value that starts at `i` ends. `quote`: the quote that opened it and the number of
/// backslashes before that quote (0 plain, 1 inside one level of escaping, 3 inside two), so the
/// closing quote is the one behind that many backslashes plus any number of escaped backslash
/// pairs. Unquoted, a value runs to the end of its header line (`\r\n`, escaped or not); a
/// password also stops at a blank or `&`, as in forms and `key=value` strings. In a JSON line an
/// unescaped `"` ends the JSON string, and the mask never runs past it. When in doubt the value
/// runs on: a longer mask loses context, a shorter one a secret.
fn value_end(
    line: &[u8],
    mut i: usize,
    quote: Option<(u8, usize)>,
    json: bool,
    password: bool,
) -> usize {
    while i < line.len() {
        let run = backslashes(line, i);
        let Some(&c) = line.get(i + run) else {
            return line.len();
        };
        if let Some((q, k)) = quote {
            if c == q && run % (2 * (k + 1)) == k {
                return i + run - k;
            }
        }
        let unescaped = run % 2 == 0;
        if unescaped && c == b'"' && (json || (quote.is_none() && password)) {
            return i + run;
        }
        if c == b'\n' || c == b'\r' {
            return i + run;
        }
        if quote.is_none() {
            if run > 0 && (c == b'r' || c == b'n') {
                return i;
            }
            if run == 0 && password && (c.is_ascii_whitespace() || c == b'&') {
                return i;
            }
        }
        i += run + 1;
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT_A: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwNWIzYjg4MCJ9.gpanSWSITgWbPf-KFju5HZhmJWfqvGw0w1h7_YMj_aU";

    fn text(line: &str) -> String {
        String::from_utf8(redact(line.as_bytes(), false).into_owned()).unwrap()
    }

    fn json(line: &str) -> String {
        String::from_utf8(redact(line.as_bytes(), true).into_owned()).unwrap()
    }

    #[test]
    fn lines_without_secrets_are_borrowed_unchanged() {
        for line in [
            "2026-11-30T17:49:41Z  INFO access: method=GET route=\"proxy\" status=200 \
             latency_ms=2.4 user_id=\"05b3b880\" request_id=\"0015cdcc\"\n",
            "INFO gatehouse: effective configuration config=\"DATABASE_URL=postgres://app:***@db/g \
             GATEHOUSE_JWT_SECRET=*** GATEHOUSE_COOKIE_SECURE=false GATEHOUSE_COOKIE_DOMAIN=\"\n",
            "DEBUG tokio_postgres::prepare: preparing query s4: SELECT id, username, password_hash\n",
            "the cookies were fine; authorization required; a password is needed\n",
            "keyJ is not a token, nor is eyJhbGciOiJIUzI1NiJ9 alone\n",
            "",
        ] {
            assert!(matches!(redact(line.as_bytes(), false), Cow::Borrowed(_)), "{line}");
        }
    }

    #[test]
    fn tokens_are_masked_wherever_they_are() {
        let cases = [
            format!("token {JWT_A}."),
            format!("GET /app?access_token={JWT_A}&x=1, Host: a"),
            format!("\"body\":\"{{\\\"access_token\\\":\\\"{JWT_A}\\\"}}\""),
            format!("x{JWT_A}"),
            // Unsigned: the signature is empty.
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_string(),
        ];
        for line in cases {
            let out = text(&line);
            assert!(out.contains(MASK), "{out}");
            assert!(!out.contains("eyJ"), "{out}");
        }
        assert_eq!(text(&format!("a {JWT_A}. b")), format!("a {MASK}. b"));
    }

    /// What Pingora 0.9 and the `http` crate print at `trace`/`debug`, as seen running the
    /// gateway at GATEHOUSE_LOG=trace.
    #[test]
    fn header_values_in_pingoras_shapes_are_masked() {
        let parts = "Request header: Parts { method: GET, uri: /app, version: HTTP/1.1, headers: \
            {\"host\": \"localhost:18000\", \"cookie\": \"other=plainCookieValue123; x=\\\"y\\\"\", \
            \"authorization\": \"Basic dXNlcjpwcm94eXNlY3JldA==\", \"Proxy-Authorization\": \
            \"Basic cHJveHlzZWNyZXQ=\", \"accept\": \"*/*\"} }";
        let out = text(parts);
        assert_eq!(
            out,
            format!(
                "Request header: Parts {{ method: GET, uri: /app, version: HTTP/1.1, headers: \
                 {{\"host\": \"localhost:18000\", \"cookie\": \"{MASK}\", \"authorization\": \
                 \"{MASK}\", \"Proxy-Authorization\": \"{MASK}\", \"accept\": \"*/*\"}} }}"
            )
        );

        let wire = "Writing request header: b\"GET /app HTTP/1.1\\r\\nHost: a\\r\\nCookie: \
            other=plainCookieValue123\\r\\nauthorization: Basic dXNlcjpw\\r\\nx: 1\\r\\n\\r\\n\"";
        assert_eq!(
            text(wire),
            format!(
                "Writing request header: b\"GET /app HTTP/1.1\\r\\nHost: a\\r\\nCookie: \
                 {MASK}\\r\\nauthorization: {MASK}\\r\\nx: 1\\r\\n\\r\\n\""
            )
        );

        let response = "Response header: ResponseHeader { base: Parts { status: 200, headers: \
            {\"set-cookie\": \"sid=abc123; HttpOnly\", \"set-cookie\": \"b=c\"} }, \
            header_name_map: Some({\"set-cookie\": CaseHeaderName(b\"Set-Cookie\")}) }";
        let out = text(response);
        assert!(!out.contains("abc123") && !out.contains("b=c"), "{out}");

        // The echo upstream's body: header pairs in a JSON list, inside Debug bytes.
        let echo =
            "Response body: Some(b\"{\\\"headers\\\":[[\\\"cookie\\\",\\\"a=plainCookieValue\\\"],\
            [\\\"accept\\\",\\\"*/*\\\"]]}\")";
        let out = text(echo);
        assert!(!out.contains("plainCookieValue"), "{out}");
        assert!(out.contains("[\\\"accept\\\",\\\"*/*\\\"]"), "{out}");
    }

    #[test]
    fn json_lines_stay_json_and_keep_nothing_secret() {
        let line =
            "{\"timestamp\":\"t\",\"level\":\"TRACE\",\"fields\":{\"message\":\"Request header: \
             Parts { headers: {\\\"cookie\\\": \\\"a=b\\\\\\\"c; plain=plainCookieValue\\\", \
             \\\"authorization\\\": \\\"Bearer opaque-secret\\\", \\\"x\\\": \\\"1\\\"} }\",\
             \"cookie\":\"field-secret\",\"password\":\"hunter2\"},\"target\":\"pingora_proxy\"}\n";
        let out = json(line);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["fields"]["cookie"], MASK);
        assert_eq!(parsed["fields"]["password"], MASK);
        let message = parsed["fields"]["message"].as_str().unwrap();
        assert!(
            !message.contains("plainCookieValue") && !message.contains("opaque-secret"),
            "{message}"
        );
        assert!(message.contains("\"x\": \"1\""), "{message}");

        // A value without a closing quote stops at the end of the JSON string.
        let line = "{\"fields\":{\"message\":\"Cookie: abc def\"},\"target\":\"x\"}\n";
        let parsed: serde_json::Value = serde_json::from_str(&json(line)).unwrap();
        assert_eq!(parsed["fields"]["message"], format!("Cookie: {MASK}"));
        assert_eq!(parsed["target"], "x");
    }

    #[test]
    fn passwords_are_masked_in_every_spelling() {
        for (line, secret) in [
            (
                "{\"username\":\"a\",\"password\":\"hunter2 \\\"x\\\"\"}",
                "hunter2",
            ),
            (
                "b\"{\\\"username\\\":\\\"a\\\",\\\"password\\\":\\\"hunter2\\\"}\"",
                "hunter2",
            ),
            ("body: username=a&password=hunter2&next=%2F", "hunter2"),
            ("host=db password = 'hunter2 x' dbname=g", "hunter2"),
            ("host=db PassWord=hunter2 dbname=g", "hunter2"),
            (
                "Login { username: \"a\", new_password: \"hunter2\" }",
                "hunter2",
            ),
            ("passwd=hunter2", "hunter2"),
            ("url postgres://app:hunter2@db:5432/g failed", "hunter2"),
            ("url postgresql://app:hun@ter2@db/g?x=1 failed", "ter2"),
            (
                "\u{1b}[3mpassword\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"hunter2\"",
                "hunter2",
            ),
        ] {
            let out = text(line);
            assert!(!out.contains(secret), "{line} -> {out}");
            assert!(out.contains(MASK), "{line} -> {out}");
        }
        assert_eq!(
            text("body: username=a&password=hunter2&next=%2F"),
            format!("body: username=a&password={MASK}&next=%2F")
        );
        assert_eq!(
            text("postgres://app:pw@db/g and postgres://app@db/g"),
            format!("postgres://app:{MASK}@db/g and postgres://app@db/g")
        );
    }

    #[test]
    fn invite_tokens_are_masked_in_query_strings_forms_and_json() {
        let token = "q9YhV0kRk2c1tIhQn0bCzZp7m3yQJ4rX1hD8fW6sA2E";
        for line in [
            format!("GET /auth/register?invite={token} HTTP/1.1"),
            format!("GET /auth/register?rd=%2F&invite={token}&x=1 failed"),
            format!("body: username=a&password=pw&invite={token}"),
            format!("{{\"username\":\"a\",\"invite\":\"{token}\"}}"),
            format!("uri: /auth/register?INVITE={token}"),
        ] {
            let out = text(&line);
            assert!(!out.contains(token), "{line} -> {out}");
            assert!(out.contains(MASK), "{line} -> {out}");
        }
        assert_eq!(
            text(&format!("/auth/register?invite={token}&rd=%2F")),
            format!("/auth/register?invite={MASK}&rd=%2F")
        );
        for line in [
            "invite_id=3f2c created by the CLI",
            "an invite names a group deleted since",
            "INFO gatehouse: invite 3f2c revoked",
        ] {
            assert_eq!(text(line), line, "not a keyed invite value");
        }
    }

    #[test]
    fn second_factor_secrets_are_masked() {
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let code = "7hq2-m9xa-k3pd";
        let pending = "q9YhV0kRk2c1tIhQn0bCzZp7m3yQJ4rX1hD8fW6sA2E";
        for (line, hidden) in [
            (format!("{{\"secret\":\"{secret}\",\"otpauth_uri\":\"otpauth://totp/a:b?secret={secret}&issuer=a\"}}"), secret),
            (format!("uri otpauth://totp/gate:alice?secret={secret}&issuer=gate done"), secret),
            (format!("{{\"recovery_codes\":[\"{code}\",\"2222-3333-4444\"]}}"), code),
            (format!("{{\"method\":\"recovery\",\"code\":\"{code}\"}}"), code),
            (format!("body: method=recovery&code={}", code.to_uppercase()), "7HQ2"),
            (format!("{{\"method\":\"totp\",\"code\":\"123456\",\"mfa_token\":\"{pending}\"}}"), pending),
            (
                "{\"qr_svg\":\"<svg role=\\\"img\\\"><path d=\\\"M4 4h1\\\"/></svg>\"}".to_string(),
                "M4 4h1",
            ),
        ] {
            let out = text(&line);
            assert!(!out.contains(hidden), "{line} -> {out}");
            assert!(out.contains(MASK), "{line} -> {out}");
        }
        assert_eq!(
            json(&format!(
                "{{\"fields\":{{\"secret\":\"{secret}\"}},\"x\":1}}"
            )),
            format!("{{\"fields\":{{\"secret\":\"{MASK}\"}},\"x\":1}}")
        );
        for line in [
            "session_id=\"3172b17d-b72c-40b8-98e0-9b542eefdace\" at 2026-11-30T17:49:43Z",
            "GATEHOUSE_JWT_SECRET=*** secrets are masked; the secret_key_base was fine",
            "a-b-c abcd-efgh ab-cdef-ghij-klmn-opqr",
        ] {
            assert_eq!(text(line), line, "no second-factor secret here");
        }
    }

    /// The per-request access line must stay cheap: nothing in it is copied.
    #[test]
    fn the_common_line_passes_through_uncopied() {
        let line = b"2026-11-30T17:49:43.215791Z  INFO access: method=GET route=\"proxy\" \
            status=200 latency_ms=2.473313 user_id=\"05b3b880-13fd-4516-8029-82e864b8a4df\" \
            session_id=\"3172b17d-b72c-40b8-98e0-9b542eefdace\" \
            request_id=\"0015cdcc-da76-5677-edea-be50297e644a\"\n";
        // A line with nothing to mask is written as it came, without a copy. (Its cost is a
        // benchmark's question, not a test's: a timed assertion fails on a busy machine.)
        assert!(matches!(redact(line, false), Cow::Borrowed(_)));
        assert!(matches!(redact(line, true), Cow::Borrowed(_)));
    }
}
