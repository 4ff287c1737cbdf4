//! A small YAML tree with byte spans, so that every later diagnostic can
//! point at the exact text a person wrote. saphyr's parser does the reading
//! (YAML 1.2); this module builds the tree straight from its events, with
//! the rules of saphyr's loader (duplicate keys rejected, aliases expanded
//! within a budget, scalars typed by the core schema), and keeps the parser
//! from being fed input deep enough to exhaust the stack. Mission files and
//! agent front matter both read YAML through here.
//!
//! The tree is compact, because a 10,000-task mission has some 150,000
//! nodes: a node is 40 bytes, collections are boxed slices of their exact
//! length, and a string is stored only when it differs from the text under
//! its span (plain and simply quoted scalars, nearly all of them, are not
//! copied).

use crate::diagnostic::SourceSpan;
use saphyr::Scalar;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, SpannedEventReceiver, Tag};
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

#[derive(Debug, Clone)]
pub struct Node {
    span: CompactSpan,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    List(Box<[Node]>),
    Map(Box<[(Node, Node)]>),
}

/// Where a string scalar's text is: `Node::str` reads it.
#[derive(Debug, Clone)]
pub struct Text(TextRepr);

#[derive(Debug, Clone)]
enum TextRepr {
    /// Exactly the text under the node's span.
    Span,
    /// The text under the node's span without its quotes.
    Quoted,
    /// Folded, escaped or otherwise different from the file's text.
    Owned(Box<str>),
}

/// A [`SourceSpan`] in 16 bytes, for the many a tree or a mission keeps
/// (files over 4 GiB are refused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactSpan {
    offset: u32,
    len: u32,
    line: u32,
    column: u32,
}

impl CompactSpan {
    /// The byte offset in the file.
    pub fn offset(self) -> usize {
        self.offset as usize
    }

    /// 1-based.
    pub fn line(self) -> usize {
        self.line as usize
    }

    /// 1-based, in characters.
    pub fn column(self) -> usize {
        self.column as usize
    }
}

impl From<CompactSpan> for SourceSpan {
    fn from(span: CompactSpan) -> SourceSpan {
        SourceSpan {
            offset: span.offset as usize,
            len: span.len as usize,
            line: span.line as usize,
            column: span.column as usize,
        }
    }
}

impl From<SourceSpan> for CompactSpan {
    /// Saturating: only files over 4 GiB, which are refused, would need more.
    fn from(span: SourceSpan) -> CompactSpan {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        CompactSpan {
            offset: narrow(span.offset),
            len: narrow(span.len),
            line: narrow(span.line),
            column: narrow(span.column),
        }
    }
}

impl Value {
    /// What a person would call this kind of value, for "expected X, found
    /// Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "text",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// Where the node is in `source`, trailing white space left out.
    pub fn span(&self) -> SourceSpan {
        self.span.into()
    }

    /// [`Node::span`] in its compact form.
    pub fn compact_span(&self) -> CompactSpan {
        self.span
    }

    /// The 1-based line the node starts on.
    pub fn line(&self) -> usize {
        self.span.line as usize
    }

    /// The text under the node's span.
    fn written<'a>(&self, source: &'a str) -> &'a str {
        let start = self.span.offset as usize;
        &source[start..start + self.span.len as usize]
    }

    /// A string scalar's text; `None` for anything else.
    pub fn str<'a>(&'a self, source: &'a str) -> Option<&'a str> {
        match &self.value {
            Value::Str(Text(TextRepr::Span)) => Some(self.written(source)),
            Value::Str(Text(TextRepr::Quoted)) => {
                let written = self.written(source);
                Some(&written[1..written.len() - 1])
            }
            Value::Str(Text(TextRepr::Owned(text))) => Some(text),
            _ => None,
        }
    }

    /// The text of a scalar as the person meant it: strings as parsed,
    /// other scalars as written (so `id: 007` stays "007").
    pub fn scalar_text<'a>(&'a self, source: &'a str) -> Option<&'a str> {
        match &self.value {
            Value::Str(_) => self.str(source),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => Some(self.written(source)),
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }
}

/// Why the YAML could not be read, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub span: SourceSpan,
    pub message: String,
}

