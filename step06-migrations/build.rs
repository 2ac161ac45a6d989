//! `embed_migrations!` reads `migrations/` when the crate compiles, but
//! cargo does not know it did: this tells cargo to rebuild when it changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
