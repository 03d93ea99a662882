//! Signing in to the agent UI from a test, without a browser: the login form's CSRF cookie and
//! token, the session cookie, and the signed-in session's CSRF token.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;

use reqwest::header::{HeaderMap, SET_COOKIE};

/// A signed-in session: the `Cookie` header to send and the CSRF token of its forms.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

fn keep(h: &HeaderMap, jar: &mut HashMap<String, String>) {
    for v in h.get_all(SET_COOKIE) {
        let kv = v.to_str().unwrap().split(';').next().unwrap();
        let (k, v) = kv.split_once('=').unwrap();
        jar.insert(k.to_owned(), v.to_owned());
    }
}

/// The value of the hidden form field `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let rest = &html[html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Signs in at `base` (the client must not follow redirects).
pub async fn sign_in(http: &reqwest::Client, base: &str, email: &str, password: &str) -> Session {
    let header =
        |jar: &HashMap<String, String>| jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let mut jar = HashMap::new();
    let r = http.get(format!("{base}/login")).send().await.unwrap();
    keep(r.headers(), &mut jar);
    let csrf = hidden(&r.text().await.unwrap(), "_csrf");
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", header(&jar))
        .header("origin", base)
        .form(&[("email", email), ("password", password), ("_csrf", &csrf), ("next", "/inbox")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "signed in");
    keep(r.headers(), &mut jar);
    let cookie = header(&jar);
    let page = http.get(format!("{base}/settings")).header("cookie", &cookie).send().await.unwrap();
    let csrf = hidden(&page.text().await.unwrap(), "_csrf");
    Session { cookie, csrf }
}
