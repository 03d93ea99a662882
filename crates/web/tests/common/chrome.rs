//! Headless Debian `chromium` driven through `chromedriver` (WebDriver, fantoccini), for the
//! browser tests. Needs `chromium` and `chromium-driver` (scripts/test.sh installs them).
//! Screenshots go to `target/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use tokio::net::TcpListener;

/// Kills chromedriver (and with it the browser) when the test ends, even on failure.
pub struct Driver {
    child: Child,
    /// The WebDriver port.
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_chromedriver() -> PathBuf {
    for p in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("chromedriver not found: install chromium and chromium-driver (scripts/test.sh does)");
}

async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// Starts chromedriver on a free port.
pub async fn start_driver() -> Driver {
    let port = free_port().await;
    let child = Command::new(find_chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// A headless browser session with its own profile, `lang` as its language and a window of
/// `size` (width, height).
pub async fn open(driver: &Driver, profile: &Path, lang: &str, size: (u32, u32)) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", format!("--window-size={},{}", size.0, size.1), format!("--lang={lang}"),
                     format!("--user-data-dir={}", profile.display())],
            "prefs": {"intl": {"accept_languages": lang}}
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap()
}

/// chromedriver and one English browser with a laptop-sized window.
pub async fn start_browser(profile: &Path) -> (Driver, Client) {
    let driver = start_driver().await;
    let client = open(&driver, profile, "en-US", (1280, 900)).await;
    (driver, client)
}

/// Polls `script` (which returns a string) until `pred` holds; panics with the page after 30 s.
pub async fn wait_until(c: &Client, what: &str, script: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        let s = v.as_str().unwrap_or("").to_owned();
        if pred(&s) {
            return s;
        }
        if Instant::now() > deadline {
            let src = c.source().await.unwrap_or_default();
            let end = src.char_indices().nth(4000).map_or(src.len(), |(i, _)| i);
            panic!("timed out waiting for {what}; last value {s:?}\npage:\n{}", &src[..end]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A script returning the text of the first element matching `selector` ('' when none).
pub fn text_of(selector: &str) -> String {
    format!("var e = document.querySelector({selector:?}); return e ? e.textContent : '';")
}

/// `target/screenshots/`, the tests' artefacts.
pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the page as `target/screenshots/{name}`.
pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}
