//! TLS for the PostgreSQL backend: the server url's `sslmode` and `sslrootcert`, and a
//! `MakeTlsConnect` for the `postgres` client on rustls (ring provider, no OpenSSL, so the
//! runtime stays a static binary).
//!
//! | url | connection |
//! |---|---|
//! | no `sslmode`, no `sslrootcert` | clear text, as without TLS support |
//! | `sslmode=disable` | clear text |
//! | `sslmode=prefer` | TLS when the server offers it (certificate verified), clear text when it does not |
//! | `sslmode=require` or `sslmode=verify-full` | TLS or no connection; certificate and host name verified |
//! | `sslrootcert=/path/ca.pem` | trust that CA (PEM, one or more certificates) besides the built-in web roots; implies `sslmode=require` unless `sslmode` says otherwise |
//!
//! Unlike libpq, `require` verifies the certificate chain and the host name: an encrypted
//! connection to whoever answers is no protection for a migration tool. `verify-ca` (chain
//! without host name) and `allow` are refused with what to write instead.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use crate::tls::{certificate_refused, find_rustls_error};
use postgres::config::SslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the url asks for, with the parameters `postgres::Config` does not know taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTls {
    /// The url for `postgres::Config` (`sslrootcert` removed, `verify-full` spelled `require`).
    pub url: String,
    /// The mode to set when the url does not name one (`None`: the url's own `sslmode`).
    pub default_mode: Option<SslMode>,
    /// `sslrootcert`: a CA to trust besides the built-in roots.
    pub root_cert: Option<PathBuf>,
}

impl UrlTls {
    /// Reads the TLS parameters of a `postgres://` url. A key=value string is passed through
    /// unchanged (its `sslmode`, if any, is `postgres::Config`'s to read; it cannot name a CA).
    pub fn parse(url: &str) -> Result<UrlTls, String> {
        if !url.contains("://") {
            let mode_given = url.split_whitespace().any(|w| w.starts_with("sslmode="));
            return Ok(UrlTls {
                url: url.to_string(),
                default_mode: (!mode_given).then_some(SslMode::Disable),
                root_cert: None,
            });
        }
        let Some((base, query)) = url.split_once('?') else {
            return Ok(UrlTls {
                url: url.to_string(),
                default_mode: Some(SslMode::Disable),
                root_cert: None,
            });
        };
        let mut kept = Vec::new();
        let mut mode_given = false;
        let mut root_cert = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslrootcert" => {
                    let path = percent_decode(value)
                        .ok_or_else(|| format!("invalid sslrootcert value `{value}`"))?;
                    if path.is_empty() {
                        return Err("sslrootcert is empty: give the path of a CA certificate \
                                    file (PEM)"
                            .to_string());
                    }
                    root_cert = Some(PathBuf::from(path));
                }
                "sslmode" => {
                    mode_given = true;
                    match value {
                        "disable" | "prefer" | "require" => kept.push(pair.to_string()),
                        "verify-full" => kept.push("sslmode=require".to_string()),
                        "verify-ca" => {
                            return Err("sslmode=verify-ca is not supported: Bascule verifies the \
                                        server's host name too; use sslmode=require (or \
                                        verify-full) and a host name the certificate lists"
                                .to_string())
                        }
                        other => {
                            return Err(format!(
                                "sslmode={other} is not supported: use disable, prefer, require \
                                 or verify-full"
                            ))
                        }
                    }
                }
                _ => kept.push(pair.to_string()),
            }
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let default_mode = match (mode_given, &root_cert) {
            (true, _) => None,
            (false, Some(_)) => Some(SslMode::Require),
            (false, None) => Some(SslMode::Disable),
        };
        Ok(UrlTls {
            url,
            default_mode,
            root_cert,
        })
    }
}

