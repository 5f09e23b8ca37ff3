//! What both server backends share about TLS: finding the rustls error behind a connection
//! failure, and saying why a server certificate was refused and what to do about it. Each
//! backend sets TLS up its own way: the `mysql` crate's rustls support, and
//! [`super::postgres::tls`]'s connector for the `postgres` crate.
//!
//! # In the host profile: the server url
//!
//! The server url says whether the connection is encrypted; without a TLS parameter it is not.
//! A url asking for TLS never falls back to clear text, and the
//! server's certificate is always verified — chain and host name — against the built-in web
//! roots plus, given one, a CA file (the usual case for internal servers: a private CA).
//!
//! ```toml
//! url = "mysql://app@db1:3306?root_cert_path=/etc/bascule/db-ca.pem"   # TLS, trusting that CA
//! url = "mysql://app@db1:3306?require_ssl=true"                         # TLS, built-in roots only
//! url = "postgres://app@db1:5432?sslmode=require&sslrootcert=/etc/bascule/db-ca.pem"
//! url = "postgres://app@db1:5432?sslmode=require"                       # built-in roots only
//! ```
//!
//! - MariaDB/MySQL: `require_ssl=true`, or any TLS parameter of the `mysql` crate, requires TLS:
//!   `root_cert_path` (CA file, PEM or DER), `cert_chain_path` + `priv_key_path` (a client
//!   certificate), `cipher_suites`, and the escape hatches `danger_skip_domain_validation=true`,
//!   `danger_accept_invalid_certs=true`. With TLS, a url naming 127.0.0.1 stays on TCP instead of
//!   switching to the server's unix socket (`prefer_socket=true` switches anyway).
//! - PostgreSQL (libpq names): `sslmode=disable | prefer | require | verify-full` and
//!   `sslrootcert=<CA file, PEM>`, which alone implies `require`; `sslnegotiation=direct`
//!   (PostgreSQL 17) is honoured. Unlike libpq, `prefer` and `require` verify the certificate
//!   (`require` = `verify-full`); `verify-ca` and `allow` are refused.
//!
//! Paths in urls are percent-decoded (`%20` for a space). A server that does not offer TLS when
//! the url requires it, or whose certificate is not trusted, fails the run before anything runs,
//! with the reason and the parameter to fix.

use std::io;
use std::path::Path;

/// The rustls error behind `error`, if any: searched along the chain of sources, looking inside
/// `io::Error`s too (whose `source()` skips the error they wrap).
pub fn find_rustls_error<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            if let Some(found) = find_rustls_error(inner) {
                return Some(found);
            }
        }
        source = e.source();
    }
    None
}

/// Why a server certificate was refused, and what to do about it (`parameter` is the
/// backend's name for the CA file in its url).
pub fn certificate_refused(
    cert: &rustls::CertificateError,
    root_cert: Option<&Path>,
    parameter: &str,
) -> String {
    use rustls::CertificateError as C;
    let trusted = match root_cert {
        Some(path) => format!("the built-in web roots and {parameter}={}", path.display()),
        None => "the built-in web roots only".to_string(),
    };
    match cert {
        C::UnknownIssuer | C::BadSignature | C::BadEncoding => format!(
            "the server's TLS certificate is not signed by a trusted CA ({cert:?}; trusted: \
             {trusted}): add the CA that signed it to the url, {parameter}=/path/to/ca.pem"
        ),
        C::NotValidForName | C::NotValidForNameContext { .. } => format!(
            "the server's TLS certificate does not name the host of the url ({cert}): connect \
             with a host name or address the certificate lists"
        ),
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            format!(
                "the server's TLS certificate is outside its validity period ({cert}): renew it"
            )
        }
        other => format!("the server's TLS certificate was refused ({other}; trusted: {trusted})"),
    }
}