/// How deep the block structure at the start of a line may go. saphyr's
/// parser recurses once per level, and so do the clone and the drop of a
/// tree, so a crafted `- - - - …` line could overflow the stack; real files
/// nest a few levels.
const MAX_LINE_NESTING: usize = 64;

/// How many nodes aliases may add to a file, all together: saphyr's
/// default, against "billion laughs" files.
const ALIAS_BUDGET: usize = 100_000;

/// Parses `source` into one document's tree. An empty document is `Null`.
pub fn load(source: &str) -> Result<Node, YamlError> {
    check_nesting(source)?;
    if u32::try_from(source.len()).is_err() {
        return Err(YamlError {
            span: SourceSpan::at(source, 0, 0),
            message: "the file is larger than 4 GiB".to_string(),
        });
    }
    let mut loader = Loader::new(source);
    let scanned = Parser::new_from_str(source).load(&mut loader, true);
    // As saphyr's loader: a syntax error anywhere wins over the tree's own.
    let error = match (scanned, loader.error.take()) {
        (Err(error), _) => Some((*error.marker(), error.info().to_string())),
        (Ok(()), Some((mark, message))) => Some((mark, message.to_string())),
        (Ok(()), None) => None,
    };
    if let Some((mark, message)) = error {
        return Err(YamlError {
            span: SourceSpan::at(source, loader.offsets.byte(mark.index()), 1),
            message,
        });
    }
    let mut documents = loader.documents.into_iter();
    let first = documents.next();
    if let Some(second) = documents.next() {
        return Err(YamlError {
            span: SourceSpan::at(source, second.span.offset as usize, 1),
            message: "a second YAML document starts here".to_string(),
        });
    }
    Ok(first.unwrap_or(Node {
        span: CompactSpan {
            column: 1,
            ..CompactSpan::default()
        },
        value: Value::Null,
    }))
}

fn check_nesting(source: &str) -> Result<(), YamlError> {
    for (index, line) in source.lines().enumerate() {
        if structural_prefix(line) > MAX_LINE_NESTING {
            return Err(YamlError {
                span: SourceSpan::line_of(source, index + 1),
                message: format!("nested more than {MAX_LINE_NESTING} levels deep"),
            });
        }
    }
    Ok(())
}

/// Columns of indentation plus compact collection indicators (`- `, `? `,
/// `: `), anchors and tags before the first content: an upper bound on how
/// many block levels a line can open. Flow nesting is capped by saphyr.
fn structural_prefix(line: &str) -> usize {
    let mut width = 0;
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        width += rest.len() - trimmed.len();
        rest = trimmed;
        let token_len = match rest.chars().next() {
            Some('-' | '?' | ':') if rest[1..].starts_with([' ', '\t']) => 1,
            Some('&' | '!') => rest.find([' ', '\t']).unwrap_or(rest.len()),
            _ => return width,
        };
        width += token_len;
        rest = &rest[token_len..];
    }
}

/// A node as saphyr's loader sees it: besides the value, whether it is
/// saphyr's `BadValue` (a scalar its tag rejects, an unknown alias) and
/// its tag, both of which make a mapping key different from an untagged
/// one.
struct Built {
    node: Node,
    bad: bool,
    /// A hash of the tag when it is not one of the core schema's, else 0.
    tag: u64,
}

/// A collection being read: its children are the tail of `Loader::items`
/// from `base` on (keys and values alternating in a mapping).
struct Frame {
    start: Marker,
    anchor: usize,
    tag: u64,
    map: bool,
    base: usize,
    /// Where this mapping's key identities start in `Loader::keys`.
    keys: usize,
    /// The key whose value is being read: its identity and position.
    key: Option<(u64, Marker)>,
}

struct Loader<'s> {
    source: &'s str,
    offsets: CharOffsets<'s>,
    frames: Vec<Frame>,
    items: Vec<Node>,
    /// Identities of the keys of every open mapping, innermost last.
    keys: Vec<u64>,
    anchors: HashMap<usize, Built>,
    alias_budget: usize,
    documents: Vec<Node>,
    error: Option<(Marker, &'static str)>,
}

