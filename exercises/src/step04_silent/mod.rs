//! Chapter 4: the users who never posted, through diesel.
//!
//! `users_without_posts` lists the users who have written no post, in id
//! order, in one query. The starting point lists every user. diesel's
//! `left_join` and a filter on the post's id being NULL give it, as a
//! `LEFT JOIN ... WHERE post.id IS NULL` would in SQL.

use diesel::SqliteConnection;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use step04_orm::db::{self, Database};
use step04_orm::models::{self, NewPost, User};

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step04-silent",
    chapter: "step04-orm.md",
    task: "the users who never posted, with a left join",
    edit: "exercises/src/step04_silent/exercise.rs",
    run: |version| {
        let answer: UsersWithoutPosts =
            version.pick(exercise::users_without_posts, solution::users_without_posts);
        crate::run_checks(&CHECKS, answer)
    },
};

type Pooled = PooledConnection<ConnectionManager<SqliteConnection>>;

/// What `users_without_posts` must be.
type UsersWithoutPosts = fn(&mut SqliteConnection) -> diesel::QueryResult<Vec<User>>;

const CHECKS: [Check<UsersWithoutPosts>; 2] = [
    (
        "lists the users without posts, in id order",
        lists_silent_users,
    ),
    ("lists every user of a blog with no posts", empty_blog),
];

/// Step 4's tables with users and how many posts each wrote.
fn blog(users: &[(&str, usize)]) -> (tempfile::TempDir, Pooled) {
    let folder = crate::scratch();
    let path = folder.path().join("step04.sqlite");
    db::init_db(&path).expect("step 4's tables");
    let mut conn = Database::new(path)
        .and_then(|database| database.connect())
        .expect("a connection");
    for (username, posts) in users {
        let user = models::create_user(&mut conn, username, "a password").expect("a user");
        for number in 0..*posts {
            let title = format!("Post {number}");
            let post = NewPost {
                author_id: user.id,
                title: &title,
                body: "...",
            };
            models::create_post(&mut conn, &post).expect("a post");
        }
    }
    (folder, conn)
}

fn names(users_without_posts: UsersWithoutPosts, conn: &mut SqliteConnection) -> Vec<String> {
    let users = users_without_posts(conn).unwrap_or_else(|err| panic!("the query failed: {err}"));
    users.into_iter().map(|user| user.username).collect()
}

fn lists_silent_users(users_without_posts: UsersWithoutPosts) {
    let (_folder, mut conn) = blog(&[("ada", 2), ("linus", 0), ("grace", 1), ("bob", 0)]);
    assert_eq!(names(users_without_posts, &mut conn), ["linus", "bob"]);
}

fn empty_blog(users_without_posts: UsersWithoutPosts) {
    let (_folder, mut conn) = blog(&[("ada", 0), ("grace", 0)]);
    assert_eq!(names(users_without_posts, &mut conn), ["ada", "grace"]);
}
