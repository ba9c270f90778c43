//! How text becomes search words, the same for both backends: folded to lower case without
//! accents (`Łódź` → `lodz`, `Άλφα` → `αλφα`, full-width letters to plain ones), split at
//! anything not a letter or digit; CJK text, written without spaces, as each character and
//! each overlapping pair of characters (`打印机` → `打 印 机 打印 印机`), so a query of two or
//! more characters finds them anywhere in a longer run.
//!
//! A query's words are quoted here for FTS5 or PostgreSQL: no character a person types is
//! ever read as query syntax.

use std::ops::Range;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longer words are cut to this many characters (a hash, a base64 blob).
const MAX_WORD_CHARS: usize = 64;
/// Characters shown before the first match in a snippet.
const SNIPPET_BEFORE_CHARS: usize = 40;
/// Characters of a snippet, at most.
const SNIPPET_CHARS: usize = 180;

/// Text for a snippet, and where the query's words are in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Snippet {
    /// Plain text (one line, `…` where it was cut): escape it before showing it as HTML.
    pub text: String,
    /// The matched words, as byte offsets into `text` (on character boundaries), in order,
    /// not overlapping.
    pub marks: Vec<Mark>,
}

/// `text[start..end]` matched the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mark {
    pub start: usize,
    pub end: usize,
}

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    /// Folded, letters and digits only.
    pub word: String,
    /// Matches any word that starts with it (the word a person is still typing).
    pub prefix: bool,
    /// Must come right after the previous term (typed joined to it: `pc-7`).
    pub follows: bool,
}

/// A run of folded text: a word, or CJK characters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Word(String),
    Cjk(Vec<char>),
}

/// Chinese, Japanese and Korean scripts, written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK Extension A
        | 0x4E00..=0x9FFF // CJK Unified Ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F) // CJK Extensions B to F, Compatibility Supplement
}

/// `c` in lower case without accents, compatibility forms made plain; may be empty (a
/// combining mark) or several characters (`ß` → `ss`).
fn fold(c: char, out: &mut Vec<char>) {
    // Letters whose accent is no combining mark, so decomposing keeps it.
    let plain = match c {
        'ł' | 'Ł' => Some('l'),
        'đ' | 'Đ' => Some('d'),
        'ø' | 'Ø' => Some('o'),
        'ħ' | 'Ħ' => Some('h'),
        'ς' => Some('σ'),
        _ => None,
    };
    if let Some(plain) = plain {
        out.push(plain);
        return;
    }
    if c == 'ß' || c == 'ẞ' {
        out.extend(['s', 's']);
        return;
    }
    for decomposed in std::iter::once(c).nfkd() {
        if is_combining_mark(decomposed) {
            continue;
        }
        for lower in decomposed.to_lowercase() {
            out.push(if lower == 'ς' { 'σ' } else { lower });
        }
    }
}

/// The folded words and CJK runs of `text`.
fn pieces(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut word = String::new();
    let mut word_chars = 0;
    let mut cjk: Vec<char> = Vec::new();
    let mut folded = Vec::new();
    for c in text.chars() {
        folded.clear();
        fold(c, &mut folded);
        for &c in &folded {
            if is_cjk(c) {
                if !word.is_empty() {
                    pieces.push(Piece::Word(std::mem::take(&mut word)));
                    word_chars = 0;
                }
                cjk.push(c);
            } else if c.is_alphanumeric() {
                if !cjk.is_empty() {
                    pieces.push(Piece::Cjk(std::mem::take(&mut cjk)));
                }
                if word_chars < MAX_WORD_CHARS {
                    word.push(c);
                    word_chars += 1;
                }
            } else {
                if !word.is_empty() {
                    pieces.push(Piece::Word(std::mem::take(&mut word)));
                    word_chars = 0;
                }
                if !cjk.is_empty() {
                    pieces.push(Piece::Cjk(std::mem::take(&mut cjk)));
                }
            }
        }
    }
    if !word.is_empty() {
        pieces.push(Piece::Word(word));
    }
    if !cjk.is_empty() {
        pieces.push(Piece::Cjk(cjk));
    }
    pieces
}