impl<'s> SpannedEventReceiver<'s> for Loader<'s> {
    fn on_event(&mut self, event: Event<'s>, span: saphyr_parser::Span) {
        // As saphyr's loader: after an error the tree is not to be trusted.
        if self.error.is_some() {
            return;
        }
        let mark = span.start;
        match event {
            Event::SequenceStart(anchor, tag) => self.open(mark, anchor, tag.as_deref(), false),
            Event::MappingStart(anchor, tag) => self.open(mark, anchor, tag.as_deref(), true),
            Event::SequenceEnd | Event::MappingEnd => self.close(mark),
            Event::Scalar(text, style, anchor, tag) => {
                let built = self.scalar(text, style, tag.as_deref(), span);
                self.insert(built, anchor, mark);
            }
            Event::Alias(id) => {
                let built = self.alias(id, span);
                self.insert(built, 0, mark);
            }
            Event::DocumentStart(_) | Event::DocumentEnd => {}
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }
}

impl<'s> Loader<'s> {
    fn new(source: &'s str) -> Self {
        Loader {
            source,
            offsets: CharOffsets::new(source),
            frames: Vec::new(),
            items: Vec::new(),
            keys: Vec::new(),
            anchors: HashMap::new(),
            alias_budget: ALIAS_BUDGET,
            documents: Vec::new(),
            error: None,
        }
    }

    /// The compact span from `start` to `end`, in bytes, trailing white
    /// space left out: block values end at the start of the next key.
    fn span(&mut self, start: Marker, end: Marker) -> CompactSpan {
        let from = self.offsets.byte(start.index());
        let to = self.offsets.byte(end.index()).max(from);
        // saphyr's markers already count lines and columns; recounting them
        // from the start of the text for every node would be quadratic.
        CompactSpan {
            offset: from as u32,
            len: self.source[from..to].trim_end().len() as u32,
            line: start.line() as u32,
            column: start.col() as u32 + 1,
        }
    }

    fn open(&mut self, start: Marker, anchor: usize, tag: Option<&Tag>, map: bool) {
        self.frames.push(Frame {
            start,
            anchor,
            tag: tag_hash(tag),
            map,
            base: self.items.len(),
            keys: self.keys.len(),
            key: None,
        });
    }

    fn close(&mut self, end: Marker) {
        let frame = self.frames.pop().expect("the parser balances collections");
        let value = if frame.map {
            self.keys.truncate(frame.keys);
            // A key still waiting for its value cannot happen with the
            // parser's events; saphyr would drop it, and so does this.
            let pairs = (self.items.len() - frame.base) / 2;
            let mut children = self.items.drain(frame.base..);
            let entries: Box<[(Node, Node)]> = (0..pairs)
                .map(|_| {
                    let key = children.next().expect("counted");
                    (key, children.next().expect("counted"))
                })
                .collect();
            drop(children);
            Value::Map(entries)
        } else {
            Value::List(self.items.drain(frame.base..).collect())
        };
        let node = Node {
            span: self.span(frame.start, end),
            value,
        };
        let built = Built {
            node,
            bad: false,
            tag: frame.tag,
        };
        self.insert(built, frame.anchor, end);
    }

    fn scalar(
        &mut self,
        text: Cow<'s, str>,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: saphyr_parser::Span,
    ) -> Built {
        let span = self.span(span.start, span.end);
        let custom = tag.filter(|t| !t.is_yaml_core_schema());
        // As saphyr: a tag outside the core schema keeps the scalar's usual
        // type; a core one decides it, or makes the scalar bad.
        let typed = match custom {
            Some(_) => Scalar::parse_from_cow_and_metadata(Cow::Borrowed(&*text), style, None),
            None => {
                let tag = tag.map(Cow::Borrowed);
                Scalar::parse_from_cow_and_metadata(Cow::Borrowed(&*text), style, tag.as_ref())
            }
        };
        let (value, bad) = match typed {
            None => (Some(Value::Null), true),
            Some(Scalar::Null) => (Some(Value::Null), false),
            Some(Scalar::Boolean(b)) => (Some(Value::Bool(b)), false),
            Some(Scalar::Integer(i)) => (Some(Value::Int(i)), false),
            Some(Scalar::FloatingPoint(f)) => (Some(Value::Float(f.into_inner())), false),
            Some(Scalar::String(_)) => (None, false),
        };
        let value = value.unwrap_or_else(|| Value::Str(self.text(span, text)));
        Built {
            node: Node { span, value },
            bad,
            tag: tag_hash(custom),
        }
    }

