//! Database passwords: where they come from, and how they stay out of everything a run writes
//! or prints.
//!
//! A server's password is in its url (`mysql://app:secret@db1:3306`, or a `password=`
//! parameter), or, better, outside the profile: `password_file` (a file readable by its owner
//! only, holding the password on its first line) or `password_env` (the environment variable
//! holding it) in `[databases.<class>]`. `DatabaseClass::resolve_password` puts it into the
//! class's urls when the host profile is loaded, so every connection sees one url.
//!
//! Three rules keep it off disk and off the terminal:
//! - messages and logs show a url through [`redact_url`] (`app:***@db1`);
//! - the journal, which names every database a run touched so its undo can reach them again,
//!   writes a url without its password ([`serialize_without_password`]);
//! - an undo read back from the journal gets the passwords from the host profile it runs with
//!   ([`Credentials::attach`]), keyed by that password-free url: a password rotated between a
//!   crash and its `recover` is the one used.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::{DbTarget, Location};

/// What a password must escape to sit in a url's `user:password@`: all but RFC 3986's
/// unreserved characters.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `url` with its passwords, if any, replaced by `***`: for logs and messages. A password is
/// the one in the authority (`user:password@host`) and the value of a `password=` parameter of
/// the query string, which both clients accept.
pub fn redact_url(url: &str) -> String {
    rewrite(url, Some("***"))
}

/// `text` with every url in it passed through [`redact_url`]: for messages that quote what
/// someone wrote, such as a parser's. A url is a run of characters without spaces or quotes
/// that contains `://`.
pub fn redact_urls_in(text: &str) -> String {
    let is_boundary = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`');
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.contains("://") {
            out.push_str(&redact_url(token));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if is_boundary(c) {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// `url` with its passwords taken out: how the journal names a server.
pub fn url_without_password(url: &str) -> String {
    rewrite(url, None)
}

/// Serde's `serialize_with` for a server url: written without its password.
pub fn serialize_without_password<S: serde::Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&url_without_password(url))
}

/// `url` with every password replaced by `mask`, or removed when `mask` is `None`.
fn rewrite(url: &str, mask: Option<&str>) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut rewritten = rewrite_authority(base, mask);
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .filter_map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    mask.map(|mask| format!("{key}={mask}"))
                }
                _ => Some(pair.to_string()),
            })
            .collect();
        if !params.is_empty() {
            rewritten.push('?');
            rewritten.push_str(&params.join("&"));
        }
    }
    rewritten
}

fn rewrite_authority(url: &str, mask: Option<&str>) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match (rest[..at].split_once(':'), mask) {
        (Some((user, _password)), Some(mask)) => format!("{scheme}://{user}:{mask}{}", &rest[at..]),
        (Some((user, _password)), None) => format!("{scheme}://{user}{}", &rest[at..]),
        (None, _) => url.to_string(),
    }
}

/// `url` (`scheme://user@host…`, no password yet) with `password` in its authority,
/// percent-encoded as both clients decode it.
pub(crate) fn url_with_password(url: &str, password: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!(
            "`{}` is not a url (`scheme://user@host:port`)",
            redact_url(url)
        )
    })?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return Err(format!(
            "`{}` names no user: a password needs one (`{scheme}://user@host`)",
            redact_url(url)
        ));
    };
    if rest[..at].contains(':') || url_without_password(url) != url {
        return Err(format!(
            "`{}` already has a password: keep it in one place only",
            redact_url(url)
        ));
    }
    let password = utf8_percent_encode(password, USERINFO);
    Ok(format!(
        "{scheme}://{}:{password}{}",
        &rest[..at],
        &rest[at..]
    ))
}

/// The password `password_file` or `password_env` of class `class` gives, if either is set;
/// errors name the key, never the password.
pub(crate) fn password_from(
    class: &str,
    file: Option<&Path>,
    env: Option<&str>,
) -> Result<Option<String>, String> {
    match (file, env) {
        (Some(_), Some(_)) => Err(format!(
            "databases.{class}: set `password_file` or `password_env`, not both"
        )),
        (Some(file), None) => read_password_file(file)
            .map(Some)
            .map_err(|what| format!("databases.{class}.password_file: {what}")),
        (None, Some(name)) => std::env::var(name).map(Some).map_err(|_| {
            format!(
                "databases.{class}.password_env: the environment variable `{name}` is not set \
                 (or not UTF-8); export it in the environment `bascule` runs in"
            )
        }),
        (None, None) => Ok(None),
    }
}

/// The first line of `path`, which only its owner may read: a password file anyone can read
/// is a password anyone has.
fn read_password_file(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{shown} has mode {mode:03o}: others may read it. Make it readable by its owner only (`chmod 600 {shown}`)"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(format!(
            "{shown} is empty: write the password on its first line"
        ));
    }
    Ok(password.to_string())
}

/// The full urls (password included) of the host profile's servers, by their password-free
/// form: what an undo read from the journal connects with.
#[derive(Debug, Default)]
pub struct Credentials {
    by_public_url: BTreeMap<String, String>,
}

