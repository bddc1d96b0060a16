//! `DATABASE_URL` as text: the database it names, and the same URL with its password masked in
//! every spelling PostgreSQL accepts, for anything that prints it.

/// The database name in a `postgres://` URL.
pub fn database_name(url: &str) -> Option<String> {
    let cfg: tokio_postgres::Config = url.parse().ok()?;
    cfg.get_dbname()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

/// What a masked password reads as.
const MASKED: &str = "***";

/// `url` with its password masked, for messages and `config check`, in every spelling
/// tokio-postgres accepts and a few it refuses: `postgres[ql]://user:pw@host/db`, a `password`
/// query parameter whatever the case or percent-encoding of its name (`?pass%77ord=pw`), and
/// `password = 'p w'` in the `key=value` form, quoted, escaped or bare. Where the text stops
/// making sense it masks the rest rather than guess.
pub fn redact_url(url: &str) -> String {
    match url_authority(url) {
        Some(authority) => redact_uri(url, authority),
        None => redact_key_values(url),
    }
}

/// Where the authority starts, if `url` begins with `scheme://` (the way tokio-postgres tells
/// the two forms apart, but any scheme and case: a form it refuses may still be printed).
fn url_authority(url: &str) -> Option<usize> {
    let start = url.len() - url.trim_start().len();
    let colon = start + url[start..].find("://")?;
    let scheme = &url[start..colon];
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(colon + 3)
}

fn redact_uri(url: &str, authority: usize) -> String {
    let rest = &url[authority..];
    // tokio-postgres ends the userinfo at the first `@`. The last `@` before the query also
    // covers a password with an unencoded `@` or `/`, and the last `@` at all one with a `?`.
    let at = match rest.find('?') {
        Some(query) => rest[..query].rfind('@').or_else(|| rest.rfind('@')),
        None => rest.rfind('@'),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority]);
    let tail = match at {
        Some(at) => {
            match rest[..at].split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASKED);
                }
                None => out.push_str(&rest[..at]),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _))
                        if names_password(
                            &percent_encoding::percent_decode_str(key).decode_utf8_lossy(),
                        ) =>
                    {
                        format!("{key}={MASKED}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

/// `password`, `PassWord`, `sslpassword`, `passwd`: tokio-postgres knows only the first, but a
/// name it refuses is still printed in the error that refuses it.
fn names_password(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("passwd")
}

/// The `key=value` form, tokenised as tokio-postgres does: blanks around `=`, values bare up to
/// a blank or in single quotes, a backslash escaping the next character in both.
fn redact_key_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let trimmed = rest.trim_start();
        out.push_str(&rest[..rest.len() - trimmed.len()]);
        rest = trimmed;
        if rest.is_empty() {
            return out;
        }
        let key_len = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let (key, after_key) = rest.split_at(key_len);
        let Some(after_eq) = after_key.trim_start().strip_prefix('=') else {
            out.push_str(MASKED);
            return out;
        };
        let value = after_eq.trim_start();
        out.push_str(&rest[..rest.len() - value.len()]);
        let Some(value_len) = value_len(value) else {
            out.push_str(MASKED);
            return out;
        };
        if key.is_empty() || names_password(key) {
            out.push_str(MASKED);
        } else {
            out.push_str(&value[..value_len]);
        }
        rest = &value[value_len..];
    }
}

/// The length of the value `s` starts with, quotes included; `None` if a quote is left open.
fn value_len(s: &str) -> Option<usize> {
    let quoted = s.starts_with('\'');
    let mut chars = s.char_indices().skip(usize::from(quoted));
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' if quoted => return Some(i + 1),
            c if c.is_whitespace() && !quoted => return Some(i),
            _ => {}
        }
    }
    (!quoted).then_some(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        for (url, masked) in [
            (
                "postgres://app:hunter2@db:5432/gatehouse",
                "postgres://app:***@db:5432/gatehouse",
            ),
            (
                "postgresql://app:hunter2@db/gatehouse",
                "postgresql://app:***@db/gatehouse",
            ),
            (
                "postgres://app:hun@ter/2@db/gatehouse",
                "postgres://app:***@db/gatehouse",
            ),
            (
                "postgres://app:hun?ter2@db/gatehouse",
                "postgres://app:***@db/gatehouse",
            ),
            (
                "postgres://app@db/gatehouse?password=hunter2",
                "postgres://app@db/gatehouse?password=***",
            ),
            (
                "postgres://app@db/gatehouse?sslmode=disable&password=hunter2&connect_timeout=3",
                "postgres://app@db/gatehouse?sslmode=disable&password=***&connect_timeout=3",
            ),
            (
                "postgres://app@db/gatehouse?PassWord=hunter2",
                "postgres://app@db/gatehouse?PassWord=***",
            ),
            (
                "postgres://app@db/gatehouse?pass%77ord=hunter2",
                "postgres://app@db/gatehouse?pass%77ord=***",
            ),
            (
                "postgres://app@db/gatehouse?%70assword=a=b&x=1",
                "postgres://app@db/gatehouse?%70assword=***&x=1",
            ),
            (
                "postgres://app:pw@db/gatehouse?options=a@b&password=hunter2",
                "postgres://app:***@db/gatehouse?options=a@b&password=***",
            ),
            (
                "POSTGRES://app:hunter2@db/gatehouse",
                "POSTGRES://app:***@db/gatehouse",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/gatehouse",
                "postgres://postgres@127.0.0.1:5432/gatehouse",
            ),
            ("postgres:///gatehouse", "postgres:///gatehouse"),
        ] {
            assert_eq!(redact_url(url), masked, "{url}");
        }
    }

    #[test]
    fn passwords_in_key_value_strings_are_masked() {
        for (url, masked) in [
            (
                "host=db password=hunter2 dbname=gatehouse",
                "host=db password=*** dbname=gatehouse",
            ),
            (
                "host=db password = 'hunter 2' dbname=gatehouse",
                "host=db password = *** dbname=gatehouse",
            ),
            (
                r"host=db password='it\'s hunter2' dbname=gatehouse",
                "host=db password=*** dbname=gatehouse",
            ),
            (
                r"host=db password=hunter\ 2 dbname=gatehouse",
                "host=db password=*** dbname=gatehouse",
            ),
            ("  PASSWORD=hunter2\tuser=app", "  PASSWORD=***\tuser=app"),
            ("host=db sslpassword=hunter2", "host=db sslpassword=***"),
            (
                "host=db user=app dbname=gatehouse",
                "host=db user=app dbname=gatehouse",
            ),
            // What tokio-postgres refuses still must not print the secret.
            ("host=db password='hunter2", "host=db password=***"),
            ("host=db password", "host=db ***"),
            ("host=db =hunter2", "host=db =***"),
        ] {
            assert_eq!(redact_url(url), masked, "{url}");
            assert!(!redact_url(url).contains("hunter"), "{url}");
        }
    }
}
