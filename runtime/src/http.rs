//! A small HTTP client for the steps that look at the running platform: smoke tests, core
//! sampling, health checks.
//!
//! It wraps `ureq` (blocking, no async runtime) built without any TLS library, so the runtime
//! stays one static binary: the checks talk plain HTTP to the platform on the host or its
//! private network, where the front server's TLS is not what is under test. Every response is
//! returned whatever its status (a 500 is an answer a smoke test must report, not an I/O error),
//! bodies are read up to a limit, and every error names the URL.

use std::time::Duration;

/// The most of a body that is read: pages are compared and excerpted, not archived.
pub const BODY_LIMIT: u64 = 8 * 1024 * 1024;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("GET {url}: {what}")]
    Request { url: String, what: String },
    #[error("GET {url}: reading the body: {what}")]
    Body { url: String, what: String },
}

/// One answer: status, headers (names in lower case) and the body as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub url: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status and up to `lines` lines of the body around byte `at` (the start when `None`),
    /// for failure reports.
    pub fn excerpt(&self, at: Option<usize>, lines: usize) -> String {
        let all: Vec<&str> = self.body.lines().collect();
        let line_of = |offset: usize| {
            self.body
                .get(..offset.min(self.body.len()))
                .map_or(0, |s| s.matches('\n').count())
        };
        let centre = at.map_or(0, line_of);
        let first = centre.saturating_sub(lines / 2).min(all.len());
        let first = if at.is_none() { 0 } else { first };
        let last = (first + lines).min(all.len());
        let mut out = format!("HTTP {} from {}", self.status, self.url);
        for (n, line) in all[first..last].iter().enumerate() {
            out.push_str(&format!("\n  {:>4} | {}", first + n + 1, clip(line, 160)));
        }
        if last < all.len() {
            out.push_str(&format!("\n       … {} more line(s)", all.len() - last));
        }
        out
    }
}

fn clip(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max).collect();
    format!("{cut}…")
}

/// A reusable client (keeps connections alive between requests to the same host).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("http::Client")
    }
}

impl Client {
    /// A client whose every request (connect, send, read) must finish within `timeout`.
    pub fn new(timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("bascule/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: ureq::Agent::new_with_config(config),
        }
    }

    /// `GET url`; any status is an answer, only no answer is an error.
    pub fn get(&self, url: &str) -> Result<Response, HttpError> {
        let mut response = self.agent.get(url).call().map_err(|e| HttpError::Request {
            url: url.to_string(),
            what: describe(&e),
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| HttpError::Body {
                url: url.to_string(),
                what: describe(&e),
            })?;
        Ok(Response {
            url: url.to_string(),
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(what) => format!("no answer in time ({what}); is the service up?"),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens there; is the service up?".into()
        }
        ureq::Error::BodyExceedsLimit(limit) => {
            format!("the body is larger than {limit} bytes")
        }
        other => other.to_string(),
    }
}

/// Joins a base URL (`http://127.0.0.1:8080/` or without the slash) and a path (`/site/home`).
pub fn join(base: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_string();
    }
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A one-thread HTTP server answering every request with `respond(path)` = (status, body).
    pub(crate) fn serve(
        respond: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let respond = std::sync::Arc::new(respond);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let respond = std::sync::Arc::clone(&respond);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let mut header = String::new();
                    while reader.read_line(&mut header).unwrap_or(0) > 2 {
                        header.clear();
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, body) = respond(&path);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        addr
    }

    #[test]
    fn gets_status_headers_and_body_whatever_the_status() {
        let addr = serve(|path| match path {
            "/ok" => (200, "hello\n".into()),
            _ => (500, "boom\n".into()),
        });
        let client = Client::new(Duration::from_secs(5));
        let ok = client.get(&format!("http://{addr}/ok")).unwrap();
        assert_eq!((ok.status, ok.body.as_str()), (200, "hello\n"));
        assert_eq!(ok.header("x-TEST"), Some("yes"));
        let failed = client.get(&format!("http://{addr}/other")).unwrap();
        assert_eq!(failed.status, 500);
    }

    #[test]
    fn no_answer_is_an_error_naming_the_url() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/x");
        let err = Client::new(Duration::from_secs(2)).get(&url).unwrap_err();
        assert!(err.to_string().contains(&url), "{err}");
        assert!(err.to_string().contains("refused"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}/slow");
        let clock = std::time::Instant::now();
        let err = Client::new(Duration::from_millis(300))
            .get(&url)
            .unwrap_err();
        assert!(clock.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("in time"), "{err}");
        drop(listener);
    }

    #[test]
    fn excerpts_show_the_lines_around_a_position() {
        let body: String = (1..=20).map(|n| format!("line {n}\n")).collect();
        let at = body.find("line 12").unwrap();
        let response = Response {
            url: "http://h/p".into(),
            status: 200,
            headers: Vec::new(),
            body,
        };
        insta::assert_snapshot!(response.excerpt(Some(at), 4));
        assert!(response.excerpt(None, 2).contains("   1 | line 1"));
    }

    #[test]
    fn join_handles_slashes_and_absolute_urls() {
        assert_eq!(join("http://h:1/", "/a/b"), "http://h:1/a/b");
        assert_eq!(join("http://h:1", "a"), "http://h:1/a");
        assert_eq!(join("http://h:1", "http://x/y"), "http://x/y");
    }
}
