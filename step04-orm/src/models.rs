//! The models: a struct for each way a row is read or written, and the
//! queries, written with diesel's query builder instead of SQL strings.
//! Flask-SQLAlchemy's `User.query.filter_by(...)` is `user::table.filter(...)`.

use diesel::connection::DefaultLoadingMode;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool};
use diesel::sqlite::Sqlite;
use serde::Serialize;
use stepkit::{name_key, password};
use stepkit::{name_problem, text_problem};

use crate::Error;
use crate::schema::{post, session, user};
use crate::timestamp::Timestamp;

/// Longest username accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest post title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest post body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;

// ANCHOR: models
/// A user as pages and JSON show it. `Selectable` reads only these columns:
/// the password hash is never loaded, so it can never be shown.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = user, check_for_backend(Sqlite))]
pub struct User {
    pub id: i64,
    pub username: String,
}

/// The row `create_user` inserts: the username, its key and the hash.
#[derive(Debug, Insertable)]
#[diesel(table_name = user)]
struct NewUser<'a> {
    username: &'a str,
    username_key: &'a str,
    password: &'a str,
}

/// A post, with its `created` typed as in step 3.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = post, check_for_backend(Sqlite))]
pub struct Post {
    pub id: i64,
    pub author_id: i64,
    pub created: Timestamp,
    pub title: String,
    pub body: String,
}

/// The row `create_post` inserts; `created` is left to the column's default.
#[derive(Debug, Insertable)]
#[diesel(table_name = post)]
pub struct NewPost<'a> {
    pub author_id: i64,
    pub title: &'a str,
    pub body: &'a str,
}

/// What a PATCH may change; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = post)]
pub struct PostChanges {
    pub title: Option<String>,
    pub body: Option<String>,
}
// ANCHOR_END: models

/// Which slice of a list to read: page `number` (from 1) of `per_page` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: i64,
    pub per_page: i64,
}

/// One page of a list, with what a client needs to ask for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    pub pages: i64,
    pub prev: Option<i64>,
    pub next: Option<i64>,
}

// ANCHOR: paginate
impl Page {
    /// Wraps the rows read at this page's offset, given the total count:
    /// Flask-SQLAlchemy's `paginate()` is a LIMIT/OFFSET query and a count.
    fn of<T>(self, items: Vec<T>, total: i64) -> Paginated<T> {
        let pages = (total + self.per_page - 1) / self.per_page;
        Paginated {
            items,
            page: self.number,
            per_page: self.per_page,
            total,
            pages,
            prev: (self.number > 1).then(|| (self.number - 1).min(pages.max(1))),
            next: (self.number < pages).then(|| self.number + 1),
        }
    }

    pub fn offset(self) -> i64 {
        (self.number - 1).saturating_mul(self.per_page)
    }
}
// ANCHOR_END: paginate

/// A page read by keyset: no page numbers and no total, and `next_before`
/// to ask for the rows after it (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Keyset<T> {
    pub items: Vec<T>,
    pub per_page: i64,
    pub next_before: Option<i64>,
}

impl<T> Paginated<T> {
    /// The same page with each item turned into something else.
    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> Paginated<U> {
        Paginated {
            items: self.items.into_iter().map(convert).collect(),
            page: self.page,
            per_page: self.per_page,
            total: self.total,
            pages: self.pages,
            prev: self.prev,
            next: self.next,
        }
    }
}

// ANCHOR: create_user
/// An argon2 hash of a password, what `create_user` and `update_user`
/// store: the only way to make one is to hash a password. Hashing is slow
/// on purpose, so a handler hashes before its write waits for its turn.
#[derive(Debug)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn of(password: &str) -> Result<PasswordHash, Error> {
        Ok(PasswordHash(password::hash(password)?))
    }

    /// [`PasswordHash::of`] on a blocking thread, for a handler: it holds
    /// no connection and no turn to write meanwhile.
    pub async fn of_off_thread(password: String) -> Result<PasswordHash, Error> {
        tokio::task::spawn_blocking(move || PasswordHash::of(&password)).await?
    }
}