/// The words a document is indexed by.
pub fn document_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for piece in pieces(text) {
        match piece {
            Piece::Word(word) => terms.push(word),
            Piece::Cjk(run) => {
                terms.extend(run.iter().map(char::to_string));
                terms.extend(run.windows(2).map(|pair| pair.iter().collect()));
            }
        }
    }
    terms
}

/// The words of a query: every one must match, the last as a prefix. Words typed without a
/// space between them (`pc-7`, `dc1.corp`) must follow one another, as a phrase. A CJK run
/// of two or more characters is its overlapping pairs.
pub fn query_terms(text: &str) -> Vec<QueryTerm> {
    let mut terms: Vec<QueryTerm> = Vec::new();
    for chunk in text.split_whitespace() {
        let mut after_word = false;
        for piece in pieces(chunk) {
            match piece {
                Piece::Word(word) => {
                    terms.push(QueryTerm {
                        word,
                        prefix: false,
                        follows: after_word,
                    });
                    after_word = true;
                }
                Piece::Cjk(run) => {
                    let words: Vec<String> = if run.len() == 1 {
                        vec![run[0].to_string()]
                    } else {
                        run.windows(2).map(|pair| pair.iter().collect()).collect()
                    };
                    terms.extend(words.into_iter().map(|word| QueryTerm {
                        word,
                        prefix: false,
                        follows: false,
                    }));
                    after_word = false;
                }
            }
        }
    }
    let typed_last = text.trim_end().len() == text.len();
    if let Some(last) = terms.last_mut() {
        // "dns " (a space typed after it) is a whole word.
        last.prefix = typed_last;
    }
    terms
}

/// An FTS5 MATCH expression: each word a quoted string, all of them required.
pub fn fts5_query(terms: &[QueryTerm]) -> String {
    let mut query = String::new();
    for term in terms {
        if !query.is_empty() {
            query.push_str(if term.follows { " + " } else { " AND " });
        }
        query.push('"');
        query.push_str(&term.word.replace('"', "\"\""));
        query.push('"');
        if term.prefix {
            query.push('*');
        }
    }
    query
}

/// A tsquery in PostgreSQL's input syntax, each lexeme quoted: all of them required.
pub fn postgres_query(terms: &[QueryTerm]) -> String {
    let mut query = String::new();
    for term in terms {
        if !query.is_empty() {
            query.push_str(if term.follows { " <-> " } else { " & " });
        }
        query.push_str(&postgres_lexeme(&term.word));
        if term.prefix {
            query.push_str(":*");
        }
    }
    query
}

/// PostgreSQL keeps positions up to this (larger ones would all become it).
const POSTGRES_MAX_POSITION: usize = 16_383;
/// PostgreSQL keeps at most this many positions of a lexeme.
const POSTGRES_POSITIONS_PER_LEXEME: usize = 255;

