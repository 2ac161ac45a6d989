//! Passwords go into the `user` table as salted argon2 hashes, never as
//! the text the user typed. Werkzeug's `generate_password_hash` and
//! `check_password_hash` do the same job in Flask.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::Error;

/// Hashes `password` with argon2id and a fresh random salt. The result is a
/// PHC string (`$argon2id$v=19$m=...$salt$hash`) that carries everything
/// [`verify`] needs, so it is all the `password` column holds.
pub fn hash(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let hashed = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(Error::Password)?;
    Ok(hashed.to_string())
}

/// True if `password` is the one `stored` was made from. A stored value that
/// is not a PHC string verifies nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}
