//! Cookie headers and bearer tokens: never panic; what is left after stripping the gateway's
//! cookies never contains them.
#![no_main]

use gatehouse::cookies::{self, Found};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let _ = cookies::find(headers.iter().copied(), "__Host-access_token");
    let mut raw = gatehouse::config::RawConfig::default();
    raw.apply_env(&Default::default(), "fuzz");
    let Ok(config) = raw.validate() else { return };
    let names = cookies::CookieNames::new(&config);
    if let Some(rest) = cookies::without_ours(headers.iter().copied(), &names) {
        let again: Vec<&[u8]> = vec![rest.as_bytes()];
        assert_eq!(cookies::find(again.into_iter(), &names.access), Found::Missing);
    }
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut map = http::HeaderMap::new();
        map.insert("authorization", value);
        let _ = gatehouse::auth::bearer(&map);
    }
});
