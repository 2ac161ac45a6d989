//! diesel's picture of the tables the migrations make: each table, its
//! columns and their SQL types. diesel checks every query against it when
//! the program compiles; `db check` checks it against the migrations.

diesel::table! {
    /// flaskr's users. `username_key` is the name as names are compared
    /// (`stepkit::name_key`); `password` holds an argon2 hash.
    user (id) {
        id -> BigInt,
        username -> Text,
        username_key -> Text,
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
        published -> Bool,
        slug -> Text,
    }
}

diesel::table! {
    /// Who is logged in: a hash of each session's token, the user, and
    /// until when the session lasts.
    session (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        expires -> Timestamp,
    }
}

diesel::joinable!(post -> user (author_id));
diesel::joinable!(session -> user (user_id));
diesel::allow_tables_to_appear_in_same_query!(user, post, session);
