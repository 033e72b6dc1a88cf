//! A real browser for the web front end's tests: Debian's `chromium`,
//! headless, driven over WebDriver by `chromedriver` (both from the
//! packages `chromium` and `chromium-driver`, which `cargo xtask test`
//! installs). Each test gets a browser of its own; screenshots of each
//! step are kept under `target/screenshots/<test>/` as artifacts, and each
//! page screenshotted is first held to axe-core's WCAG 2.1 A and AA rules
//! (axe-core from npm, which `cargo xtask test` installs too).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::process::{Child, Command};

fn program(setting: &str, installed: &str) -> PathBuf {
    let path = std::env::var(setting).map_or_else(|_| PathBuf::from(installed), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found (nor {setting}): `cargo xtask test` installs the Debian packages \
         chromium and chromium-driver",
        path.display()
    );
    path
}

pub struct Browser {
    pub client: Client,
    _driver: Child,
    screenshots: PathBuf,
    step: u32,
    /// axe-core's source, injected into the pages it checks.
    axe: String,
}

/// The rules a page is held to: WCAG 2.1, levels A and AA. Answers how
/// many rules passed (none would mean nothing was checked) and what broke.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
  .then(result => done({
    passed: result.passes.length,
    violations: result.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join(", ")}`),
  }))
  .catch(error => done({ passed: 0, violations: [`axe failed: ${error}`] }));
"#;

/// What axe-core found on a page.
#[derive(serde::Deserialize)]
pub struct Findings {
    pub passed: u32,
    pub violations: Vec<String>,
}

impl Browser {
    /// A new headless browser, `width` × `height` CSS pixels, whose
    /// screenshots go to `target/screenshots/<name>/`.
    pub async fn start(name: &str, width: u32, height: u32) -> Self {
        let chromium = program("HMS_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("HMS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = hms_test_support::ports::reserve();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={}", port.port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{}", port.port());
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-extensions",
                    "--lang=nb-NO",
                    format!("--window-size={width},{height}"),
                ],
                "prefs": { "intl.accept_languages": "nb-NO,nb,en" }
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "no browser session from chromedriver: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        drop(port);
        let axe = program(
            "HMS_TEST_AXE",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../.hms/tools/node_modules/axe-core/axe.min.js"
            ),
        );
        let axe = std::fs::read_to_string(&axe).expect("axe-core's source");
        let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/screenshots")
            .join(name);
        let _ = std::fs::remove_dir_all(&screenshots);
        std::fs::create_dir_all(&screenshots).expect("a folder for screenshots");
        Self {
            client,
            _driver: driver,
            screenshots,
            step: 0,
            axe,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// Holds the page to WCAG 2.1 A and AA as axe-core checks it, then
    /// keeps a screenshot of it, numbered in order.
    pub async fn screenshot(&mut self, what: &str) {
        self.assert_accessible(what).await;
        self.step += 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(
            self.screenshots
                .join(format!("{:02}-{what}.png", self.step)),
            png,
        )
        .expect("the screenshot is kept");
    }

    /// What axe-core finds on the page as it is now.
    pub async fn accessibility(&self) -> Findings {
        self.client
            .execute(&self.axe, Vec::new())
            .await
            .expect("axe-core loads into the page");
        let findings = self
            .client
            .execute_async(AXE_RUN, Vec::new())
            .await
            .expect("axe-core checks the page");
        serde_json::from_value(findings).expect("axe-core's findings")
    }

    /// Fails on any violation axe-core finds of WCAG 2.1 A and AA.
    pub async fn assert_accessible(&self, what: &str) {
        let findings = self.accessibility().await;
        assert!(findings.passed > 10, "{what}: axe-core checked nothing");
        assert!(
            findings.violations.is_empty(),
            "{what}: the page breaks WCAG 2.1 A/AA:\n{}",
            findings.violations.join("\n")
        );
    }

    /// The element, waiting for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css} on the page: {error}"))
    }

    /// How many elements `css` names now.
    pub async fn find_all(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("a search of the page")
            .len()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("its text")
    }

    /// The page's HTML as the browser has it.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page's source")
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the page's address")
            .path()
            .to_owned()
    }

    /// Clicks what `css` names (a link or a form's button) and waits until
    /// the next page has replaced this one.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.navigate_by(element).await;
    }

    pub async fn click_xpath(&self, xpath: &str) {
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|error| panic!("no {xpath} on the page: {error}"));
        self.navigate_by(element).await;
    }

    /// Clicks, then waits for this page's document to go stale: a click
    /// does not wait for the navigation it starts.
    async fn navigate_by(&self, element: fantoccini::elements::Element) {
        let page = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("the page");
        element.click().await.expect("a click");
        let deadline = Instant::now() + Duration::from_secs(15);
        while page.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "the click led to no new page");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Logs in at the BankID simulator as the test person with this number,
    /// from a page with the login link; returns once back and logged in.
    pub async fn login_as(&self, national_id: &str) {
        self.click("#login").await;
        self.click_xpath(&format!(
            "//button[@name='person' and contains(., '{national_id}')]"
        ))
        .await;
        self.find("#person").await;
    }

    /// Clicks what stays on the page: a checkbox, a radio button.
    pub async fn tick(&self, css: &str) {
        self.find(css).await.click().await.expect("a click");
    }

    /// Types into a field, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clearing");
        field.send_keys(text).await.expect("typing");
    }

    /// A cookie the browser holds for the current page's site.
    pub async fn cookie(&self, name: &str) -> String {
        self.client
            .get_named_cookie(name)
            .await
            .unwrap_or_else(|error| panic!("no cookie {name}: {error}"))
            .value()
            .to_owned()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
