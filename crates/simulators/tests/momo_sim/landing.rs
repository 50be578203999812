//! The simulator's own page at `/`, for a person who opens the address a dev run prints.

use crate::helpers::{fast_config, spawn};

#[tokio::test]
async fn the_root_says_what_this_is_and_links_what_it_has_recorded() {
    let test = spawn(fast_config()).await;
    let res = reqwest::get(format!("{}/", test.base_url)).await.expect("request");
    assert_eq!(res.status(), 200, "not a blank 404");
    let content_type = res.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = res.text().await.expect("html");
    assert!(html.contains("<h1>MTN MoMo Disbursement API simulator</h1>"), "{html}");
    assert!(html.contains("No real money moves"), "{html}");
    for link in ["/sim/transfers", "/sim/callbacks", "/sim/statement.csv", "/sim/faults"] {
        assert!(html.contains(&format!("href=\"{link}\"")), "links {link}");
        let page = reqwest::get(format!("{}{link}", test.base_url)).await.expect("request");
        assert_eq!(page.status(), 200, "{link} answers");
    }
}