/// A tsvector in PostgreSQL's input syntax: the words as lexemes, exactly as given, with
/// their positions (for phrases) as far as PostgreSQL keeps them.
pub fn postgres_vector(terms: &[String]) -> String {
    let mut positions: std::collections::HashMap<&str, Vec<String>> = Default::default();
    let mut order: Vec<&str> = Vec::new();
    for (index, term) in terms.iter().enumerate() {
        let at = positions.entry(term).or_insert_with(|| {
            order.push(term);
            Vec::new()
        });
        let position = index + 1;
        if position <= POSTGRES_MAX_POSITION && at.len() < POSTGRES_POSITIONS_PER_LEXEME {
            at.push(position.to_string());
        }
    }
    order
        .iter()
        .map(|term| {
            let lexeme = postgres_lexeme(term);
            match positions.get(term) {
                Some(at) if !at.is_empty() => format!("{lexeme}:{}", at.join(",")),
                _ => lexeme,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn postgres_lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// `text` cut to at most `max_bytes`, on a character boundary.
pub fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A document's text, line by line, up to a size.
pub struct Text {
    text: String,
    max_bytes: usize,
}

impl Text {
    pub fn new(max_bytes: usize) -> Self {
        Text {
            text: String::new(),
            max_bytes,
        }
    }

    /// Adds a line (nothing once the text is full; an empty line is skipped).
    pub fn push(&mut self, line: &str) {
        let line = line.trim();
        let room = self.max_bytes.saturating_sub(self.text.len() + 1);
        if line.is_empty() || room == 0 {
            return;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(truncate(line, room));
    }

    /// Adds the values of a JSON document (strings and numbers, not the keys: `{"server":
    /// "dc1"}` reads `dc1`); text that is not JSON is added as it is.
    pub fn push_json_values(&mut self, json: &str) {
        match serde_json::from_str::<serde_json::Value>(json) {
            Ok(value) => self.push_value(&value),
            Err(_) => self.push(json),
        }
    }

    fn push_value(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(text) => self.push(text),
            serde_json::Value::Number(number) => self.push(&number.to_string()),
            serde_json::Value::Array(values) => values.iter().for_each(|v| self.push_value(v)),
            serde_json::Value::Object(fields) => fields.values().for_each(|v| self.push_value(v)),
            serde_json::Value::Bool(_) | serde_json::Value::Null => {}
        }
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// A folded character and the bytes of `text` it came from.
struct Folded {
    c: char,
    from: Range<usize>,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Where `terms` occur in `text`, as byte ranges of `text`: words at word starts (the whole
/// word marked; a whole-word term only where the word ends with it), CJK anywhere.
fn matches(text: &str, terms: &[QueryTerm]) -> Vec<Range<usize>> {
    let mut folded: Vec<Folded> = Vec::new();
    let mut buffer = Vec::new();
    for (start, c) in text.char_indices() {
        buffer.clear();
        fold(c, &mut buffer);
        let from = start..start + c.len_utf8();
        folded.extend(buffer.iter().map(|&c| Folded {
            c,
            from: from.clone(),
        }));
    }
    let mut found = Vec::new();
    for term in terms {
        let word: Vec<char> = term.word.chars().collect();
        let cjk = word.iter().any(|&c| is_cjk(c));
        for start in 0..folded.len() {
            let at_word_start = cjk || start == 0 || !is_word_char(folded[start - 1].c);
            if !at_word_start
                || folded.len() - start < word.len()
                || !folded[start..start + word.len()]
                    .iter()
                    .zip(&word)
                    .all(|(f, &c)| f.c == c)
            {
                continue;
            }
            let mut end = start + word.len();
            if !cjk {
                let word_end = folded[end..]
                    .iter()
                    .position(|f| !is_word_char(f.c))
                    .map_or(folded.len(), |n| end + n);
                if word_end != end && !term.prefix {
                    continue;
                }
                end = word_end;
            }
            found.push(folded[start].from.start..folded[end - 1].from.end);
        }
    }
    found.sort_by_key(|range| (range.start, range.end));
    let mut merged: Vec<Range<usize>> = Vec::new();
    for range in found {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// A short piece of `body` around the first match of `terms`, the matches marked (the
/// start of `body` when none is in it: its words may have come from past the stored text).
pub fn snippet(body: &str, terms: &[QueryTerm]) -> Snippet {
    let found = matches(body, terms);
    let first = found.first().map_or(0, |range| range.start);
    // Back up a few characters before the first match, then take a snippet's worth.
    let start = body[..first]
        .char_indices()
        .rev()
        .nth(SNIPPET_BEFORE_CHARS - 1)
        .map_or(0, |(at, _)| at);
    let end = body[start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(body.len(), |(at, _)| start + at);
    let lead = if start > 0 { "…" } else { "" };
    let mut text = String::with_capacity(end - start + 8);
    text.push_str(lead);
    // Lines become spaces, byte for byte, so the offsets stay true.
    text.extend(body[start..end].chars().map(|c| match c {
        '\n' | '\r' | '\t' => ' ',
        c => c,
    }));
    let marks = found
        .iter()
        .filter(|range| range.start >= start && range.end <= end)
        .map(|range| Mark {
            start: range.start - start + lead.len(),
            end: range.end - start + lead.len(),
        })
        .collect();
    if end < body.len() {
        text.push('…');
    }
    Snippet { text, marks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        query_terms(text).into_iter().map(|t| t.word).collect()
    }

    #[test]
    fn accents_and_case_fold_in_polish_greek_and_full_width() {
        for (typed, folded) in [
            ("Łódź", "lodz"),
            ("ZAŻÓŁĆ gęślą", "zazolc gesla"),
            ("Άλφα ΔΊΚΤΥΟ", "αλφα δικτυο"),
            ("εκτυπωτής ΕΚΤΥΠΩΤΗΣ", "εκτυπωτησ εκτυπωτησ"),
            ("Ｗｉｎｄｏｗｓ", "windows"),
            ("Straße", "strasse"),
        ] {
            assert_eq!(
                words(typed),
                folded.split(' ').collect::<Vec<_>>(),
                "{typed}"
            );
        }
    }

    #[test]
    fn cjk_runs_are_characters_and_pairs_in_documents_and_pairs_in_queries() {
        assert_eq!(
            document_terms("打印机 ok"),
            ["打", "印", "机", "打印", "印机", "ok"]
        );
        assert_eq!(words("打印机"), ["打印", "印机"]);
        assert_eq!(words("机"), ["机"]);
        assert_eq!(words("win10打印机"), ["win10", "打印", "印机"]);
    }

    #[test]
    fn the_last_word_is_a_prefix_until_a_space_follows_it() {
        let terms = query_terms("carol dn");
        assert_eq!(
            terms.iter().map(|t| t.prefix).collect::<Vec<_>>(),
            [false, true]
        );
        assert!(!query_terms("carol dns ").last().expect("a term").prefix);
    }

    #[test]
    fn query_syntax_is_quoted_never_read() {
        for hostile in [
            r#"" OR 1=1 --"#,
            "NEAR(a b) * -x : ( ) ^",
            "a\"b\"c'd\\e",
            "'; DROP TABLE tickets; --",
        ] {
            let terms = query_terms(hostile);
            assert!(!terms.is_empty(), "{hostile}");
            for term in &terms {
                assert!(term.word.chars().all(char::is_alphanumeric), "{term:?}");
            }
            let fts = fts5_query(&terms);
            assert!(fts.starts_with('"'), "{fts}");
            assert!(!fts.contains("NEAR("), "{fts}");
        }
        assert!(query_terms("🙂 ... --- ()").is_empty());
        assert_eq!(
            postgres_query(&query_terms("it's")),
            "'it' <-> 's':*",
            "an apostrophe splits words, which follow one another"
        );
        assert_eq!(
            fts5_query(&query_terms("pc-7 carol")),
            "\"pc\" + \"7\" AND \"carol\"*"
        );
        assert_eq!(
            postgres_vector(&["a'b".to_owned(), "c".to_owned(), "a'b".to_owned()]),
            "'a''b':1,3 'c':2"
        );
    }

    #[test]
    fn snippets_mark_the_matched_words_in_the_original_text() {
        let body = "Printer queue\nŁódź office: the DNS server dc1 does not answer";
        let snippet = snippet(body, &query_terms("lodz dn"));
        let marked: Vec<&str> = snippet
            .marks
            .iter()
            .map(|m| &snippet.text[m.start..m.end])
            .collect();
        assert_eq!(marked, ["Łódź", "DNS"]);
        assert!(!snippet.text.contains('\n'));

        let long = format!("{} 打印机无法连接 {}", "x ".repeat(200), "y ".repeat(200));
        let snippet = super::snippet(&long, &query_terms("打印机"));
        assert!(snippet.text.starts_with('…') && snippet.text.ends_with('…'));
        let marked: Vec<&str> = snippet
            .marks
            .iter()
            .map(|m| &snippet.text[m.start..m.end])
            .collect();
        assert_eq!(marked, ["打印机"]);

        let whole = super::snippet("dnsmasq and dns", &query_terms("dns "));
        assert_eq!(whole.marks, [Mark { start: 12, end: 15 }]);
    }
}