    /// Keeps a string only when the file's text under `span` is not it.
    fn text(&self, span: CompactSpan, text: Cow<'s, str>) -> Text {
        let start = span.offset as usize;
        let written = &self.source[start..start + span.len as usize];
        let bytes = written.as_bytes();
        if written == text {
            Text(TextRepr::Span)
        } else if bytes.len() >= 2
            && matches!(bytes[0], b'"' | b'\'')
            && bytes[bytes.len() - 1] == bytes[0]
            && written[1..written.len() - 1] == *text
        {
            Text(TextRepr::Quoted)
        } else {
            Text(TextRepr::Owned(text.into_owned().into_boxed_str()))
        }
    }

    /// A copy of the anchored node, at the alias's place; bad when the
    /// anchor is unknown or the copy would exceed the budget.
    fn alias(&mut self, id: usize, marks: saphyr_parser::Span) -> Built {
        let span = self.span(marks.start, marks.end);
        let bad = Built {
            node: Node {
                span,
                value: Value::Null,
            },
            bad: true,
            tag: 0,
        };
        let Some(anchored) = self.anchors.get(&id) else {
            return bad;
        };
        let mut remaining = self.alias_budget;
        if !within_budget(anchored, &mut remaining) {
            self.error = Some((
                marks.start,
                "alias expansion exceeded the maximum node budget (possible billion-laughs attack)",
            ));
            return bad;
        }
        self.alias_budget = remaining;
        let mut node = anchored.node.clone();
        // A copied string keeps the anchor's text, not the alias's.
        if let Value::Str(Text(TextRepr::Span | TextRepr::Quoted)) = node.value {
            let text = node.str(self.source).unwrap_or_default().into();
            node.value = Value::Str(Text(TextRepr::Owned(text)));
        }
        node.span = span;
        Built {
            node,
            bad: anchored.bad,
            tag: anchored.tag,
        }
    }

    /// Places a finished node: as the document, an item of a sequence, a
    /// key of a mapping or the value of the key before it.
    fn insert(&mut self, built: Built, anchor: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Built {
                    node: built.node.clone(),
                    bad: built.bad,
                    tag: built.tag,
                },
            );
        }
        let Some(frame) = self.frames.last_mut() else {
            self.documents.push(built.node);
            return;
        };
        if !frame.map {
            self.items.push(built.node);
            return;
        }
        match frame.key.take() {
            // As saphyr: a bad node cannot be a key; the next node is.
            None if built.bad => {}
            None => {
                frame.key = Some((identity(&built, self.source), mark));
                self.items.push(built.node);
            }
            Some((key, key_mark)) => {
                let base = frame.base;
                let earlier = &self.keys[frame.keys..];
                let new_key = &self.items[self.items.len() - 1];
                let duplicate = earlier.iter().enumerate().any(|(i, &other)| {
                    other == key && same(&self.items[base + 2 * i], new_key, self.source)
                });
                if duplicate {
                    self.error = Some((key_mark, "duplicated key in mapping"));
                    return;
                }
                self.keys.push(key);
                self.items.push(built.node);
            }
        }
    }
}

/// A mapping key's identity for duplicate detection: equal keys (as saphyr
/// compares them: by value, tag and badness, not by place) hash equally.
fn identity(built: &Built, source: &str) -> u64 {
    let mut hasher = Fnv::default();
    (built.bad, built.tag).hash(&mut hasher);
    hash_value(&built.node, source, &mut hasher);
    hasher.finish()
}

fn hash_value(node: &Node, source: &str, hasher: &mut Fnv) {
    std::mem::discriminant(&node.value).hash(hasher);
    match &node.value {
        Value::Null => {}
        Value::Bool(b) => b.hash(hasher),
        Value::Int(i) => i.hash(hasher),
        // As ordered-float: all NaNs are one value, and -0.0 is 0.0.
        Value::Float(f) if f.is_nan() => u64::MAX.hash(hasher),
        Value::Float(f) => (f + 0.0).to_bits().hash(hasher),
        Value::Str(_) => node.str(source).hash(hasher),
        Value::List(items) => {
            items.len().hash(hasher);
            for item in items {
                hash_value(item, source, hasher);
            }
        }
        Value::Map(entries) => {
            entries.len().hash(hasher);
            for (key, value) in entries {
                hash_value(key, source, hasher);
                hash_value(value, source, hasher);
            }
        }
    }
}

