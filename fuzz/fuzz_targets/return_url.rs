//! Return URLs: the answer is the input or `/`, never a protocol-relative or foreign URL.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    let allowed = vec!["docs.example.com".to_string()];
    let out = gatehouse::return_url::safe(s, "https://app.example.com", &allowed);
    assert!(out == "/" || out == s);
    assert!(!out.starts_with("//") && !out.contains('\\'));
});
