//! Request bodies as JSON or forms, and username rules: errors, never panics.
#![no_main]

use gatehouse::auth::input::{self, Accepts};
use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Login {
    username: String,
    password: String,
}

fuzz_target!(|data: &[u8]| {
    for ct in ["application/json", "application/x-www-form-urlencoded", "text/plain"] {
        let _: Result<Login, _> = input::parse(Some(ct), data, Accepts::JsonOrForm);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(name) = input::username(s) {
            assert_eq!(input::username(&name.display).ok().map(|n| n.canonical), Some(name.canonical), "normalisation is idempotent");
        }
        let _ = input::password(s);
    }
});
