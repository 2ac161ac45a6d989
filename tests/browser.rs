//! The web steps in a real browser: headless Chromium, driven through
//! chromedriver by fantoccini, uses step 5's blog as a person would, and
//! then reads the built book, chapter by chapter.
//!
//! It needs Debian's `chromium` and `chromium-driver`. Where they are
//! missing, it says so in one line and passes, so that `cargo test
//! --workspace` runs everywhere; `.ci/run` installs them and sets
//! `BROWSER_TEST=required`, which turns that line into a failure. It takes a
//! screenshot of every page it visits, for a person to look at, into the
//! folder it prints.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use step05_relationships::{Config, create_app, db};
use testkit::workspace_root;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Flags for a root user in a sandbox with no network but loopback: no
/// Chrome sandbox, no GPU, and none of Chromium's calls home.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_writes_a_post_and_reads_the_book() {
    if !browser_is_installed() {
        return;
    }
    let folder = tempfile::tempdir().expect("a temporary folder");
    let screenshots = Screenshots::new();
    let address = serve_step05(&folder.path().join("step05.sqlite")).await;
    let mut driver = Chromedriver::start(folder.path());
    let browser = driver.connect(folder.path()).await;
    let outcome = async {
        use_the_blog(&browser, &screenshots, address).await;
        read_the_book(&browser, &screenshots).await;
    };
    outcome.await;
    browser.close().await.expect("the browser closes");
    driver.stop();
    say(&format!(
        "browser test screenshots: {}",
        screenshots.folder.display()
    ));
}

/// True if Chromium and chromedriver are there; if not, says so in one line,
/// or fails when `BROWSER_TEST=required`.
fn browser_is_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "browser test skipped: {} missing (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    assert!(
        std::env::var("BROWSER_TEST").as_deref() != Ok("required"),
        "{message}, and BROWSER_TEST=required"
    );
    say(&message);
    false
}

