//! Passwords as salted argon2id hashes, never the text typed: Werkzeug's
//! `generate_password_hash` and `check_password_hash`.
//!
//! argon2 is slow and memory-hard on purpose: each hash fills 19 MiB. A
//! server that hashed every login at once would let a few hundred wrong
//! passwords take gigabytes, which the allocator then keeps. So at most
//! [`HASHES_AT_ONCE`] run at a time, each in a block of memory that is
//! allocated once and reused; the others wait their turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::Error;

/// How many hashes run at once, each with its own memory. Two keep both
/// cores of a small server busy; more would only queue for the cores.
pub const HASHES_AT_ONCE: usize = 2;

/// The most memory a stored hash may ask [`verify`] for, in KiB: the
/// default's 19 MiB, with room for costs raised later.
const MAX_MEMORY_KIB: u32 = 64 * 1024;

// ANCHOR: password
/// Hashes `password` with argon2id, its default costs and a fresh random
/// salt. The result is a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`)
/// that carries everything [`verify`] needs, so it is all a `password`
/// column holds. It blocks: call it on a blocking thread.
pub fn hash(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let hashed = compute(
        password,
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        salt.as_salt(),
    )
    .and_then(|output| {
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string())
    });
    hashed.map_err(Error::Password)
}

/// True if `password` is the one `stored` was made from, compared in
/// constant time. A stored value that is not an argon2 PHC string verifies
/// nothing. It blocks, as [`hash`] does.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    // The costs and the output's length come from the stored string.
    let how = Algorithm::try_from(parsed.algorithm).and_then(|algorithm| {
        let version = parsed.version.map(Version::try_from).transpose()?;
        Ok((
            algorithm,
            version.unwrap_or_default(),
            Params::try_from(&parsed)?,
        ))
    });
    let Ok((algorithm, version, params)) = how else {
        return false;
    };
    if params.m_cost() > MAX_MEMORY_KIB {
        return false;
    }
    compute(password, algorithm, version, &params, salt).is_ok_and(|output| output == expected)
}

/// [`verify`] for a login: `stored` is `None` when no user has the name
/// given, and then a hash made for no one is checked instead, so that a
/// wrong name costs the server the same work, and the client the same wait,
/// as a wrong password. Otherwise timing would tell which names exist.
pub fn verify_login(password: &str, stored: Option<&str>) -> bool {
    static NO_ONE: OnceLock<String> = OnceLock::new();
    match stored {
        Some(stored) => verify(password, stored),
        None => {
            let no_one = NO_ONE.get_or_init(|| hash(&new_password()).unwrap_or_default());
            let _ = verify(password, no_one);
            false
        }
    }
}
// ANCHOR_END: password

/// A random password no one knows, for the hash that stands in for no one.
fn new_password() -> String {
    SaltString::generate(&mut OsRng).as_str().to_owned()
}

/// How many hashes this process has computed: each [`hash`] and each
/// [`verify`] of a well-formed stored value counts one. Tests use it to see
/// that a login does the same work whether or not the name exists.
pub fn hashes_computed() -> u64 {
    COMPUTED.load(Ordering::Relaxed)
}

static COMPUTED: AtomicU64 = AtomicU64::new(0);

/// The raw hash of `password`, in memory borrowed from [`MEMORY`].
fn compute(
    password: &str,
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    salt: Salt<'_>,
) -> Result<Output, password_hash::Error> {
    let mut salt_bytes = [0; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut memory = Memory::take();
    COMPUTED.fetch_add(1, Ordering::Relaxed);
    memory.blocks.resize(params.block_count(), Block::default());
    Output::init_with(length, |out| {
        Ok(argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            out,
            &mut memory.blocks,
        )?)
    })
}

/// The blocks of memory hashes run in: at most [`HASHES_AT_ONCE`] are ever
/// made, and a hash that finds none free waits for one to come back.
static MEMORY: Mutex<Blocks> = Mutex::new(Blocks {
    made: 0,
    free: Vec::new(),
});
static RETURNED: Condvar = Condvar::new();

struct Blocks {
    made: usize,
    free: Vec<Vec<Block>>,
}

/// One hash's memory, given back when dropped.
struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    fn take() -> Memory {
        let mut pool = lock();
        loop {
            if let Some(blocks) = pool.free.pop() {
                return Memory { blocks };
            }
            if pool.made < HASHES_AT_ONCE {
                pool.made += 1;
                return Memory { blocks: Vec::new() };
            }
            pool = RETURNED.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        lock().free.push(std::mem::take(&mut self.blocks));
        RETURNED.notify_one();
    }
}

fn lock() -> MutexGuard<'static, Blocks> {
    MEMORY.lock().unwrap_or_else(PoisonError::into_inner)
}
