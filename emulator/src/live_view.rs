//! `GET /__emulator/`: a page listing the recorded requests and their answers as they
//! arrive, for a developer watching what a client sends (what Adobe Assurance shows).
//!
//! Plain HTML rendered on the server, so it reads without JavaScript (it then reloads
//! itself every few seconds); a few lines of vanilla JavaScript poll
//! `/__emulator/requests?since=N` and append what is new without a reload.

use crate::http::Response;
use crate::record::{RecordedRequest, Recorder};

/// Rows rendered into the page itself; the page stays small however long the emulator
/// has run. (The script adds every later row.)
const ROWS_IN_PAGE: usize = 200;

pub(crate) fn page(recorder: &Recorder) -> Response {
    let (shown, total) = recorder.latest(ROWS_IN_PAGE);
    let mut rows = String::new();
    for r in &shown {
        rows.push_str(&row(r));
    }
    let html = TEMPLATE
        .replace("{{count}}", &total.to_string())
        .replace("{{rows}}", &rows);
    Response::new(200)
        .with_body("text/html; charset=utf-8", html.into_bytes())
        .with_header("cache-control", "no-store")
}

fn row(r: &RecordedRequest) -> String {
    let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let target = if query.is_empty() {
        r.path.clone()
    } else {
        format!("{}?{}", r.path, query.join("&"))
    };
    let status = match r.response_status {
        0 => "…".to_string(),
        s => s.to_string(),
    };
    format!(
        "<tr id=\"req-{seq}\" data-seq=\"{seq}\" data-status=\"{status_num}\"><td>{seq}</td><td>{time}</td><td>{method} {target}</td><td class=\"status\">{status}</td><td>{req}</td><td>{resp}</td></tr>\n",
        seq = r.seq,
        status_num = r.response_status,
        time = clock(r.received_ms),
        method = escape(&r.method),
        target = escape(&target),
        status = escape(&status),
        req = body_cell(&r.body),
        resp = body_cell(&r.response_body),
    )
}

/// A body folded into `<details>`: the summary shows its start, the rest opens on click.
fn body_cell(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let summary: String = flat.chars().take(80).collect();
    format!(
        "<details><summary>{}</summary><pre>{}</pre></details>",
        escape(&summary),
        escape(&text)
    )
}

/// `HH:MM:SS.mmm` UTC.
fn clock(ms: u64) -> String {
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const TEMPLATE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>aep-edge-emulator: live view</title>
<noscript><meta http-equiv="refresh" content="3"></noscript>
<style>
body { font: 14px system-ui, sans-serif; margin: 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
td:nth-child(3) { font-family: monospace; word-break: break-all; }
pre { margin: 0; max-height: 30em; overflow: auto; }
summary { font-family: monospace; cursor: pointer; }
tr[data-status^="4"] .status, tr[data-status^="5"] .status { color: #b00; font-weight: bold; }
</style>
</head>
<body>
<h1>aep-edge-emulator: live view</h1>
<p>Edge and IMS requests as they arrive, newest last (<span id="count">{{count}}</span> recorded).
<span id="state">Without JavaScript this page reloads every 3 seconds.</span></p>
<table id="requests">
<thead><tr><th>#</th><th>time (UTC)</th><th>request</th><th>status</th><th>request body</th><th>response body</th></tr></thead>
<tbody>
{{rows}}</tbody>
</table>
<script>
(function () {
  "use strict";
  var tbody = document.querySelector("#requests tbody");
  var state = document.getElementById("state");
  function pretty(body) {
    return typeof body === "string" ? body : JSON.stringify(body, null, 2);
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function bodyCell(tr, body) {
    var td = cell(tr, "");
    var text = pretty(body);
    if (!text) return;
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = text.replace(/\s+/g, " ").slice(0, 80);
    var pre = document.createElement("pre");
    pre.textContent = text;
    details.appendChild(summary);
    details.appendChild(pre);
    td.appendChild(details);
  }
  function render(r) {
    var tr = document.createElement("tr");
    tr.id = "req-" + r.seq;
    tr.dataset.seq = r.seq;
    tr.dataset.status = r.status;
    var query = Object.keys(r.query).map(function (k) { return k + "=" + r.query[k]; }).join("&");
    cell(tr, String(r.seq));
    cell(tr, new Date(r.receivedMs).toISOString().slice(11, 23));
    cell(tr, r.method + " " + r.path + (query ? "?" + query : ""));
    cell(tr, r.status ? String(r.status) : "\u2026").className = "status";
    bodyCell(tr, r.body);
    bodyCell(tr, r.response.body);
    var old = document.getElementById(tr.id);
    if (old) { tbody.replaceChild(tr, old); } else { tbody.appendChild(tr); }
  }
  // Poll from the oldest unanswered row (its answer may still come), else the newest.
  function since() {
    var rows = tbody.querySelectorAll("tr");
    var last = 0, pending = null;
    for (var i = 0; i < rows.length; i++) {
      var seq = Number(rows[i].dataset.seq);
      if (seq > last) last = seq;
      if (rows[i].dataset.status === "0" && (pending === null || seq < pending)) pending = seq;
    }
    return pending !== null ? pending - 1 : last;
  }
  function poll() {
    fetch("/__emulator/requests?since=" + since(), { cache: "no-store" })
      .then(function (res) { return res.json(); })
      .then(function (list) {
        list.forEach(render);
        document.getElementById("count").textContent = String(tbody.querySelectorAll("tr").length);
        state.textContent = "Live: updated " + new Date().toISOString().slice(11, 19) + " UTC.";
      })
      .catch(function () { state.textContent = "The emulator is not answering."; })
      .then(function () { setTimeout(poll, 500); });
  }
  poll();
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(clock(3_723_004), "01:02:03.004");
        assert!(body_cell(b"{\"a\":\"<b>\"}").contains("&lt;b&gt;"));
        assert_eq!(body_cell(b""), "");
    }
}
