//! Path rules for bundle entries, checked lexically so they can be applied to a tarball that is
//! only being read, before anything exists on disk.
//!
//! A bundle path is relative, `/`-separated and in normal form: no empty, `.` or `..` component.
//! Normal form matters beyond safety: the tar writer normalises paths, so only a path that is
//! already normal survives a pack/verify round trip byte for byte.
//!
//! Symlink targets may use `..`, but must resolve inside the bundle. Resolution is lexical, from
//! the link's directory, and refuses a `..` that steps back out of another symlink of the bundle:
//! after `a -> d1/d2`, the path `a/..` is `d1` on disk but `.` lexically, and such disagreements
//! are exactly how a chain of innocent-looking links climbs out of a tree.

/// Why `path` is not a safe bundle path, or `None` if it is one.
pub fn unsafe_reason(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("empty path");
    }
    if path.starts_with('/') {
        return Some("absolute path");
    }
    if path.contains('\0') {
        return Some("NUL byte in path");
    }
    if path.chars().any(char::is_control) {
        // A newline in a name forges lines in every listing, log and journal that shows it.
        return Some("control character (newline, tab, escape…) in path: rename the file");
    }
    for component in path.split('/') {
        match component {
            ".." => return Some("`..` in path"),
            "" | "." => return Some("path is not in normal form (empty or `.` component)"),
            _ => {}
        }
    }
    None
}

/// Resolves the target of the symlink at `link` (a safe bundle path) to a bundle path, `""`
/// being the bundle root. `is_symlink` tells whether a bundle path is itself a symlink.
/// Returns why the link is refused when it is absolute, not in normal form, leaves the bundle or
/// steps back out of another symlink.
pub fn resolve_link(
    link: &str,
    target: &str,
    is_symlink: impl Fn(&str) -> bool,
) -> Result<String, String> {
    if target.is_empty() || target.starts_with('/') {
        return Err(format!("symlink to absolute or empty target `{target}`"));
    }
    let mut at: Vec<&str> = link.split('/').collect();
    at.pop(); // resolution starts in the link's own directory
    for component in target.split('/') {
        match component {
            "" | "." | "\0" => {
                return Err(format!("symlink target `{target}` is not in normal form"));
            }
            ".." => {
                if at.is_empty() {
                    return Err(format!("symlink target `{target}` leaves the bundle"));
                }
                let parent = at.join("/");
                if is_symlink(&parent) {
                    return Err(format!(
                        "symlink target `{target}` steps back out of symlink `{parent}`"
                    ));
                }
                at.pop();
            }
            name => at.push(name),
        }
    }
    Ok(at.join("/"))
}

/// The proper ancestors of a bundle path, nearest last: `a/b/c` gives `a`, `a/b`.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert_eq!(unsafe_reason("code/x.php"), None);
        assert!(unsafe_reason("/etc/passwd").is_some());
        assert!(unsafe_reason("code/../x").is_some());
        assert!(unsafe_reason("code//x").is_some());
        assert!(unsafe_reason("./x").is_some());
        assert!(unsafe_reason("x/").is_some());
        assert!(unsafe_reason("").is_some());
        assert!(unsafe_reason("code/evil\nfile").is_some());
        assert!(unsafe_reason("code/tab\there").is_some());
        assert!(unsafe_reason("code/\u{1b}[31mred").is_some());
        assert_eq!(unsafe_reason("code/é ü.txt"), None);
    }

    #[test]
    fn links_resolve_lexically() {
        let none = |_: &str| false;
        assert_eq!(resolve_link("code/lib/l", "../x", none).unwrap(), "code/x");
        assert_eq!(resolve_link("code/l", "..", none).unwrap(), "");
        assert!(resolve_link("code/l", "../../etc/passwd", none).is_err());
        assert!(resolve_link("l", "/etc/passwd", none).is_err());
        assert!(resolve_link("l", "a//b", none).is_err());
    }

    #[test]
    fn link_chains_cannot_climb_out() {
        // d1/d2/a -> ../../x puts `a` at depth 1; `a/../..` would then leave the tree.
        let links = |p: &str| p == "d1/d2/a";
        let err = resolve_link("d1/d2/b", "a/../..", links).unwrap_err();
        assert!(err.contains("steps back out of symlink `d1/d2/a`"), "{err}");
    }

    #[test]
    fn ancestors_of_a_path() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