/// One line on the terminal, past the test harness's capture of `eprintln!`
/// (which would keep it hidden while the test passes).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Step 5's app on a fresh database, served on a free port of 127.0.0.1.
async fn serve_step05(path: &Path) -> SocketAddr {
    db::init_db(path).expect("step 5's tables");
    let app = create_app(Config::testing(path.to_path_buf())).expect("step 5's app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("the address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A chromedriver process on a free port, stopped when the test ends.
struct Chromedriver {
    process: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts chromedriver and reads its port from the line it prints once
    /// it listens (so there is nothing to wait or poll for).
    fn start(folder: &Path) -> Chromedriver {
        let mut process = Command::new(CHROMEDRIVER)
            .args([
                "--port=0",
                &format!("--log-path={}", folder.join("chromedriver.log").display()),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let stdout = process.stdout.take().expect("its output");
        let port = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = line.split_once("started successfully on port ")?.1;
                rest.trim_end_matches('.').parse().ok()
            })
            .expect("chromedriver says which port it listens on");
        Chromedriver { process, port }
    }

    /// A new headless Chromium, with a profile of its own in `folder`.
    async fn connect(&self, folder: &Path) -> Client {
        let profile = format!("--user-data-dir={}", folder.join("chromium").display());
        let mut args: Vec<&str> = CHROMIUM_FLAGS.to_vec();
        args.push(&profile);
        let options = json!({ "binary": CHROMIUM, "args": args });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver starts a browser")
    }

    fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Numbered screenshots in `target/tmp/browser-screenshots`, emptied first.
struct Screenshots {
    folder: PathBuf,
    taken: std::sync::atomic::AtomicUsize,
}

impl Screenshots {
    fn new() -> Screenshots {
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("the screenshot folder");
        Screenshots {
            folder,
            taken: 0.into(),
        }
    }

    async fn take(&self, browser: &Client, name: &str) {
        let number = self.taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let png = browser.screenshot().await.expect("a screenshot");
        let file = self.folder.join(format!("{number:02}-{name}.png"));
        std::fs::write(&file, png).expect("the screenshot is written");
    }
}

/// Finds the form field `name` and types `text` into it, replacing its value.
async fn fill(browser: &Client, name: &str, text: &str) {
    let field = browser
        .find(Locator::Css(&format!("[name='{name}']")))
        .await
        .unwrap_or_else(|err| panic!("no field {name}: {err}"));
    field.clear().await.expect("the field clears");
    field.send_keys(text).await.expect("typing");
}

async fn submit(browser: &Client) {
    let button = browser
        .find(Locator::Css("main form button[type='submit']"))
        .await
        .expect("a submit button");
    follow(browser, button).await;
}

/// Clicks `element` and waits, for up to 10 s, until the page it was on is
/// gone: `click` can return before the next page arrives, and a redirect
/// may land on the same address (logging out, on the index, lands on the
/// index). The old page's root element going stale says it has left.
async fn follow(browser: &Client, element: fantoccini::elements::Element) {
    let old_page = browser.find(Locator::Css("html")).await.expect("a page");
    element.click().await.expect("the click");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while old_page.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the click led nowhere within 10 s"
        );
    }
}

/// Finds the link with this text and follows it.
async fn follow_link(browser: &Client, text: &str) {
    let link = browser
        .find(Locator::LinkText(text))
        .await
        .unwrap_or_else(|err| panic!("no link {text:?}: {err}"));
    follow(browser, link).await;
}

async fn path_now(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .expect("the URL")
        .path()
        .to_string()
}

async fn text_of(browser: &Client, css: &str) -> String {
    let element = browser.find(Locator::Css(css)).await;
    let element = element.unwrap_or_else(|err| panic!("no {css}: {err}"));
    element.text().await.expect("its text")
}

/// Registers, logs in, writes a post, edits it and logs out, checking what
/// a person would see at each step.
async fn use_the_blog(browser: &Client, shots: &Screenshots, address: SocketAddr) {
    let site = format!("http://{address}");
    browser.goto(&format!("{site}/")).await.expect("the index");
    assert!(text_of(browser, "main").await.contains("No posts yet."));
    shots.take(browser, "index-empty").await;

    follow_link(browser, "Register").await;
    fill(browser, "username", "ada").await;
    fill(browser, "password", "correct horse battery staple").await;
    shots.take(browser, "register").await;
    submit(browser).await;
    assert_eq!(
        path_now(browser).await,
        "/auth/login",
        "registered, then asked to log in"
    );

    fill(browser, "username", "ada").await;
    fill(browser, "password", "correct horse battery staple").await;
    shots.take(browser, "login").await;
    submit(browser).await;
    assert_eq!(path_now(browser).await, "/");
    assert_eq!(
        text_of(browser, "nav .who").await,
        "ada",
        "logged in as ada"
    );

    follow_link(browser, "New post").await;
    fill(browser, "title", "Hello from Chromium").await;
    fill(browser, "body", "Typed by a real browser.").await;
    shots.take(browser, "create").await;
    submit(browser).await;
    assert_eq!(path_now(browser).await, "/");
    assert_eq!(text_of(browser, "article h2").await, "Hello from Chromium");
    assert!(
        text_of(browser, "article .about")
            .await
            .starts_with("by ada on ")
    );
    shots.take(browser, "index-with-post").await;

    let edit = browser
        .find(Locator::Css("a.edit"))
        .await
        .expect("an Edit link");
    let update_url = edit.attr("href").await.expect("its href").expect("a link");
    follow(browser, edit).await;
    fill(browser, "title", "Hello again").await;
    shots.take(browser, "update").await;
    submit(browser).await;
    assert_eq!(text_of(browser, "article h2").await, "Hello again");
    shots.take(browser, "index-edited").await;

    // Logging out is a form (a POST), not a link.
    let log_out = browser.find(Locator::Css("nav form button")).await;
    follow(browser, log_out.expect("a Log Out button")).await;
    assert_eq!(text_of(browser, "nav .who").await, "Register", "logged out");
    let edit_links = browser
        .find_all(Locator::Css("a.edit"))
        .await
        .expect("a search");
    assert!(edit_links.is_empty(), "no Edit link once logged out");
    shots.take(browser, "index-logged-out").await;

    browser
        .goto(&format!("{site}{update_url}"))
        .await
        .expect("the update page");
    assert_eq!(
        path_now(browser).await,
        "/auth/login",
        "the update page sends a stranger to log in"
    );
    shots.take(browser, "update-logged-out").await;
}

/// The address of every image on the page that did not load.
const BROKEN_IMAGES: &str = "return Array.from(document.images)
    .filter((image) => !image.complete || image.naturalWidth === 0)
    .map((image) => image.src);";

/// Opens the built book's first page and follows every chapter link in its
/// table of contents, checking that each lands on a page with a heading.
async fn read_the_book(browser: &Client, shots: &Screenshots) {
    let index = workspace_root().join("book/book/index.html");
    if !index.is_file() {
        let message = "the book's pages were skipped: build the book first (mdbook build book)";
        assert!(
            std::env::var("BROWSER_TEST").as_deref() != Ok("required"),
            "{message}"
        );
        say(message);
        return;
    }
    let start = format!("file://{}", index.display());
    browser.goto(&start).await.expect("the book");
    let chapters = chapter_links(browser).await;
    assert!(
        chapters.len() >= 8,
        "the contents list every chapter: {chapters:?}"
    );
    for href in &chapters {
        browser.goto(&start).await.expect("the book");
        let link = browser
            .find(Locator::Css(&format!(
                "#mdbook-sidebar .chapter a[href='{href}']"
            )))
            .await
            .unwrap_or_else(|err| panic!("the contents lose {href}: {err}"));
        follow(browser, link).await;
        let url = browser.current_url().await.expect("the URL");
        assert!(url.as_str().ends_with(href.as_str()), "{href} opened {url}");
        let heading = text_of(browser, "main h1").await;
        assert!(!heading.is_empty(), "{href} has a title");
        let broken = browser
            .execute(BROKEN_IMAGES, Vec::new())
            .await
            .expect("the images are listed");
        assert_eq!(
            broken,
            json!([]),
            "{href} shows every image (the charts too)"
        );
        let name = href.trim_end_matches(".html").replace('/', "-");
        shots.take(browser, &format!("book-{name}")).await;
    }
    solutions_stay_hidden_until_opened(browser, shots, &start).await;
}

/// An exercise's solution is in the page, folded away: it shows only when
/// the reader opens it.
async fn solutions_stay_hidden_until_opened(browser: &Client, shots: &Screenshots, start: &str) {
    let chapter = start.replace(
        "index.html",
        "step01-raw-sqlite.html#11-a-delete-that-refuses-to-delete-nothing",
    );
    browser.goto(&chapter).await.expect("chapter 1's exercises");
    let solution = browser
        .find(Locator::Css("details pre"))
        .await
        .expect("a folded solution");
    assert!(
        !solution.is_displayed().await.expect("visibility"),
        "a solution shows unasked"
    );
    let summary = browser
        .find(Locator::Css("details summary"))
        .await
        .expect("the solution's summary");
    browser
        .execute("arguments[0].scrollIntoView();", vec![json!(summary)])
        .await
        .expect("scrolled");
    summary.click().await.expect("the click");
    assert!(
        solution.is_displayed().await.expect("visibility"),
        "an opened solution stays hidden"
    );
    shots.take(browser, "book-solution-opened").await;
}

/// The `href` of every link in the book's table of contents, in order.
async fn chapter_links(browser: &Client) -> Vec<String> {
    let mut hrefs = Vec::new();
    let links = browser
        .find_all(Locator::Css("#mdbook-sidebar .chapter a[href]"))
        .await
        .expect("the contents");
    for link in links {
        // The contents also list the open chapter's headings (`#...`).
        match link.attr("href").await.expect("an href") {
            Some(href) if href.ends_with(".html") => hrefs.push(href),
            _ => {}
        }
    }
    hrefs
}
