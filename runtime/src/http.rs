//! A small HTTP and HTTPS client for the steps that look at the running platform: smoke tests,
//! core sampling, health checks.
//!
//! It wraps `ureq` (blocking, no async runtime) with ureq's own rustls support, given the ring
//! provider explicitly, as the database clients are: no OpenSSL, no aws-lc, so the runtime stays
//! one static binary. Every response is returned whatever its status (a 500 is an answer a smoke
//! test must report, not an I/O error), bodies are read up to a limit, and every error names the
//! URL.
//!
//! An `https://` server's certificate is always verified, chain and host name, against
//! [`Roots`]: the public web roots compiled in, plus the CAs of the host profile's
//! `[https] ca_file` when it names one. The file adds to the public roots instead of replacing
//! them, as a database url's CA file does, so one profile can check a public site and a service
//! behind a private CA. A refused certificate is said in an operator's words (not signed by a
//! trusted CA, not valid for this name, expired) with what to change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The most of a body that is read: pages are compared and excerpted, not archived.
pub const BODY_LIMIT: u64 = 8 * 1024 * 1024;

/// The most of a CA file that is read: a few certificates are a few kilobytes, a whole
/// system bundle some hundreds.
pub const CA_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("GET {url}: {what}")]
    Request { url: String, what: String },
    #[error("GET {url}: reading the body: {what}")]
    Body { url: String, what: String },
}

/// Why a CA file cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than {CA_FILE_LIMIT} bytes, too large for a file of CA certificates", .path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is not PEM: {what}", .path.display())]
    Pem { path: PathBuf, what: String },
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", .path.display())]
    Empty { path: PathBuf },
    #[error("{}: certificate {number} is not a usable X.509 certificate ({what})", .path.display())]
    Unusable {
        path: PathBuf,
        number: usize,
        what: String,
    },
}

/// The CAs trusted to sign the certificates of `https://` servers: the public web roots
/// (Mozilla's list, compiled in) and the CAs of a CA file.
#[derive(Clone)]
pub struct Roots {
    certs: RootCerts,
    ca_file: Option<PathBuf>,
}

impl Roots {
    /// The public web roots only.
    pub fn public() -> Roots {
        Roots {
            certs: RootCerts::new_with_certs(&public_certs()),
            ca_file: None,
        }
    }

    /// The public web roots and every certificate of the PEM file `path`, each checked usable
    /// as a CA now: ureq would skip an unusable one without a word, at the first request.
    pub fn with_ca_file(path: &Path) -> Result<Roots, CaFileError> {
        let text = read_limited(path)?;
        let ca = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CaFileError::Pem {
                path: path.to_path_buf(),
                what: pem_problem(&e),
            })?;
        if ca.is_empty() {
            return Err(CaFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        let mut store = rustls::RootCertStore::empty();
        for (i, cert) in ca.iter().enumerate() {
            store.add(cert.clone()).map_err(|e| CaFileError::Unusable {
                path: path.to_path_buf(),
                number: i + 1,
                what: match e {
                    rustls::Error::InvalidCertificate(why) => format!("{why:?}"),
                    other => other.to_string(),
                },
            })?;
        }
        let mut certs = public_certs();
        certs.extend(
            ca.iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned()),
        );
        Ok(Roots {
            certs: RootCerts::new_with_certs(&certs),
            ca_file: Some(path.to_path_buf()),
        })
    }

    /// The CA file trusted besides the public roots, if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ca_file {
            Some(path) => write!(f, "Roots(public + {})", path.display()),
            None => f.write_str("Roots(public)"),
        }
    }
}

/// What is wrong with a PEM file, its markers spelled as text (pem::Error shows bytes).
fn pem_problem(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match error {
        E::MissingSectionEnd { end_marker } => {
            format!(
                "no `-----END {}-----` line",
                String::from_utf8_lossy(end_marker)
            )
        }
        E::IllegalSectionStart { line } => {
            format!("a malformed `{}` line", String::from_utf8_lossy(line))
        }
        other => other.to_string(),
    }
}

fn public_certs() -> Vec<Certificate<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()))
        .collect()
}

