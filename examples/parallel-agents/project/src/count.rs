//! Counting the parts of a text.

/// The number of words: runs of characters between whitespace.
pub fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The number of lines; a last line without a newline still counts.
pub fn lines(text: &str) -> usize {
    text.lines().count()
}

/// The number of characters (Unicode scalar values, not bytes).
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_across_any_whitespace() {
        assert_eq!(words("the quick\tbrown\n fox"), 4);
        assert_eq!(words("   "), 0);
    }

    #[test]
    fn counts_lines_with_or_without_a_final_newline() {
        assert_eq!(lines("one\ntwo\n"), 2);
        assert_eq!(lines("one\ntwo"), 2);
        assert_eq!(lines(""), 0);
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(chars("héllo"), 5);
    }
}