impl Credentials {
    /// The servers of the profile (every class's `servers()`), their passwords resolved.
    pub fn of(servers: impl IntoIterator<Item = String>) -> Credentials {
        let by_public_url = servers
            .into_iter()
            .map(|url| (url_without_password(&url), url))
            .collect();
        Credentials { by_public_url }
    }

    /// `target` with its server's password back, when the profile knows that server; else as it
    /// is (a server without a password, or one the profile no longer lists, whose connection
    /// error will say so).
    pub fn attach(&self, target: &DbTarget) -> DbTarget {
        let mut target = target.clone();
        match &mut target.location {
            Location::Mysql { url, .. } | Location::Postgres { url, .. } => {
                if let Some(full) = self.by_public_url.get(&url_without_password(url)) {
                    url.clone_from(full);
                }
            }
            Location::SqliteFile(_) => {}
        }
        target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("mysql://app:s3cret@db1:3306"),
            "mysql://app:***@db1:3306"
        );
        assert_eq!(
            redact_url("postgres://app@db1:5432/x"),
            "postgres://app@db1:5432/x"
        );
        assert_eq!(redact_url("mysql://db1:3306/a@b"), "mysql://db1:3306/a@b");
        assert_eq!(
            redact_url("postgres://app@db1:5432?sslmode=require&password=s3cret&x=1"),
            "postgres://app@db1:5432?sslmode=require&password=***&x=1"
        );
        assert_eq!(
            redact_url("mysql://app:a@db1:3306?PASSWORD=b"),
            "mysql://app:***@db1:3306?PASSWORD=***"
        );
        assert_eq!(
            redact_url("postgres://db1?sslrootcert=/ca.pem"),
            "postgres://db1?sslrootcert=/ca.pem"
        );
        let location = Location::Postgres {
            url: "postgres://app:pw@db1:5432/".into(),
            database: "platform".into(),
            schema: Some("site_0001".into()),
        };
        assert_eq!(
            location.to_string(),
            "postgres://app:***@db1:5432/platform schema site_0001"
        );
    }

    #[test]
    fn urls_quoted_in_a_message_lose_their_passwords() {
        assert_eq!(
            redact_urls_in("invalid type: string \"mysql://app:s3cret@db1\", expected a sequence"),
            "invalid type: string \"mysql://app:***@db1\", expected a sequence"
        );
        assert_eq!(redact_urls_in("no url here: a:b@c"), "no url here: a:b@c");
    }

    #[test]
    fn the_journal_form_of_a_url_has_no_password_at_all() {
        assert_eq!(
            url_without_password("mysql://app:s3cret@db1:3306"),
            "mysql://app@db1:3306"
        );
        assert_eq!(
            url_without_password("postgres://app@db1?password=s3cret"),
            "postgres://app@db1"
        );
        assert_eq!(
            url_without_password("postgres://app@db1?sslmode=require&password=s3cret"),
            "postgres://app@db1?sslmode=require"
        );
        let target = DbTarget {
            class: "site".into(),
            name: "a".into(),
            location: Location::Mysql {
                url: "mysql://app:s3cret@db1:3306".into(),
                database: "a".into(),
            },
        };
        let json = serde_json_like(&target);
        assert!(!json.contains("s3cret"), "{json}");
        assert!(json.contains("mysql://app@db1:3306"), "{json}");
    }

    /// The journal writes JSON; toml's serializer exercises the same `Serialize` impl here
    /// without a JSON dependency in this crate.
    fn serde_json_like(target: &DbTarget) -> String {
        toml::to_string(target).expect("a target serializes")
    }

    #[test]
    fn a_password_from_elsewhere_is_encoded_into_the_url_and_attached_back_from_the_profile() {
        assert_eq!(
            url_with_password("mysql://app@db1:3306?require_ssl=true", "p@ss:w/rd é").unwrap(),
            "mysql://app:p%40ss%3Aw%2Frd%20%C3%A9@db1:3306?require_ssl=true"
        );
        let no_user = url_with_password("mysql://db1:3306", "x").unwrap_err();
        assert!(no_user.contains("names no user"), "{no_user}");
        let twice = url_with_password("mysql://app:a@db1", "b").unwrap_err();
        assert!(twice.contains("already has a password"), "{twice}");
        assert!(!twice.contains(":a@"), "{twice}");

        let unset = password_from("site", None, Some("BASCULE_TEST_CREDENTIALS_PW")).unwrap_err();
        assert!(
            unset.contains("`BASCULE_TEST_CREDENTIALS_PW` is not set"),
            "{unset}"
        );
        let both = password_from("site", Some(Path::new("/x")), Some("X")).unwrap_err();
        assert!(both.contains("not both"), "{both}");
        let credentials = Credentials::of(vec!["mysql://app:s3cret@db1:3306".to_string()]);
        let from_journal = DbTarget {
            class: "site".into(),
            name: "site_1".into(),
            location: Location::Mysql {
                url: "mysql://app@db1:3306".into(),
                database: "site_1".into(),
            },
        };
        assert_eq!(
            credentials.attach(&from_journal).location.server(),
            "mysql://app:s3cret@db1:3306"
        );
    }
}
