//! `embed_migrations!` embeds each migration's files with `include_str!`,
//! so cargo sees an edit; it cannot see a migration added or removed: this
//! tells cargo to rebuild when the folder changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