fn read_limited(path: &Path) -> Result<Vec<u8>, CaFileError> {
    use std::io::Read as _;
    let read_error = |source| CaFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(CA_FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > CA_FILE_LIMIT {
        return Err(CaFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
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
    /// The CA file its roots hold, named when a certificate is refused.
    ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("http::Client")
    }
}

/// Redirects a health check follows, as a browser would.
const HEALTH_REDIRECTS: u32 = 10;

impl Client {
    /// A client whose every request (connect, send, read) must finish within `timeout`, trusting
    /// `roots` for `https://`. A redirect is an answer, not followed: a smoke test or a sample
    /// judges what the URL itself says.
    pub fn new(timeout: Duration, roots: &Roots) -> Client {
        Client::build(timeout, roots, 0)
    }

    /// The same, following redirects: a health check asks whether the service ends up
    /// answering.
    pub fn following_redirects(timeout: Duration, roots: &Roots) -> Client {
        Client::build(timeout, roots, HEALTH_REDIRECTS)
    }

    fn build(timeout: Duration, roots: &Roots, max_redirects: u32) -> Client {
        // ureq keeps this setter out of its semver promise because it takes a rustls type; the
        // workspace pins the same rustls 0.23, so a mismatch would fail the build, not a run.
        // Without it ureq would take a process-wide default provider, whichever was installed.
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .root_certs(roots.certs.clone())
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(max_redirects)
            .user_agent(concat!("bascule/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        Client {
            agent: ureq::Agent::new_with_config(config),
            ca_file: roots.ca_file.clone(),
        }
    }

    /// `GET url`; any status is an answer, only no answer is an error.
    pub fn get(&self, url: &str) -> Result<Response, HttpError> {
        let mut response = self.agent.get(url).call().map_err(|e| HttpError::Request {
            url: url.to_string(),
            what: self.describe(url, &e),
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
                what: self.describe(url, &e),
            })?;
        Ok(Response {
            url: url.to_string(),
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    fn describe(&self, url: &str, error: &ureq::Error) -> String {
        if let Some(tls) = rustls_error(error) {
            return tls_refusal(&origin(url), tls, self.ca_file.as_deref());
        }
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
}

/// The rustls error behind a failed request: ureq passes it as is, or inside the `io::Error`
/// of the TLS stream.
fn rustls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// `https://host:port` of a URL: the server whose certificate is in question.
fn origin(url: &str) -> String {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let end = url[authority..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority + i);
    url[..end].to_string()
}

/// Why the TLS session with `origin` failed, and what to do about it.
fn tls_refusal(origin: &str, error: &rustls::Error, ca_file: Option<&Path>) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = error else {
        return format!(
            "the TLS handshake with {origin} failed: {error}; is it an https:// server?"
        );
    };
    let other_name = "use a host name the certificate lists in the URL, or give the server a \
                      certificate for this name";
    match cert {
        C::UnknownIssuer | C::BadSignature => match ca_file {
            None => format!(
                "the certificate of {origin} is not signed by a trusted CA: give its CA in the \
                 host profile's [https] ca_file"
            ),
            Some(path) => format!(
                "the certificate of {origin} is signed neither by a public CA nor by a CA of {} \
                 ([https] ca_file): give the CA that signed it in [https] ca_file",
                path.display()
            ),
        },
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "the certificate of {origin} is not valid for the name {} (it names {}): {other_name}",
            expected.to_str(),
            if presented.is_empty() {
                "none".to_string()
            } else {
                let names: Vec<&str> = presented.iter().map(|n| plain_name(n)).collect();
                names.join(", ")
            }
        ),
        C::NotValidForName => {
            format!("the certificate of {origin} is not valid for this host name: {other_name}")
        }
        C::ExpiredContext { not_after, .. } => format!(
            "the certificate of {origin} expired on {}: renew it",
            date(*not_after)
        ),
        C::Expired => format!("the certificate of {origin} has expired: renew it"),
        C::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {origin} is not valid before {}: check this host's clock",
            date(*not_before)
        ),
        C::NotValidYet => {
            format!("the certificate of {origin} is not valid yet: check this host's clock")
        }
        other => format!("the certificate of {origin} is refused: {other}"),
    }
}

/// A name as webpki presents it (`DnsName("www.example.org")`, `IpAddress(10.0.0.1)`), plain.
fn plain_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .and_then(|(_, inner)| inner.strip_suffix(')'))
        .map_or(presented, |inner| inner.trim_matches('"'))
}

fn date(time: rustls::pki_types::UnixTime) -> String {
    i64::try_from(time.as_secs())
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("{} s after 1970", time.as_secs()),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
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
        let client = Client::new(Duration::from_secs(5), &Roots::public());
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
        let err = Client::new(Duration::from_secs(2), &Roots::public())
            .get(&url)
            .unwrap_err();
        assert!(err.to_string().contains(&url), "{err}");
        assert!(err.to_string().contains("refused"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}/slow");
        let clock = std::time::Instant::now();
        let err = Client::new(Duration::from_millis(300), &Roots::public())
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

    /// A throwaway CA: its certificate (PEM) and what signs server certificates with it.
    pub(crate) struct TestCa {
        pub(crate) pem: String,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    /// A server's certificate chain and private key.
    pub(crate) type ServerCert = (
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    );

    impl TestCa {
        pub(crate) fn new(name: &str) -> TestCa {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            params.key_usages = vec![
                rcgen::KeyUsagePurpose::KeyCertSign,
                rcgen::KeyUsagePurpose::DigitalSignature,
            ];
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            TestCa {
                pem: cert.pem(),
                issuer: rcgen::Issuer::new(params, key),
            }
        }

        /// Its certificate in a file of `dir`, for `Roots::with_ca_file`.
        pub(crate) fn file(&self, dir: &Path) -> PathBuf {
            let path = dir.join("web-ca.pem");
            std::fs::write(&path, &self.pem).unwrap();
            path
        }

        /// A server certificate for `names` (host names or IP addresses), valid now.
        pub(crate) fn server(&self, names: &[&str]) -> ServerCert {
            self.server_valid(names, None)
        }

        /// The same, valid from January 1st of the first year to January 1st of the second
        /// when given.
        fn server_valid(&self, names: &[&str], years: Option<(i32, i32)>) -> ServerCert {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let mut params = rcgen::CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "platform");
            params
                .extended_key_usages
                .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
            if let Some((from, to)) = years {
                params.not_before = rcgen::date_time_ymd(from, 1, 1);
                params.not_after = rcgen::date_time_ymd(to, 1, 1);
            }
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (
                vec![cert.der().clone()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
        }
    }

    /// An HTTPS server (rustls, ring) on 127.0.0.1 answering every request with 200 and
    /// `secure <path>`; a client that refuses its certificate ends the session.
    pub(crate) fn serve_tls((chain, key): ServerCert) -> std::net::SocketAddr {
        use std::io::Read as _;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let config = Arc::clone(&config);
                std::thread::spawn(move || {
                    let connection = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") {
                        match tls.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split_whitespace().nth(1).unwrap_or("/");
                    let body = format!("secure {path}\n");
                    let _ = write!(
                        tls,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        addr
    }

    /// `message` with the port and the temporary directory replaced, for snapshots.
    fn stable(message: &str, dir: &Path) -> String {
        let message = message.replace(&dir.display().to_string(), "[dir]");
        regex::Regex::new(r"127\.0\.0\.1:\d+")
            .unwrap()
            .replace_all(&message, "127.0.0.1:[port]")
            .into_owned()
    }

    #[test]
    fn https_with_the_ca_file_trusted_gets_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("platform CA");
        let addr = serve_tls(ca.server(&["127.0.0.1", "localhost"]));
        let roots = Roots::with_ca_file(&ca.file(dir.path())).unwrap();
        let client = Client::new(Duration::from_secs(5), &roots);
        for _ in 0..2 {
            let page = client.get(&format!("https://{addr}/site/home")).unwrap();
            assert_eq!(
                (page.status, page.body.as_str()),
                (200, "secure /site/home\n")
            );
        }
    }

    #[test]
    fn https_without_its_ca_is_refused_saying_where_to_give_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("platform CA");
        let addr = serve_tls(ca.server(&["127.0.0.1"]));
        let url = format!("https://{addr}/_health");
        let public = Client::new(Duration::from_secs(5), &Roots::public())
            .get(&url)
            .unwrap_err()
            .to_string();
        let other_ca = TestCa::new("another CA").file(dir.path());
        let other = Client::new(
            Duration::from_secs(5),
            &Roots::with_ca_file(&other_ca).unwrap(),
        )
        .get(&url)
        .unwrap_err()
        .to_string();
        assert!(public.contains(&url), "{public}");
        insta::assert_snapshot!(format!(
            "public roots only:\n{}\n\nanother CA file:\n{}",
            stable(&public, dir.path()),
            stable(&other, dir.path())
        ));
    }

    #[test]
    fn https_to_a_name_the_certificate_does_not_list_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("platform CA");
        let addr = serve_tls(ca.server(&["www.platform.test", "platform.test"]));
        let roots = Roots::with_ca_file(&ca.file(dir.path())).unwrap();
        let url = format!("https://{addr}/");
        let err = Client::new(Duration::from_secs(5), &roots)
            .get(&url)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&url), "{err}");
        insta::assert_snapshot!(stable(&err, dir.path()));
    }

    #[test]
    fn an_expired_certificate_is_refused_with_its_date() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("platform CA");
        let addr = serve_tls(ca.server_valid(&["127.0.0.1"], Some((2020, 2021))));
        let roots = Roots::with_ca_file(&ca.file(dir.path())).unwrap();
        let err = Client::new(Duration::from_secs(5), &roots)
            .get(&format!("https://{addr}/"))
            .unwrap_err()
            .to_string();
        insta::assert_snapshot!(stable(&err, dir.path()));
    }

    #[test]
    fn a_ca_file_that_cannot_be_trusted_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("empty.pem"), "").unwrap();
        std::fs::write(
            path("key.pem"),
            rcgen::KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        std::fs::write(
            path("garbage.pem"),
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(path("broken.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
        let report: Vec<String> = [
            "missing.pem",
            "empty.pem",
            "key.pem",
            "garbage.pem",
            "broken.pem",
        ]
        .iter()
        .map(|name| match Roots::with_ca_file(&path(name)) {
            Ok(_) => format!("{name}: accepted"),
            Err(e) => stable(&e.to_string(), dir.path()),
        })
        .collect();
        insta::assert_snapshot!(report.join("\n"));
    }

    #[test]
    fn presented_names_are_shown_plain() {
        assert_eq!(
            plain_name("DnsName(\"www.example.org\")"),
            "www.example.org"
        );
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(plain_name("odd"), "odd");
    }

    #[test]
    fn origins_name_the_server() {
        assert_eq!(origin("https://h:8443/a/b?c"), "https://h:8443");
        assert_eq!(origin("https://h?x"), "https://h");
        assert_eq!(origin("https://h"), "https://h");
    }
}
