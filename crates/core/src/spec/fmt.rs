//! Writing auto-assigned task IDs back into a mission file, touching
//! nothing else: comments, order and layout stay as the person wrote them.

use super::Mission;

/// The file's text with an `id:` line added to every task that had none,
/// or `None` when every task already has an ID.
pub fn assign_ids_in_text(source: &str, mission: &Mission) -> Option<String> {
    let mut insertions: Vec<(usize, String)> = mission
        .tasks
        .iter()
        .filter(|task| task.id_assigned)
        .map(|task| {
            let entry = task.spans.entry;
            if source[entry.offset()..].starts_with('{') {
                (entry.offset() + 1, format!("id: {}, ", task.id))
            } else {
                let indent = " ".repeat(entry.column() - 1);
                (entry.offset(), format!("id: {}\n{indent}", task.id))
            }
        })
        .collect();
    if insertions.is_empty() {
        return None;
    }
    insertions.sort_by_key(|(offset, _)| std::cmp::Reverse(*offset));
    let mut text = source.to_string();
    for (offset, insertion) in insertions {
        text.insert_str(offset, &insertion);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse;

    #[test]
    fn ids_are_written_in_place_and_reparse_identically() {
        let source = "mission:\n  name: m\ntasks:\n  # first\n  - title: a\n    estimate: 1\n  - {title: b, depends_on: REQ-001}\n  - id: REQ-002\n    title: c\n";
        let mission = parse(source).mission.unwrap();
        let text = assign_ids_in_text(source, &mission).unwrap();
        assert_eq!(
            text,
            "mission:\n  name: m\ntasks:\n  # first\n  - id: REQ-001\n    title: a\n    estimate: 1\n  - {id: REQ-003, title: b, depends_on: REQ-001}\n  - id: REQ-002\n    title: c\n"
        );
        let again = parse(&text).mission.unwrap();
        let ids: Vec<_> = again.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["REQ-001", "REQ-003", "REQ-002"]);
        assert!(again.tasks.iter().all(|t| !t.id_assigned));
        assert_eq!(assign_ids_in_text(&text, &again), None);
    }
}
