//! A login does the same work whether or not the name exists. Alone in its
//! own test binary (its own process), so no other test's hashes are counted.

#![cfg(feature = "sessions")]

use stepkit::password::{hash, hashes_computed, verify_login};

#[test]
fn a_name_no_one_has_costs_one_hash_as_a_wrong_password_does() {
    let stored = hash("right").unwrap();
    let hashes = |check: &dyn Fn() -> bool| {
        let before = hashes_computed();
        assert!(!check());
        hashes_computed() - before
    };
    // The first check for no one also makes the stand-in hash, once.
    assert!(!verify_login("guess", None));
    let wrong_password = hashes(&|| verify_login("wrong", Some(&stored)));
    let unknown_name = hashes(&|| verify_login("wrong", None));
    assert_eq!((wrong_password, unknown_name), (1, 1));
    assert!(verify_login("right", Some(&stored)));
}
