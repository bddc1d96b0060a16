//! Reading what clients send to `/auth`: request bodies (JSON or form), usernames and
//! passwords. Every rejection is a 4xx with a reason; nothing here touches the database.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use crate::error::Error;

/// Bodies above this are refused with 413 (docs/contract.md §5).
pub const MAX_BODY: usize = 16 * 1024;

/// How a route accepts bodies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    Json,
    JsonOrForm,
}

/// Parses a body of type `T`. An empty body parses as `{}` (so optional fields default), which
/// still fails for types with required fields.
pub fn parse<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
    accepts: Accepts,
) -> Result<T, Error> {
    let mime = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty());
    let value = match mime.as_deref() {
        None if body.iter().all(u8::is_ascii_whitespace) => serde_json::json!({}),
        Some("application/json") if body.iter().all(u8::is_ascii_whitespace) => {
            return Err(Error::Malformed(
                "The request body is empty; send a JSON object.".into(),
            ))
        }
        Some("application/json") => {
            serde_json::from_slice::<Unique>(body)
                .map_err(|e| {
                    Error::Malformed(if e.to_string().starts_with(REPEATED) {
                        "A JSON key is repeated.".into()
                    } else {
                        "The request body is not valid JSON.".into()
                    })
                })?
                .0
        }
        Some("application/x-www-form-urlencoded") if accepts == Accepts::JsonOrForm => {
            let text = std::str::from_utf8(body)
                .map_err(|_| Error::Malformed("The form body is not valid UTF-8.".into()))?;
            let mut map = serde_json::Map::new();
            for (k, v) in form_urlencoded::parse(text.as_bytes()) {
                if map
                    .insert(k.into_owned(), serde_json::Value::String(v.into_owned()))
                    .is_some()
                {
                    return Err(Error::Malformed("A form field is repeated.".into()));
                }
            }
            serde_json::Value::Object(map)
        }
        _ => return Err(Error::UnsupportedMediaType),
    };
    if !value.is_object() {
        return Err(Error::Invalid(
            "The request body must be a JSON object.".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| Error::Invalid(field_message(&e)))
}

const REPEATED: &str = "repeated key";

/// A JSON value in which no object repeats a key, at any depth. serde_json keeps the last of
/// two equal keys, while other parsers keep the first: a body that two readers could read
/// differently is refused instead (docs/contract.md §5), as a repeated form field is. Keys are
/// compared after unescaping, so `"a"` and `"\u0061"` are the same key.
struct Unique(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if object.insert(key, value).is_some() {
                return Err(serde::de::Error::custom(REPEATED));
            }
        }
        Ok(serde_json::Value::Object(object))
    }
}

fn field_message(e: &serde_json::Error) -> String {
    // serde's messages name the field and the expected type; they never echo values.
    let m = e.to_string();
    let m = m.split(" at line").next().unwrap_or(&m);
    format!("The request body is not acceptable: {m}.")
}

/// A boolean from JSON (`true`) or from a form field (`"true"`, `"on"`, `"1"`, and their
/// opposites).
pub fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Flag::deserialize(d)? {
        Flag::Bool(b) => Ok(b),
        Flag::Text(t) => match t.as_str() {
            "true" | "on" | "1" => Ok(true),
            "false" | "off" | "0" | "" => Ok(false),
            _ => Err(serde::de::Error::custom("expected a boolean")),
        },
    }
}

/// A username as stored and as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub canonical: String,
}

/// docs/contract.md §5: 3–64 characters after trimming and NFKC; letters, digits and `. _ - @`.
pub fn username(raw: &str) -> Result<Username, Error> {
    let display: String = raw.trim().nfkc().collect();
    let len = display.chars().count();
    if !(3..=64).contains(&len) {
        return Err(Error::Invalid(
            "The username must be 3 to 64 characters long.".into(),
        ));
    }
    if !display
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(Error::Invalid(
            "The username may contain only letters, digits and . _ - @".into(),
        ));
    }
    let canonical: String = display.to_lowercase().nfkc().collect();
    Ok(Username { display, canonical })
}

/// docs/contract.md §5: 8 to 72 bytes of UTF-8, exactly as received.
pub fn password(raw: &str) -> Result<(), Error> {
    // docs/contract.md §5 counts bytes, bcrypt's unit. The messages speak of characters, as
    // people count: every character is at least one byte, so a password refused as short has
    // fewer than 8 characters too; and the long one says what a character may weigh.
    if raw.len() < MIN_PASSWORD_BYTES {
        return Err(Error::Invalid(
            "The password must be at least 8 characters long.".into(),
        ));
    }
    if raw.len() > MAX_PASSWORD_BYTES {
        return Err(Error::Invalid(
            "The password is too long: at most 72 characters, and accented letters, other \
             alphabets and emoji count as 2 to 4 each."
                .into(),
        ));
    }
    Ok(())
}

