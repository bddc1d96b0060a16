//! Path checks and routing: never panic, and an accepted path has no dot segments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if gatehouse::routes::path_is_acceptable(s) {
        assert!(s.split('/').all(|seg| seg != "." && seg != ".."));
        assert!(!s.contains('\\'));
    }
    let _ = gatehouse::routes::classify("GET", s);
    let _ = gatehouse::routes::is_public(s, &["/public".to_string()]);
});