/// FNV-1a: keys are short, and equal hashes are compared in full anyway.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Equal values, wherever they are.
fn same(a: &Node, b: &Node, source: &str) -> bool {
    match (&a.value, &b.value) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Str(_), Value::Str(_)) => a.str(source) == b.str(source),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| same(x, y, source))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((xk, xv), (yk, yv))| same(xk, yk, source) && same(xv, yv, source))
        }
        _ => false,
    }
}

/// A hash of a tag outside the core schema (those make a node tagged in
/// saphyr's tree); 0 for none.
fn tag_hash(tag: Option<&Tag>) -> u64 {
    match tag.filter(|t| !t.is_yaml_core_schema()) {
        Some(tag) => {
            let mut hasher = Fnv::default();
            (&tag.handle, &tag.suffix).hash(&mut hasher);
            hasher.finish() | 1
        }
        None => 0,
    }
}

/// Takes the anchored node's size from `budget`, as saphyr counts it: a
/// tagged node is one, a mapping entry is one plus its value. False when
/// the budget runs out first.
fn within_budget(anchored: &Built, budget: &mut usize) -> bool {
    fn count(node: &Node, budget: &mut usize) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match &node.value {
            Value::List(items) => items.iter().all(|item| count(item, budget)),
            Value::Map(entries) => entries.iter().all(|(_, value)| {
                if *budget == 0 {
                    return false;
                }
                *budget -= 1;
                count(value, budget)
            }),
            _ => true,
        }
    }
    if anchored.tag != 0 || anchored.bad {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        return true;
    }
    count(&anchored.node, budget)
}

/// saphyr counts characters; spans are bytes. In ASCII text they are the
/// same; otherwise a cursor walks from the last position asked for, which
/// is never far: the parser's marks move forward through the file.
struct CharOffsets<'s> {
    source: &'s str,
    ascii: bool,
    char_index: usize,
    byte: usize,
}

impl<'s> CharOffsets<'s> {
    fn new(source: &'s str) -> Self {
        CharOffsets {
            source,
            ascii: source.is_ascii(),
            char_index: 0,
            byte: 0,
        }
    }

    fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.source.len());
        }
        while self.char_index < char_index {
            match self.source[self.byte..].chars().next() {
                Some(c) => {
                    self.byte += c.len_utf8();
                    self.char_index += 1;
                }
                None => return self.source.len(),
            }
        }
        while self.char_index > char_index {
            let c = self.source[..self.byte]
                .chars()
                .next_back()
                .expect("a character before the cursor");
            self.byte -= c.len_utf8();
            self.char_index -= 1;
        }
        self.byte
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes_and_point_at_values() {
        let source = "name: é\ntitle: x\n";
        let node = load(source).unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a mapping")
        };
        let (key, value) = &entries[1];
        assert_eq!(key.scalar_text(source), Some("title"));
        assert_eq!((value.span().line, value.span().column), (2, 8));
        assert_eq!(value.written(source), "x");
    }

    #[test]
    fn numbers_keep_their_written_form_as_text() {
        let source = "id: 007\n";
        let Value::Map(entries) = load(source).unwrap().value else {
            panic!("expected a mapping")
        };
        assert_eq!(entries[0].1.scalar_text(source), Some("007"));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let error = load("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.span.line, 2);
    }

    #[test]
    fn deep_compact_nesting_is_refused_before_parsing() {
        let error = load(&("- ".repeat(10_000) + "x")).unwrap_err();
        assert!(error.message.contains("nested"), "{error:?}");
    }

    /// What saphyr's own loader makes of `source`, described like
    /// [`describe`]: the tree this module built before it read events.
    fn saphyr_tree(source: &str) -> Result<String, YamlError> {
        use saphyr::{LoadableYamlNode, MarkedYaml, YamlData};
        let chars: Vec<usize> = source.char_indices().map(|(i, _)| i).collect();
        let byte = |index: usize| chars.get(index).copied().unwrap_or(source.len());
        fn walk(
            node: &MarkedYaml<'_>,
            outer: &saphyr_parser::Span,
            source: &str,
            byte: &dyn Fn(usize) -> usize,
            out: &mut String,
        ) {
            let span = outer;
            let start = byte(span.start.index());
            let end = byte(span.end.index()).max(start);
            let len = source[start..end].trim_end().len();
            out.push_str(&format!(
                "@{start}+{len}:{}:{} ",
                span.start.line(),
                span.start.col() + 1
            ));
            match &node.data {
                YamlData::Value(Scalar::Null) => out.push_str("null"),
                YamlData::Value(Scalar::Boolean(b)) => out.push_str(&format!("{b}")),
                YamlData::Value(Scalar::Integer(i)) => out.push_str(&format!("int {i}")),
                YamlData::Value(Scalar::FloatingPoint(f)) => {
                    out.push_str(&format!("float {:?}", f.into_inner()))
                }
                YamlData::Value(Scalar::String(s)) => out.push_str(&format!("{s:?}")),
                YamlData::Sequence(items) => {
                    out.push('[');
                    for item in items {
                        walk(item, &item.span, source, byte, out);
                        out.push_str(", ");
                    }
                    out.push(']');
                }
                YamlData::Mapping(entries) => {
                    out.push('{');
                    for (key, value) in entries {
                        walk(key, &key.span, source, byte, out);
                        out.push_str(": ");
                        walk(value, &value.span, source, byte, out);
                        out.push_str(", ");
                    }
                    out.push('}');
                }
                // Tagged scalars were read at the tag's place (saphyr
                // gives the inner node no position of its own).
                YamlData::Tagged(_, inner) => {
                    out.clear_last_span();
                    walk(inner, outer, source, byte, out)
                }
                _ => out.push_str("null"),
            }
        }
        trait ClearLastSpan {
            fn clear_last_span(&mut self);
        }
        impl ClearLastSpan for String {
            fn clear_last_span(&mut self) {
                let at = self.rfind('@').expect("a span was written");
                self.truncate(at);
            }
        }
        let documents = MarkedYaml::load_from_str(source).map_err(|error| YamlError {
            span: SourceSpan::at(source, byte(error.marker().index()), 1),
            message: error.info().to_string(),
        })?;
        if let Some(second) = documents.get(1) {
            return Err(YamlError {
                span: SourceSpan::at(source, byte(second.span.start.index()), 1),
                message: "a second YAML document starts here".to_string(),
            });
        }
        let mut out = String::new();
        match documents.first() {
            Some(document) => walk(document, &document.span, source, &byte, &mut out),
            None => out.push_str("@0+0:0:1 null"),
        }
        Ok(out)
    }

    fn describe(node: &Node, source: &str, out: &mut String) {
        let span = node.span();
        out.push_str(&format!(
            "@{}+{}:{}:{} ",
            span.offset, span.len, span.line, span.column
        ));
        match &node.value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(&format!("{b}")),
            Value::Int(i) => out.push_str(&format!("int {i}")),
            Value::Float(f) => out.push_str(&format!("float {f:?}")),
            Value::Str(_) => out.push_str(&format!("{:?}", node.str(source).unwrap())),
            Value::List(items) => {
                out.push('[');
                for item in items {
                    describe(item, source, out);
                    out.push_str(", ");
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (key, value) in entries {
                    describe(key, source, out);
                    out.push_str(": ");
                    describe(value, source, out);
                    out.push_str(", ");
                }
                out.push('}');
            }
        }
    }

    fn ours(source: &str) -> Result<String, YamlError> {
        let mut out = String::new();
        describe(&load(source)?, source, &mut out);
        Ok(out)
    }

    /// Texts that exercise every rule of saphyr's loader this module
    /// reproduces.
    const CASES: &[&str] = &[
        "",
        "# nothing yet\n",
        "---\n",
        "~\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n---\n",
        "a: 1\n--- x\n",
        "a: 1\na: 2\n",
        "a: 1\n'a': 2\n",
        "1: a\n'1': b\n",
        "1: a\n1.0: b\n",
        "0.0: a\n-0.0: b\n",
        ".nan: a\n.NaN: b\n",
        "true: a\nTrue: b\n",
        "~: a\nnull: b\n",
        "!t a: 1\na: 2\n",
        "!t a: 1\n!t a: 2\n",
        "!t a: 1\n!u a: 2\n",
        "[a]: 1\n[a]: 2\n",
        "? [a, {b: c}]\n: 1\n? [a, {b: c}]\n: 2\n",
        "{a: {b: 1, b: 2}, a: 3}\n",
        "a: [x, {b: 1, c: 2, b: 3}]\nd: 1\n",
        "a: &x hello\nb: *x\nc: *y\n",
        "a: &x 'quoted'\nb: *x\n",
        "a: &x {k: v, n: 1}\nb: *x\nc: [*x, *x]\n",
        "a: &x [1, 2]\n*x : 3\n",
        "a: &x\n  - 1\n  - 2\nb: *x\n",
        "*nothing : 1\nb: 2\n",
        "{*nothing : a, b: c}\n",
        "!!int x: 1\nb: 2\n",
        "a: !!int x\nb: !!str 12\nc: !!float 1\nd: !!bool true\ne: !!null ~\nf: !!foo x\n",
        "a: !custom 12\nb: !custom [1]\nc: !custom {k: v}\nd: !!map {k: v}\n",
        "a: &x !t 5\nb: *x\n",
        "a: 0x1f\nb: 0o17\nc: +12\nd: -3\ne: 1e3\nf: .inf\ng: -.Inf\nh: 007\ni: 1_000\n",
        "a: yes\nb: No\nc: TRUE\nd: false\n",
        "a: 'it''s'\nb: \"tab\\there\"\nc: \"plain\"\nd: ''\ne: \"\"\n",
        "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n\nc: x\n",
        "a: plain\n  continued\n  lines\nb: 'quoted\n  over lines'\n",
        "name: é\ntitle: ünïcödé ✓\nlist: [α, β, 'γ δ']\n",
        "ключ: значение\nkey: [a: 1, b]\n",
        "emoji: 🚀🚀\nnext: {x: 🚀, y: '🚀'}\n",
        "tasks:\n  - {id: T1, title: t, depends_on: [T0]}\n  - id: T2\n    title: u\n",
        "a: [1, 2\n",
        "a: b: c\n",
        "mission:\n  name: x\ntasks:\n  - title: a: b\n",
        "a: 1\n  b: 2\n",
        "a:\n- 1\n- 2\nb: {c: [d, e], f: g}\n",
        "- a\n- - b\n  - c\n- {d: e}\n",
        "\t- tab\n",
        "a: 'unterminated\n",
        "a: 1 # comment\nb: 2    \nc:    \nd:\n",
        "%YAML 1.2\n---\na: 1\n...\n",
        "a: 1\r\nb: 2\r\n",
        "a: &x 1\nb: &x 2\nc: *x\n",
        "a: 'é' # é\nb: \"é\\u00e9\"\n",
        "? a\n? b\n",
        "[a, b]: 1\n",
        "&a a: *a\n",
        "x: &r [*r]\n",
    ];

    #[test]
    fn the_tree_is_saphyrs() {
        let files = [
            include_str!("../../../examples/web-platform/mission.yaml"),
            include_str!("../../../examples/incident-response/mission.yaml"),
            include_str!("../tests/fixtures/missions/broken.yaml"),
            include_str!("../tests/fixtures/agents/non-ascii.md"),
            include_str!("../tests/fixtures/agents/crlf.md"),
        ];
        for source in CASES.iter().chain(&files) {
            assert_eq!(ours(source), saphyr_tree(source), "for {source:?}");
        }
    }

    #[test]
    fn the_alias_budget_stops_billion_laughs() {
        let mut source = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, previous) in ["b", "c", "d", "e", "f"]
            .iter()
            .zip(["a", "b", "c", "d", "e"])
        {
            source.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{previous}"); 10].join(", ")
            ));
        }
        assert_eq!(ours(&source), saphyr_tree(&source));
        assert!(ours(&source).unwrap_err().message.contains("budget"));
    }

    #[test]
    fn structural_prefix_counts_indicators_not_content() {
        assert_eq!(structural_prefix("  - - x"), 6);
        assert_eq!(structural_prefix("name: a - b - c"), 0);
        assert_eq!(structural_prefix("- &anchor !tag - x"), 17);
    }
}
