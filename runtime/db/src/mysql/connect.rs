//! Opening a MariaDB/MySQL connection: the url's options, timeouts, TLS required by the url, and failures explained in TLS terms.

use mysql::{Opts, OptsBuilder, SslOpts};
use std::time::Duration;

/// The url parameter that asks for TLS with the built-in web roots only (`require_ssl=true`, as
/// `mysql_async` spells it); the `mysql` crate's own TLS parameters (`root_cert_path`, ...) ask
/// for TLS too.
pub(super) const REQUIRE_SSL: &str = "require_ssl";

/// Connection options for `database` on the server of `url` (`mysql://user[:password]@host:port`),
/// with the timeouts that keep a vanished server from hanging a run (unless the url sets them).
/// Every connection of this backend, of [`read_versions`] and of the migration locks is opened
/// with these options.
///
/// TLS: `require_ssl=true`, or any of the `mysql` crate's TLS parameters (`root_cert_path=` a CA
/// file, PEM or DER, trusted besides the built-in web roots; `cert_chain_path` and
/// `priv_key_path`; `danger_skip_domain_validation`, `danger_accept_invalid_certs`), makes TLS
/// required: a server without it is refused, its certificate is verified against the roots
/// and the url's host. A TLS connection to 127.0.0.1 stays on TCP (no switch to the server's
/// unix socket, which would not be encrypted) unless the url sets `prefer_socket`.
pub(crate) fn opts(url: &str, database: Option<&str>) -> Result<Opts, String> {
    let (url, require_ssl, prefer_socket_given) = take_tls_params(url)?;
    let opts = Opts::from_url(&url).map_err(|e| format!("invalid server url: {e}"))?;
    let ssl = match (require_ssl, opts.get_ssl_opts()) {
        (Some(false), Some(_)) => {
            return Err(format!(
                "invalid server url: {REQUIRE_SSL}=false contradicts its TLS parameters \
                 (root_cert_path, ...): remove one or the other"
            ))
        }
        (Some(true), None) => Some(SslOpts::default()),
        (_, ssl) => ssl.cloned(),
    };
    if let Some(path) = ssl.as_ref().and_then(|s| s.root_cert_path()) {
        std::fs::File::open(path).map_err(|e| {
            format!(
                "cannot read the CA certificate root_cert_path={}: {e}",
                path.display()
            )
        })?;
    }
    let connect = opts
        .get_tcp_connect_timeout()
        .unwrap_or(Duration::from_secs(10));
    let keepalive = opts.get_tcp_keepalive_time_ms().unwrap_or(10_000);
    let read = opts
        .get_read_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(3600));
    let prefer_socket = opts.get_prefer_socket() && (ssl.is_none() || prefer_socket_given);
    Ok(OptsBuilder::from_opts(opts)
        .db_name(database)
        .ssl_opts(ssl)
        .prefer_socket(prefer_socket)
        .tcp_connect_timeout(Some(connect))
        .tcp_keepalive_time_ms(Some(keepalive))
        .read_timeout(Some(read))
        .write_timeout(Some(read))
        .into())
}

/// `url` without `require_ssl` (which `Opts::from_url` does not know), its value, and whether
/// the url sets `prefer_socket`.
pub(super) fn take_tls_params(url: &str) -> Result<(String, Option<bool>, bool), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), None, false));
    };
    let mut kept = Vec::new();
    let mut require_ssl = None;
    let mut prefer_socket = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            REQUIRE_SSL => {
                require_ssl = Some(value.parse::<bool>().map_err(|_| {
                    format!("invalid server url: {REQUIRE_SSL}={value}: write true or false")
                })?)
            }
            "prefer_socket" => {
                prefer_socket = true;
                kept.push(pair);
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, require_ssl, prefer_socket))
}

/// Opens a connection with `opts` (from [`opts`]); a failure says what went wrong, in TLS terms
/// when TLS is what failed.
pub(crate) fn connect(opts: Opts) -> Result<mysql::Conn, String> {
    let root_cert = opts
        .get_ssl_opts()
        .and_then(|s| s.root_cert_path())
        .map(std::path::Path::to_path_buf);
    mysql::Conn::new(opts).map_err(|e| explain_connect_error(&e, root_cert.as_deref()))
}

pub(super) fn explain_connect_error(
    e: &mysql::Error,
    root_cert: Option<&std::path::Path>,
) -> String {
    use crate::tls::{certificate_refused, find_rustls_error};
    // `mysql::Error` does not chain its sources: look inside the variants that carry I/O.
    let io: Option<&(dyn std::error::Error + 'static)> = match e {
        mysql::Error::IoError(io) => Some(io),
        mysql::Error::CodecError(codec) => Some(codec),
        _ => None,
    };
    if let Some(rustls::Error::InvalidCertificate(cert)) = io.and_then(find_rustls_error) {
        return certificate_refused(cert, root_cert, "root_cert_path");
    }
    match e {
        mysql::Error::DriverError(mysql::DriverError::TlsNotSupported) => {
            "the server does not offer TLS but the url asks for it (require_ssl=true or \
             root_cert_path): turn TLS on in the server (ssl_cert, ssl_key) or remove the TLS \
             parameters from the url"
                .to_string()
        }
        mysql::Error::TlsError(tls) => format!("TLS setup failed: {tls}"),
        _ => e.to_string(),
    }
}