const MIN_PASSWORD_BYTES: usize = 8;
/// bcrypt ignores what comes after this many bytes; a longer password is refused rather than
/// silently cut (docs/contract.md §5).
const MAX_PASSWORD_BYTES: usize = 72;

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Creds {
        username: String,
        #[allow(dead_code)]
        password: String,
    }

    #[test]
    fn usernames_are_trimmed_normalised_and_compared_without_case() {
        let u = username("  Alice.B@example ").unwrap();
        assert_eq!(u.display, "Alice.B@example");
        assert_eq!(u.canonical, "alice.b@example");
        // Fullwidth letters fold to ASCII under NFKC.
        assert_eq!(username("ａｌｉｃｅ").unwrap().canonical, "alice");
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(65)).is_err());
        assert!(username("a b c").is_err());
        assert!(username("alice;drop").is_err());
    }

    #[test]
    fn passwords_take_8_to_72_bytes() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        // Eight bytes in four characters: the contract counts bytes.
        assert!(password("ééé").is_err());
        assert!(password("éééé").is_ok());
        assert!(password(&"é".repeat(8)).is_ok());
        assert!(password(&"a".repeat(72)).is_ok());
        assert!(password(&"a".repeat(73)).is_err());
        assert!(password(&"é".repeat(36)).is_ok());
        assert!(password(&"é".repeat(37)).is_err());
        assert!(password(" 1234567").is_ok());
    }

    #[test]
    fn bodies_parse_as_json_or_form() {
        let c: Creds = parse(
            Some("application/json"),
            br#"{"username":"a","password":"b"}"#,
            Accepts::Json,
        )
        .unwrap();
        assert_eq!(c.username, "a");
        let c: Creds = parse(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"username=a%40b&password=x",
            Accepts::JsonOrForm,
        )
        .unwrap();
        assert_eq!(c.username, "a@b");
    }

    #[test]
    fn a_repeated_json_key_is_refused_at_any_depth_and_in_any_escape() {
        for body in [
            r#"{"username":"a","password":"b","username":"admin"}"#,
            r#"{"username":"a","password":"b","\u0075sername":"admin"}"#,
            r#"{"username":"a","password":"b","x":{"k":1,"k":2}}"#,
            r#"{"username":"a","password":"b","x":[{"k":1,"k":2}]}"#,
        ] {
            let r: Result<Creds, _> =
                parse(Some("application/json"), body.as_bytes(), Accepts::Json);
            match r {
                Err(Error::Malformed(m)) => assert!(m.contains("repeated"), "{body}: {m}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let ok: Creds = parse(
            Some("application/json"),
            br#"{"username":"a","password":"b","x":[{"k":1},{"k":2.5,"n":null,"t":true}]}"#,
            Accepts::Json,
        )
        .unwrap();
        assert_eq!(ok.username, "a");
    }

    #[test]
    fn bad_bodies_are_4xx() {
        let r: Result<Creds, _> = parse(Some("application/json"), b"{", Accepts::Json);
        assert!(matches!(r, Err(Error::Malformed(_))));
        let r: Result<Creds, _> = parse(
            Some("application/json"),
            br#"{"username":1,"password":"x"}"#,
            Accepts::Json,
        );
        assert!(matches!(r, Err(Error::Invalid(_))));
        let r: Result<Creds, _> = parse(Some("application/json"), b"[]", Accepts::Json);
        assert!(matches!(r, Err(Error::Invalid(_))));
        let r: Result<Creds, _> = parse(Some("text/plain"), b"x", Accepts::Json);
        assert!(matches!(r, Err(Error::UnsupportedMediaType)));
        let r: Result<Creds, _> = parse(
            Some("application/x-www-form-urlencoded"),
            b"a=b",
            Accepts::Json,
        );
        assert!(matches!(r, Err(Error::UnsupportedMediaType)));
        let r: Result<Creds, _> = parse(Some("application/json"), &[0xff, 0xfe], Accepts::Json);
        assert!(matches!(r, Err(Error::Malformed(_))));
        let r: Result<Creds, _> = parse(None, b"", Accepts::Json);
        assert!(matches!(r, Err(Error::Invalid(_))));
    }
}
