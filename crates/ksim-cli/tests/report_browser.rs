//! The report in a real browser: headless Chromium opens a comparison's and
//! a single run's `report.html` and a check injected into a copy of the
//! page fails on a console error or uncaught exception, an image or plot
//! that did not render, a page wider than the window (broken layout) or any
//! resource fetched (the report must be self-contained).
//!
//! Without a `chromium` binary the test prints a SKIP line and passes,
//! unless KSIM_REQUIRE_CHROMIUM is set (`.ci/run` installs Chromium and
//! sets it).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Runs first, before the page's own content, to catch its errors.
const CATCH: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push('error: ' + (e.message || e.target.outerHTML)), true);
const __consoleError = console.error;
console.error = (...a) => { window.__errors.push('console: ' + a.join(' ')); __consoleError(...a); };
</script>"#;

/// Runs after the page loaded: writes the verdict into the DOM.
const VERDICT: &str = r#"<script>
window.addEventListener('load', () => {
  const problems = [...window.__errors];
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) problems.push('image not loaded: ' + img.src);
  }
  const plots = document.querySelectorAll('figure svg');
  if (plots.length === 0) problems.push('no plot');
  for (const svg of plots) {
    const box = svg.getBoundingClientRect();
    if (box.width < 200 || box.height < 100) problems.push('plot not laid out: ' + box.width + 'x' + box.height);
    if (svg.querySelectorAll('path, polyline, polygon, line').length === 0) problems.push('empty plot');
  }
  const table = document.querySelector('table');
  if (!table || table.rows.length < 2) problems.push('no comparison table');
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push('page wider than the window: ' + document.documentElement.scrollWidth);
  }
  const fetched = performance.getEntriesByType('resource').map(r => r.name);
  if (fetched.length > 0) problems.push('fetched: ' + fetched.join(' '));
  const out = document.createElement('pre');
  out.id = 'ksim-verdict';
  out.textContent = problems.length === 0 ? 'KSIM-REPORT-OK' : 'KSIM-REPORT-PROBLEMS ' + problems.join(' | ');
  document.body.appendChild(out);
});
</script>"#;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The verdict of the injected check on `report`, from the DOM Chromium dumps.
fn check_in_browser(browser: &str, report: &Path) {
    let html = std::fs::read_to_string(report).unwrap();
    assert!(!html.contains("<script"), "the report itself has no script");
    let checked = html
        .replacen("<head>", &format!("<head>\n{CATCH}"), 1)
        .replacen("</body>", &format!("{VERDICT}\n</body>"), 1);
    let page = report.with_file_name("report-checked.html");
    std::fs::write(&page, checked).unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    // The verdict element, not the script's text (which the DOM holds too).
    assert!(
        dom.contains("<pre id=\"ksim-verdict\">KSIM-REPORT-OK</pre>"),
        "{}: {}\nchromium stderr:\n{}",
        report.display(),
        dom.lines()
            .find(|l| l.contains("<pre id=\"ksim-verdict\">"))
            .unwrap_or("no verdict: the page did not load"),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reports_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("KSIM_REQUIRE_CHROMIUM").is_none(),
            "KSIM_REQUIRE_CHROMIUM is set but no chromium binary was found"
        );
        println!("SKIP reports_render_in_headless_chromium: no chromium binary (apt-get install chromium)");
        return;
    };
    let comparison = temp_dir("browser-compare");
    let out = ksim(&[
        "compare",
        &scenario_path("compare-small.toml"),
        "--out",
        comparison.to_str().unwrap(),
        "--seeds",
        "2",
        "--force",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_in_browser(browser, &comparison.join("report.html"));
    let run = run_ok(&scenario_path("small.toml"), "browser-run", &[]);
    check_in_browser(browser, &run.join("report.html"));
}
