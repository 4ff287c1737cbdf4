//! Plain-text tables that fit a width: columns shrink from the widest
//! flexible one, and cut text ends with `…`.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub struct Column {
    pub header: &'static str,
    /// Flexible columns give up width when the table is too wide.
    pub flexible: bool,
}

pub fn column(header: &'static str, flexible: bool) -> Column {
    Column { header, flexible }
}

/// Lays out `rows` under `columns` within `width` characters.
pub fn render(columns: &[Column], rows: &[Vec<String>], width: usize) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.header.width()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    shrink(&mut widths, columns, width);
    let mut out = String::new();
    let headers: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
    for row in std::iter::once(&headers).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| pad(&fit(cell, w), w))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Takes one column of width at a time from the widest flexible column, so
/// that long columns shrink together rather than one collapsing.
fn shrink(widths: &mut [usize], columns: &[Column], width: usize) {
    let gaps = 2 * widths.len().saturating_sub(1);
    let mut total: usize = widths.iter().sum::<usize>() + gaps;
    while total > width {
        let widest = (0..widths.len())
            .filter(|&i| columns[i].flexible && widths[i] > MIN_WIDTH)
            .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
        let Some(i) = widest else { return };
        widths[i] -= 1;
        total -= 1;
    }
}

const MIN_WIDTH: usize = 8;

/// `text` cut to `width` display columns, ending in `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn pad(text: &str, width: usize) -> String {
    let padding = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(padding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_flexible_columns_to_fit() {
        let columns = [column("ID", false), column("TITLE", true)];
        let rows = vec![vec![
            "A-1".to_string(),
            "a very long title indeed".to_string(),
        ]];
        let text = render(&columns, &rows, 16);
        assert_eq!(text, "ID   TITLE\nA-1  a very lon…\n");
        assert!(text.lines().all(|l| l.width() <= 16));
    }

    #[test]
    fn fit_counts_display_width() {
        assert_eq!(fit("héllo wörld", 6), "héllo…");
        assert_eq!(fit("short", 10), "short");
    }
}
