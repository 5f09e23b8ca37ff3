//! What both server backends share about TLS: finding the rustls error behind a connection
//! failure, and saying why a server certificate was refused and what to do about it. Each
//! backend sets TLS up its own way: the `mysql` crate's rustls support, and
//! [`super::postgres::tls`]'s connector for the `postgres` crate.

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