/// Adds a user, storing only the argon2 hash `hash`, and returns it:
/// `db.session.add(User(...))` and `commit()` in one call.
pub fn create_user(
    conn: &mut SqliteConnection,
    username: &str,
    hash: &PasswordHash,
) -> Result<User, Error> {
    let new_user = NewUser {
        username,
        username_key: &name_key(username),
        password: &hash.0,
    };
    let created = diesel::insert_into(user::table)
        .values(&new_user)
        .returning(User::as_returning())
        .get_result(conn)?;
    Ok(created)
}
// ANCHOR_END: create_user

// ANCHOR: queries
/// `User.query.all()`, in id order.
pub fn all_users(conn: &mut SqliteConnection) -> QueryResult<Vec<User>> {
    user::table
        .select(User::as_select())
        .order(user::id)
        .load(conn)
}

/// `Post.query.filter_by(author_id=...).order_by(Post.title).all()`.
pub fn posts_by(conn: &mut SqliteConnection, author_id: i64) -> QueryResult<Vec<Post>> {
    post::table
        .filter(post::author_id.eq(author_id))
        .order(post::title)
        .select(Post::as_select())
        .load(conn)
}

/// `User.query.get(id)`.
pub fn find_user(conn: &mut SqliteConnection, id: i64) -> QueryResult<Option<User>> {
    user::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// `User.query.filter_by(username=...).first()`, found by the name's key,
/// however the name is written.
///
/// diesel checks column names when the program compiles; a typo does not
/// build (this example must fail to compile, and `cargo test` checks it):
///
/// ```compile_fail,E0425
/// use diesel::prelude::*;
/// use step04_orm::schema::user;
///
/// fn misspelled(conn: &mut SqliteConnection) -> QueryResult<Vec<i64>> {
///     user::table.filter(user::usrname.eq("ann")).select(user::id).load(conn)
/// }
/// ```
///
/// The same query spelled right builds, so the typo is all that fails above
/// (stable rustdoc does not check the error code itself):
///
/// ```
/// use diesel::prelude::*;
/// use step04_orm::schema::user;
///
/// fn spelled_right(conn: &mut SqliteConnection) -> QueryResult<Vec<i64>> {
///     user::table.filter(user::username.eq("ann")).select(user::id).load(conn)
/// }
/// ```
pub fn user_by_username(conn: &mut SqliteConnection, name: &str) -> QueryResult<Option<User>> {
    user::table
        .filter(user::username_key.eq(name_key(name)))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// `User.query.count()`.
pub fn count_users(conn: &mut SqliteConnection) -> QueryResult<i64> {
    user::table.count().get_result(conn)
}

/// Users in id order, one page of them; with `search`, only usernames that
/// contain it, `%` and `_` taken literally (`username LIKE '%...%' ESCAPE '\'`).
pub fn users_page(
    conn: &mut SqliteConnection,
    search: Option<&str>,
    page: Page,
) -> QueryResult<Paginated<User>> {
    let matching = || {
        let mut query = user::table.into_boxed();
        if let Some(text) = search {
            let pattern = format!("%{}%", escape_like(text));
            query = query.filter(user::username.like(pattern).escape('\\'));
        }
        query
    };
    // One read transaction: the page never disagrees with its own total.
    conn.transaction(|conn| {
        let total = matching().count().get_result(conn)?;
        let users = matching()
            .select(User::as_select())
            .order(user::id)
            .limit(page.per_page)
            .offset(page.offset())
            .load(conn)?;
        Ok(page.of(users, total))
    })
}
// ANCHOR_END: queries

/// `text` with LIKE's wildcards escaped, so they match themselves.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Gives user `id` a new username and/or password hash, and
/// returns the user as it is now, or `None` if there is no such user. A
/// new password ends the user's sessions.
pub fn update_user(
    conn: &mut SqliteConnection,
    id: i64,
    username: Option<&str>,
    password: Option<&PasswordHash>,
) -> Result<Option<User>, Error> {
    let new_password = password.is_some();
    let changes = (
        username.map(|name| {
            (
                user::username.eq(name),
                user::username_key.eq(name_key(name)),
            )
        }),
        password.map(|hash| user::password.eq(hash.0.as_str())),
    );
    conn.transaction(|conn| {
        let updated = diesel::update(user::table.find(id))
            .set(changes)
            .returning(User::as_returning())
            .get_result(conn)
            .optional()?;
        // A new password ends every session the old one started.
        if new_password {
            diesel::delete(session::table.filter(session::user_id.eq(id))).execute(conn)?;
        }
        Ok(updated)
    })
}

/// `db.session.delete(user)`: how many rows went (0 or 1). With foreign keys
/// on, a user who still has posts cannot go: that is a ForeignKeyViolation.
pub fn delete_user(conn: &mut SqliteConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(user::table.find(id)).execute(conn)
}

/// A post with its author's username, as pages and JSON show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostWithAuthor {
    #[serde(flatten)]
    pub post: Post,
    pub author: String,
}

/// A row of the join, `(post, author's username)`, as a post with its author.
impl From<(Post, String)> for PostWithAuthor {
    fn from((post, author): (Post, String)) -> PostWithAuthor {
        PostWithAuthor { post, author }
    }
}

// ANCHOR: posts_page
/// Posts with their authors, newest first, one page of them: a join, an
/// ORDER BY, a LIMIT and an OFFSET, and a count for the total. Rows are
/// read one by one, so a row that cannot be read (a malformed `created`)
/// comes back as an error beside the others instead of failing the page.
pub fn posts_page(
    conn: &mut SqliteConnection,
    page: Page,
) -> QueryResult<(Paginated<PostWithAuthor>, Vec<diesel::result::Error>)> {
    // One read transaction: the page never disagrees with its own total.
    conn.transaction(|conn| {
        let total = post::table.count().get_result(conn)?;
        let rows = post::table
            .inner_join(user::table)
            .select((Post::as_select(), user::username))
            .order((post::created.desc(), post::id.desc()))
            .limit(page.per_page)
            .offset(page.offset())
            .load_iter::<(Post, String), DefaultLoadingMode>(conn)?;
        let (rows, unreadable) = readable(rows);
        let posts = rows.into_iter().map(PostWithAuthor::from);
        Ok((page.of(posts.collect(), total), unreadable))
    })
}

/// The rows that could be read, and the errors of those that could not.
fn readable<T>(rows: impl Iterator<Item = QueryResult<T>>) -> (Vec<T>, Vec<DieselError>) {
    let (mut read, mut unreadable) = (Vec::new(), Vec::new());
    for row in rows {
        match row {
            Ok(row) => read.push(row),
            Err(err) => unreadable.push(err),
        }
    }
    (read, unreadable)
}
// ANCHOR_END: posts_page

// ANCHOR: posts_before
/// The keyset way to a page, for a client that walks a long list: the
/// `per_page` posts that come after post `before`, newest first. The index
/// on `(created, id)` finds them however deep they are, where an `OFFSET`
/// walks past every row before the page.
pub fn posts_before(
    conn: &mut SqliteConnection,
    before: i64,
    per_page: i64,
) -> QueryResult<(Keyset<PostWithAuthor>, Vec<DieselError>)> {
    conn.transaction(|conn| {
        // The cursor is post `before`, or, if it was deleted meanwhile, the
        // post written just before it, where the page then starts. diesel
        // has no row-value comparison, so this is SQL, with placeholders.
        let after_cursor = sql::<Bool>(
            "(post.created, post.id) <= (SELECT created, id FROM post AS cursor \
             WHERE cursor.id <= ",
        )
        .bind::<BigInt, _>(before)
        .sql(" ORDER BY cursor.id DESC LIMIT 1) AND post.id <> ")
        .bind::<BigInt, _>(before);
        // The ids first, and one more than a page to know if another follows:
        // an id can always be read, even where a row's `created` cannot.
        let mut ids: Vec<i64> = post::table
            .filter(after_cursor)
            .select(post::id)
            .order((post::created.desc(), post::id.desc()))
            .limit(per_page.saturating_add(1))
            .load(conn)?;
        let next_before = (ids.len() as i64 > per_page).then(|| ids[per_page as usize - 1]);
        ids.truncate(per_page as usize);
        let rows = post::table
            .inner_join(user::table)
            .filter(post::id.eq_any(&ids))
            .select((Post::as_select(), user::username))
            .order((post::created.desc(), post::id.desc()))
            .load_iter::<(Post, String), DefaultLoadingMode>(conn)?;
        let (rows, unreadable) = readable(rows);
        let items = rows.into_iter().map(PostWithAuthor::from);
        let page = Keyset {
            items: items.collect(),
            per_page,
            next_before,
        };
        Ok((page, unreadable))
    })
}
// ANCHOR_END: posts_before

/// One post with its author, if it exists.
pub fn find_post(conn: &mut SqliteConnection, id: i64) -> QueryResult<Option<PostWithAuthor>> {
    let row: Option<(Post, String)> = post::table
        .inner_join(user::table)
        .filter(post::id.eq(id))
        .select((Post::as_select(), user::username))
        .first(conn)
        .optional()
        .or_else(|err| match err {
            // Left out, as on the index: logged, and not shown.
            DieselError::DeserializationError(why) => {
                tracing::warn!("left post {id} out: {why}");
                Ok(None)
            }
            other => Err(other),
        })?;
    Ok(row.map(PostWithAuthor::from))
}

/// Adds a post and returns its id. An `author_id` with no user behind it is
/// a ForeignKeyViolation, since the pool turns foreign keys on.
pub fn create_post(conn: &mut SqliteConnection, new_post: &NewPost<'_>) -> QueryResult<i64> {
    diesel::insert_into(post::table)
        .values(new_post)
        .returning(post::id)
        .get_result(conn)
}

/// Applies `changes` to post `id`; `false` if there is no such post.
pub fn update_post(
    conn: &mut SqliteConnection,
    id: i64,
    changes: &PostChanges,
) -> QueryResult<bool> {
    let rows = diesel::update(post::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(rows == 1)
}

/// Deletes post `id`; `false` if there was no such post.
pub fn delete_post(conn: &mut SqliteConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(post::table.find(id)).execute(conn)? == 1)
}

/// `SELECT count(*) FROM user` through the ORM: proves the database answers
/// and holds the table. The "It works." check.
pub fn check(conn: &mut SqliteConnection) -> QueryResult<()> {
    count_users(conn).map(|_| ())
}

/// The stored password hash of `username`, with the user, for logging in:
/// found by the name's key, however the name is capitalised.
pub fn user_for_login(
    conn: &mut SqliteConnection,
    username: &str,
) -> QueryResult<Option<(User, String)>> {
    user::table
        .filter(user::username_key.eq(name_key(username)))
        .select((User::as_select(), user::password))
        .first(conn)
        .optional()
}

// --- What a user or a post may hold ----------------------------------------------------

/// `Ok(None)` for a write that broke a UNIQUE rule; any other error stays one.
pub fn unique<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Err(Error::Diesel(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
            Ok(None)
        }
        other => other.map(Some),
    }
}

/// `Ok(None)` for a write that a FOREIGN KEY rule refused (a post for a user
/// who does not exist, a user who still has posts); any other error stays one.
pub fn foreign_key<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Err(Error::Diesel(DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            _,
        ))) => Ok(None),
        other => other.map(Some),
    }
}

/// What is wrong with a username or password, and which field it is.
pub fn user_problem(
    username: Option<&str>,
    password: Option<&str>,
) -> Option<(&'static str, String)> {
    let username = username.and_then(|name| name_problem("username", name, MAX_NAME_CHARS));
    let password = password.and_then(|word| text_problem("password", word, usize::MAX, false));
    username
        .map(|problem| ("username", problem))
        .or(password.map(|problem| ("password", problem)))
}

/// What is wrong with a post's title or body, and which field it is.
pub fn post_problem(title: Option<&str>, body: Option<&str>) -> Option<(&'static str, String)> {
    let title = title.and_then(|title| text_problem("title", title, MAX_TITLE_CHARS, false));
    let body = body.and_then(|body| text_problem("body", body, MAX_BODY_CHARS, true));
    title
        .map(|problem| ("title", problem))
        .or(body.map(|problem| ("body", problem)))
}
