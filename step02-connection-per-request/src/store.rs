//! The queries the routes need, behind one trait with two implementations:
//! rusqlite on this request's own connection, and sqlx on a connection
//! checked out of a pool. The routes are written once, against the trait.

use std::future::Future;

use serde::Serialize;

use crate::db::RequestDb;
use crate::error::AppError;
use crate::pool::PooledDb;

pub const CREATE_USERS: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        name  TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE
    )";
const CHECK: &str = "SELECT 1";
const COUNT_USERS: &str = "SELECT count(*) FROM users";
const LIST_USERS: &str = "SELECT id, name, email FROM users ORDER BY id LIMIT ?";
const FIND_USER: &str = "SELECT id, name, email FROM users WHERE id = ?";
const INSERT_USER: &str = "INSERT INTO users (name, email) VALUES (?, ?)";

/// One row of `users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// What an insert did: a new id, or nothing because the email is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Id(i64),
    EmailTaken,
}

// ANCHOR: store
/// The database work the routes do, whichever way the connection was had.
pub trait UserStore: Send {
    /// Runs `SELECT 1`: proves the database answers.
    fn check(&mut self) -> impl Future<Output = Result<(), AppError>> + Send;
    fn count_users(&mut self) -> impl Future<Output = Result<i64, AppError>> + Send;
    /// The first `limit` users, oldest first.
    fn list_users(
        &mut self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<User>, AppError>> + Send;
    fn find_user(&mut self, id: i64)
    -> impl Future<Output = Result<Option<User>, AppError>> + Send;
    fn insert_user(
        &mut self,
        name: String,
        email: String,
    ) -> impl Future<Output = Result<Inserted, AppError>> + Send;
}
// ANCHOR_END: store

// ANCHOR: store_rusqlite
impl UserStore for RequestDb {
    async fn check(&mut self) -> Result<(), AppError> {
        self.run(|conn| conn.query_row(CHECK, (), |_| Ok(()))).await
    }

    async fn count_users(&mut self) -> Result<i64, AppError> {
        self.run(|conn| conn.query_row(COUNT_USERS, (), |row| row.get(0)))
            .await
    }

    async fn list_users(&mut self, limit: i64) -> Result<Vec<User>, AppError> {
        self.run(move |conn| {
            let mut statement = conn.prepare_cached(LIST_USERS)?;
            let users = statement.query_map((limit,), user_from_row)?;
            users.collect()
        })
        .await
    }

    async fn find_user(&mut self, id: i64) -> Result<Option<User>, AppError> {
        use rusqlite::OptionalExtension;
        self.run(move |conn| conn.query_row(FIND_USER, (id,), user_from_row).optional())
            .await
    }

    async fn insert_user(&mut self, name: String, email: String) -> Result<Inserted, AppError> {
        self.run(
            move |conn| match conn.execute(INSERT_USER, (&name, &email)) {
                Ok(_) => Ok(Inserted::Id(conn.last_insert_rowid())),
                Err(err) if is_unique_violation(&err) => Ok(Inserted::EmailTaken),
                Err(err) => Err(err),
            },
        )
        .await
    }
}

/// True for a broken UNIQUE rule (here: `email`), not for other constraints.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get("id")?,
        name: row.get("name")?,
        email: row.get("email")?,
    })
}
// ANCHOR_END: store_rusqlite

// ANCHOR: store_sqlx
impl UserStore for PooledDb {
    async fn check(&mut self) -> Result<(), AppError> {
        sqlx::query(CHECK).execute(&mut *self.0).await?;
        Ok(())
    }

    async fn count_users(&mut self) -> Result<i64, AppError> {
        Ok(sqlx::query_scalar(COUNT_USERS)
            .fetch_one(&mut *self.0)
            .await?)
    }

    async fn list_users(&mut self, limit: i64) -> Result<Vec<User>, AppError> {
        let query = sqlx::query_as(LIST_USERS).bind(limit);
        Ok(query.fetch_all(&mut *self.0).await?)
    }

    async fn find_user(&mut self, id: i64) -> Result<Option<User>, AppError> {
        let query = sqlx::query_as(FIND_USER).bind(id);
        Ok(query.fetch_optional(&mut *self.0).await?)
    }

    async fn insert_user(&mut self, name: String, email: String) -> Result<Inserted, AppError> {
        let query = sqlx::query(INSERT_USER).bind(name).bind(email);
        match query.execute(&mut *self.0).await {
            Ok(done) => Ok(Inserted::Id(done.last_insert_rowid())),
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                Ok(Inserted::EmailTaken)
            }
            Err(err) => Err(err.into()),
        }
    }
}
// ANCHOR_END: store_sqlx