/// `%XX` sequences decoded; `None` if one is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One rustls configuration per CA file for the whole process: built once, and its session
/// cache lets the thousands of connections of a run resume TLS sessions.
fn client_config(root_cert: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    static CONFIGS: OnceLock<Mutex<BTreeMap<Option<PathBuf>, Arc<ClientConfig>>>> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| Mutex::new(BTreeMap::new()));
    let key = root_cert.map(Path::to_path_buf);
    if let Ok(configs) = configs.lock() {
        if let Some(config) = configs.get(&key) {
            return Ok(config.clone());
        }
    }
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                format!(
                    "cannot read the CA certificate sslrootcert={}: {e}",
                    path.display()
                )
            })?;
        if certs.is_empty() {
            return Err(format!(
                "sslrootcert={} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                format!(
                    "the CA certificate in sslrootcert={} is not usable: {e}",
                    path.display()
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // PostgreSQL 17 checks it when given, and requires it for `sslnegotiation=direct`.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    let config = Arc::new(config);
    if let Ok(mut configs) = configs.lock() {
        configs.insert(key, config.clone());
    }
    Ok(config)
}

/// The `postgres` client's TLS connector on rustls.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    /// Trusts the built-in web roots and, given one, the CA certificates of `root_cert`.
    pub fn new(root_cert: Option<&Path>) -> Result<MakeRustls, String> {
        Ok(MakeRustls {
            config: client_config(root_cert)?,
        })
    }
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, io::Error> {
        let name = ServerName::try_from(domain.to_string()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{domain}` is not a host name or IP address a certificate can name"),
            )
        })?;
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
        })
    }
}

pub struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

type Handshake<S> = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        Box::pin(async move {
            let stream = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(stream))
        })
    }
}

/// A TLS session with the server.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM without channel binding: the certificate verification is what binds the
        // session to the server.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// What a failed connection means for TLS, with what to do, if it is a TLS failure.
pub fn explain(error: &postgres::Error, root_cert: Option<&Path>) -> Option<String> {
    if let Some(rustls::Error::InvalidCertificate(cert)) = find_rustls_error(error) {
        return Some(certificate_refused(cert, root_cert, "sslrootcert"));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.to_string() == "server does not support TLS" {
            return Some(
                "the server does not offer TLS but the url asks for sslmode=require (or \
                 sslrootcert): turn TLS on in the server (ssl = on, ssl_cert_file, ssl_key_file) \
                 or remove sslmode/sslrootcert from the url"
                    .to_string(),
            );
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_sslmode_the_connection_stays_clear_text() {
        let tls = UrlTls::parse("postgres://app@db1:5432").unwrap();
        assert_eq!(tls.url, "postgres://app@db1:5432");
        assert_eq!(tls.default_mode, Some(SslMode::Disable));
        assert_eq!(tls.root_cert, None);
    }

    #[test]
    fn sslrootcert_is_taken_out_and_implies_require() {
        let tls = UrlTls::parse(
            "postgres://app@db1:5432/x?sslrootcert=/etc/ca%20x.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(tls.url, "postgres://app@db1:5432/x?connect_timeout=5");
        assert_eq!(tls.default_mode, Some(SslMode::Require));
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/ca x.pem")));
    }

    #[test]
    fn an_explicit_sslmode_wins_and_verify_full_is_require() {
        let tls =
            UrlTls::parse("postgres://app@db1?sslmode=verify-full&sslrootcert=/ca.pem").unwrap();
        assert_eq!(tls.url, "postgres://app@db1?sslmode=require");
        assert_eq!(tls.default_mode, None);
        let tls = UrlTls::parse("postgres://app@db1?sslmode=disable").unwrap();
        assert_eq!(tls.default_mode, None);
    }

    #[test]
    fn a_key_value_string_keeps_its_own_sslmode() {
        let tls = UrlTls::parse("host=db1 user=app sslmode=require").unwrap();
        assert_eq!(tls.url, "host=db1 user=app sslmode=require");
        assert_eq!(tls.default_mode, None);
        let tls = UrlTls::parse("host=db1 user=app").unwrap();
        assert_eq!(tls.default_mode, Some(SslMode::Disable));
    }

    #[test]
    fn unsupported_modes_say_what_to_use() {
        let err = UrlTls::parse("postgres://app@db1?sslmode=verify-ca").unwrap_err();
        assert!(err.contains("sslmode=require"), "{err}");
        let err = UrlTls::parse("postgres://app@db1?sslmode=allow").unwrap_err();
        assert!(
            err.contains("disable, prefer, require or verify-full"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let err = MakeRustls::new(Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .unwrap();
        assert!(err.contains("sslrootcert=/nonexistent/ca.pem"), "{err}");
    }
}
