//! diesel's picture of `schema.sql`: each table, its columns and their SQL
//! types. diesel checks every query against it when the program compiles;
//! a test checks it against what SQLite reports, so the two cannot drift.

diesel::table! {
    /// flaskr's users. `password` holds an argon2 hash.
    user (id) {
        id -> BigInt,
        username -> Text,
        password -> Text,
    }
}

diesel::table! {
    /// flaskr's posts, each written by one user.
    post (id) {
        id -> BigInt,
        author_id -> BigInt,
        created -> Timestamp,
        title -> Text,
        body -> Text,
    }
}

diesel::joinable!(post -> user (author_id));
diesel::allow_tables_to_appear_in_same_query!(user, post);
