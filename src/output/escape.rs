//! Escaping for everything a renderer takes from a record (host and device names, paths,
//! messages): a record is foreign input, and must not move the terminal's cursor or break a
//! Markdown table that CI writes to `$GITHUB_STEP_SUMMARY`. Every renderer uses these.

/// Text without control characters.
pub fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Text safe inside a Markdown table cell.
pub fn md(text: &str) -> String {
    let mut out = String::new();
    for c in plain(text).chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_pipes_and_markup_are_neutralised() {
        assert_eq!(plain("a\nb\x1b[31mc"), "a?b?[31mc");
        assert_eq!(md("x|y\n<b>"), "x\\|y?&lt;b&gt;");
    }
}
