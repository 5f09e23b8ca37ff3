//! A readable line diff of one page, before against after: what the operator reads when a
//! release is refused, and what is kept in `<run>/samples/diff/`.

use similar::{ChangeTag, TextDiff};

/// A unified diff (3 lines of context) of `before` and `after`, headed by their labels.
pub fn unified(before: &str, after: &str, before_label: &str, after_label: &str) -> String {
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(before_label, after_label)
        .to_string()
}

/// The lines removed and added between `before` and `after`, without their newline.
pub fn changed_lines(before: &str, after: &str) -> Vec<(ChangeTag, String)> {
    TextDiff::from_lines(before, after)
        .iter_all_changes()
        .filter(|c| c.tag() != ChangeTag::Equal)
        .map(|c| (c.tag(), c.value().trim_end_matches('\n').to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_changed_line_in_context() {
        let before = "a\nb\nc\n12.90 €\nd\n";
        let after = "a\nb\nc\n12 €\nd\n";
        insta::assert_snapshot!(unified(before, after, "before/x", "after/x"));
        assert_eq!(
            changed_lines(before, after),
            vec![
                (ChangeTag::Delete, "12.90 €".to_string()),
                (ChangeTag::Insert, "12 €".to_string())
            ]
        );
    }
}
