//! The check steps 4 to 7 share for the posts API's two ways of paging: by
//! `page` (an `OFFSET`) and by keyset (`?before=ID`).

use serde_json::Value;

use crate::{HttpClient, log_in};

const POSTS: usize = 25;
const PER_PAGE: usize = 10;

/// On a served step with an empty database: adds a user and [`POSTS`] posts
/// through the API (made within a second or two, so many share one `created`
/// and only the id orders them), then walks them by `before`. The walk must
/// give every post once, in the order `per_page=100` gives them, even with a
/// post written half-way and the cursor post deleted; each bad `before`
/// (and each query in `refused`) must be a 400 that names `before`.
pub fn keyset_walks_every_post_once(address: &str, refused: &[&str]) {
    let mut client = HttpClient::connect(address).expect("the server listens");
    let user = r#"{"username":"walker","password":"pw"}"#;
    let (status, answer) = client.send("POST", "/api/users", Some(user)).unwrap();
    assert_eq!(status, 201, "{answer}");
    let cookie = log_in(address, "walker", "pw");
    let mut client = HttpClient::connect(address).unwrap().with_cookie(&cookie);
    let mut write = |method: &str, path: &str, title: &str| {
        let body = format!(r#"{{"author_id":1,"title":"{title}","body":"walked"}}"#);
        let (status, answer) = client.send(method, path, Some(&body)).unwrap();
        assert!(status == 201 || status == 204, "{method} {path}: {answer}");
    };
    for n in 1..=POSTS {
        write("POST", "/api/posts", &format!("Post {n}"));
    }
    let everything = ids(&get(address, "/api/posts?per_page=100")["items"]);
    assert_eq!(everything.len(), POSTS);

    let first = get(address, &format!("/api/posts?per_page={PER_PAGE}"));
    let mut walked = ids(&first["items"]);
    let mut before = *walked.last().expect("a first page");
    write("POST", "/api/posts", "Written while the walk went on");
    // The cursor post (already seen) is deleted: the walk goes on below it.
    write("DELETE", &format!("/api/posts/{before}"), "");
    loop {
        let page = get(
            address,
            &format!("/api/posts?before={before}&per_page={PER_PAGE}"),
        );
        assert_eq!(
            page.get("total"),
            None,
            "a keyset page has no total: {page}"
        );
        assert_eq!(page["unreadable"], 0, "{page}");
        let items = ids(&page["items"]);
        walked.extend(&items);
        match page["next_before"].as_i64() {
            Some(next) => {
                assert_eq!(Some(&next), items.last(), "next_before is the last id");
                assert_eq!(items.len(), PER_PAGE, "only a full page has a next");
                before = next;
            }
            None => break,
        }
    }
    assert_eq!(
        walked, everything,
        "every post once, in order, none shifted"
    );

    let last = everything.last().unwrap();
    let end = get(address, &format!("/api/posts?before={last}"));
    assert_eq!(
        (&end["items"], &end["next_before"]),
        (&Value::Array(vec![]), &Value::Null)
    );

    let beyond = get(address, "/api/posts?before=99999&per_page=1");
    let newest = everything[0] + 1; // the post written during the walk
    assert_eq!(
        beyond["items"][0]["id"], newest,
        "from the newest: {beyond}"
    );

    let bad = ["before=abc", "before=0", "before=-3", "before=5&page=2"];
    for query in bad.iter().chain(refused) {
        let uri = format!("/api/posts?{query}");
        let (status, answer) = HttpClient::connect(address)
            .unwrap()
            .send("GET", &uri, None)
            .unwrap();
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(
            (status, &answer["field"]),
            (400, &Value::from("before")),
            "{uri}: {answer}"
        );
    }
}

fn get(address: &str, uri: &str) -> Value {
    let (status, answer) = HttpClient::connect(address)
        .unwrap()
        .send("GET", uri, None)
        .unwrap();
    assert_eq!(status, 200, "{uri}: {answer}");
    serde_json::from_str(&answer).unwrap()
}

fn ids(items: &Value) -> Vec<i64> {
    let items = items.as_array().expect("items");
    items
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}
