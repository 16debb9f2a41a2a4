//! The canonical JSON that Vonage Business (VIS) signs: docs/providers/vonage-business.md.
//!
//! "The `signature`, a hex-encoded string, is computed from the json value of the `event`
//! property, where all properties are sorted alphabetically with no whitespace between property
//! names or their values" (`Vonage/vbc-developer@5ec7c8df704d62a1796b2af4340e1a4e7f673b2f:
//! _documentation/en/vonage-integration-platform/concepts/webhooks.md`). The documentation says
//! nothing more, so these choices are Switchboard's (checked against the one official vector,
//! `vis-doc-example-2020-07`; the rest is UNVERIFIED):
//!
//! * object members are sorted by key in UTF-16 code-unit order, which is Java's
//!   `String.compareTo` (the sender is a Java service) and equals byte order for the ASCII keys
//!   Vonage sends; arrays keep their order; nesting is canonicalized recursively;
//! * no whitespace anywhere outside strings;
//! * numbers, `true`, `false` and `null` are re-emitted exactly as received (`2950` stays
//!   `2950`, `1.50` stays `1.50`): re-formatting a number could only break a match;
//! * strings are re-escaped minimally: `"` and `\` escaped, `\b \f \n \r \t` as such, other
//!   control characters as `\u00XX`, everything else (`/`, non-ASCII) as raw UTF-8. This is
//!   what both Jackson and `JSON.stringify` produce; they differ only in the case of the hex
//!   digits of `\u00XX`, so [`HexCase`] lets the verifier try both when such an escape occurs;
//! * a key repeated in one object is refused: which value the sender signed is ambiguous;
//! * a value nested deeper than [`MAX_DEPTH`] objects and arrays is refused, before any hashing.
//!
//! [`Document::parse`] reads the value once, in time linear in its length, and both hex cases
//! are written from that one parse. It is a small parser of its own because serde_json without
//! `arbitrary_precision` gives a visitor a number's value, not its text (and refuses `1e400`,
//! whose text the canonical form keeps), while capturing every value as a `RawValue` re-reads
//! each nested level once per enclosing level. It accepts exactly what serde_json accepts: RFC 8259
//! JSON whose strings hold no raw control character and no lone surrogate escape.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::error::WebhookError;

/// How many objects and arrays deep a value may nest, the outermost one being the first level.
/// VIS events are flat objects of scalars (docs/providers/vonage-business.md, `tests/fixtures/vonage_business/`):
/// 32 leaves ample room, keeps the parser's recursion short and is well under serde_json's own
/// limit of 128.
pub const MAX_DEPTH: usize = 32;

/// The case of the hex digits of a `\u00XX` escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexCase {
    /// `\u001f`: `JSON.stringify`, serde_json.
    Lower,
    /// `\u001F`: Jackson.
    Upper,
}

/// A JSON value as [`Document::parse`] reads it.
#[derive(Debug)]
pub(crate) enum Value<'a> {
    /// Members sorted by key in UTF-16 order; no key appears twice.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
    Array(Vec<Value<'a>>),
    /// Unescaped.
    String(Cow<'a, str>),
    /// A number, `true`, `false` or `null`: its text as received.
    Literal(&'a str),
}

/// A JSON value parsed once, from which both canonical forms are written.
#[derive(Debug)]
pub struct Document<'a> {
    root: Value<'a>,
    /// Whether some string (key or value) holds a character written as `\u00XX`.
    hex_escape: bool,
    /// The length of the text parsed: the canonical form is no longer.
    len: usize,
}

impl<'a> Document<'a> {
    /// Parses `raw`, refusing invalid JSON, a repeated key and nesting deeper than
    /// [`MAX_DEPTH`] with [`WebhookError::Malformed`].
    pub fn parse(raw: &'a str) -> Result<Self, WebhookError> {
        let mut parser = Parser {
            text: raw,
            at: 0,
            hex_escape: false,
        };
        let root = parser.value(0)?;
        parser.skip_whitespace();
        if parser.at != raw.len() {
            return Err(invalid());
        }
        Ok(Self {
            root,
            hex_escape: parser.hex_escape,
            len: raw.len(),
        })
    }

    /// The canonical form (see the module docs).
    pub fn canonical(&self, case: HexCase) -> String {
        let mut out = String::with_capacity(self.len);
        write_value(&self.root, case, &mut out);
        out
    }

    /// Whether the canonical form holds a `\u00XX` escape, so that the two [`HexCase`]s may
    /// differ.
    pub fn has_hex_escape(&self) -> bool {
        self.hex_escape
    }

    /// The members of the value if it is an object (sorted, unique), else none.
    pub(crate) fn members(&self) -> &[(Cow<'a, str>, Value<'a>)] {
        match &self.root {
            Value::Object(members) => members,
            _ => &[],
        }
    }
}

/// The canonical form of the JSON value `raw` (see the module docs).
pub fn canonical_json(raw: &str, case: HexCase) -> Result<String, WebhookError> {
    Ok(Document::parse(raw)?.canonical(case))
}

/// Whether canonicalizing a value would write a `\u00XX` escape (so that the two
/// [`HexCase`]s differ). May also say so of a string holding the text `\\u00`.
pub fn has_hex_escape(canonical: &str) -> bool {
    canonical.contains("\\u00")
}

fn invalid() -> WebhookError {
    WebhookError::Malformed("`event` is not valid JSON".into())
}

/// A recursive-descent reader over `text`. Every position it slices at is that of an ASCII byte
/// or the end, hence a character boundary.
struct Parser<'a> {
    text: &'a str,
    at: usize,
    hex_escape: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Whitespace as JSON (and serde_json) defines it.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn slice(&self, start: usize) -> Result<&'a str, WebhookError> {
        self.text.get(start..self.at).ok_or_else(invalid)
    }

    /// The value at the next non-whitespace byte; `depth` objects and arrays enclose it.
    fn value(&mut self, depth: usize) -> Result<Value<'a>, WebhookError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(enter(depth)?),
            Some(b'[') => self.array(enter(depth)?),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(invalid()),
        }
    }

    /// The object opening at `self.at`, at nesting level `depth`.
    fn object(&mut self, depth: usize) -> Result<Value<'a>, WebhookError> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(invalid());
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(invalid());
            }
            self.at += 1;
            members.push((key, self.value(depth)?));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => break,
                _ => return Err(invalid()),
            }
        }
        self.at += 1;
        members.sort_by(|left, right| utf16_order(&left.0, &right.0));
        if members.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(WebhookError::Malformed(
                "a key appears twice in one object of `event`".into(),
            ));
        }
        Ok(Value::Object(members))
    }

    /// The array opening at `self.at`, at nesting level `depth`.
    fn array(&mut self, depth: usize) -> Result<Value<'a>, WebhookError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(invalid()),
            }
        }
    }

    /// The string opening at `self.at`, unescaped; borrowed when it has no escape.
    fn string(&mut self) -> Result<Cow<'a, str>, WebhookError> {
        self.at += 1;
        let mut run = self.at;
        let mut unescaped: Option<String> = None;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let tail = self.slice(run)?;
                    self.at += 1;
                    return Ok(match unescaped {
                        None => Cow::Borrowed(tail),
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                    });
                }
                Some(b'\\') => {
                    let text = unescaped.get_or_insert_with(String::new);
                    text.push_str(self.text.get(run..self.at).ok_or_else(invalid)?);
                    self.at += 1;
                    let character = self.escape()?;
                    self.hex_escape |= is_hex_escaped(character);
                    text.push(character);
                    run = self.at;
                }
                Some(0x00..=0x1f) | None => return Err(invalid()),
                Some(_) => self.at += 1,
            }
        }
    }

    /// The character of the escape after a `\`. Surrogates must come in pairs, as in serde_json.
    fn escape(&mut self) -> Result<char, WebhookError> {
        let byte = self.peek().ok_or_else(invalid)?;
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&unit) {
                    if self.text.as_bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                        return Err(invalid());
                    }
                    self.at += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(invalid());
                    }
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                // A lone trailing surrogate is no `char`.
                char::from_u32(code).ok_or_else(invalid)?
            }
            _ => return Err(invalid()),
        })
    }

    /// The four hex digits at `self.at`.
    fn hex4(&mut self) -> Result<u32, WebhookError> {
        let digits = self
            .text
            .as_bytes()
            .get(self.at..self.at + 4)
            .ok_or_else(invalid)?;
        let mut unit = 0;
        for &digit in digits {
            unit = (unit << 4) | char::from(digit).to_digit(16).ok_or_else(invalid)?;
        }
        self.at += 4;
        Ok(unit)
    }

    /// `word` (`true`, `false` or `null`) at `self.at`.
    fn literal(&mut self, word: &'static str) -> Result<Value<'a>, WebhookError> {
        let rest = self.text.as_bytes().get(self.at..).unwrap_or_default();
        if !rest.starts_with(word.as_bytes()) {
            return Err(invalid());
        }
        self.at += word.len();
        Ok(Value::Literal(word))
    }

    /// The number at `self.at`, by the JSON grammar: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)?
    /// ([eE] [+-]? [0-9]+)?. Its magnitude is not checked: the text is all that is kept.
    fn number(&mut self) -> Result<Value<'a>, WebhookError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(invalid()),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.required_digits()?;
        }
        Ok(Value::Literal(self.slice(start)?))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), WebhookError> {
        let start = self.at;
        self.digits();
        if self.at == start {
            return Err(invalid());
        }
        Ok(())
    }
}

/// `depth + 1`, the level of an object or array that `depth` levels enclose, unless that is
/// deeper than [`MAX_DEPTH`].
fn enter(depth: usize) -> Result<usize, WebhookError> {
    if depth >= MAX_DEPTH {
        return Err(WebhookError::Malformed(format!(
            "`event` is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(depth + 1)
}

fn write_value(value: &Value<'_>, case: HexCase, out: &mut String) {
    match value {
        Value::Object(members) => {
            out.push('{');
            for (index, (key, value)) in members.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, case, out);
                out.push(':');
                write_value(value, case, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, case, out);
            }
            out.push(']');
        }
        Value::String(text) => write_string(text, case, out),
        Value::Literal(text) => out.push_str(text),
    }
}

fn utf16_order(left: &str, right: &str) -> Ordering {
    left.encode_utf16().cmp(right.encode_utf16())
}

/// Whether `character` is written as `\u00XX`: a control character without a short escape.
fn is_hex_escaped(character: char) -> bool {
    character < ' ' && !matches!(character, '\u{8}' | '\u{c}' | '\n' | '\r' | '\t')
}

fn write_string(text: &str, case: HexCase, out: &mut String) {
    out.push('"');
    // The start of the characters not written yet; always after an ASCII byte, so a boundary.
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(text.get(run..at).unwrap_or_default());
        if escape.is_empty() {
            let digits = match case {
                HexCase::Lower => b"0123456789abcdef",
                HexCase::Upper => b"0123456789ABCDEF",
            };
            out.push_str("\\u00");
            out.push(char::from(digits[usize::from(byte >> 4)]));
            out.push(char::from(digits[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        run = at + 1;
    }
    out.push_str(text.get(run..).unwrap_or_default());
    out.push('"');
}

/// A plain recursive implementation that re-reads every nested value at every level (time grows
/// with depth × size): the oracle of the differential tests.
#[cfg(test)]
mod reference {
    use serde_json::value::RawValue;

    use super::{utf16_order, write_string, HexCase, Ordering};
    use crate::error::WebhookError;
    use crate::providers::shared::Members;

    pub fn canonical_json(raw: &str, case: HexCase) -> Result<String, WebhookError> {
        let value: Box<RawValue> = serde_json::from_str(raw)
            .map_err(|_| WebhookError::Malformed("`event` is not valid JSON".into()))?;
        let mut out = String::with_capacity(raw.len());
        write_value(&value, case, &mut out)?;
        Ok(out)
    }

    fn write_value(raw: &RawValue, case: HexCase, out: &mut String) -> Result<(), WebhookError> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'{') => {
                let Members(mut members) = serde_json::from_str(text)
                    .map_err(|_| WebhookError::Malformed("invalid object".into()))?;
                members.sort_by(|left, right| utf16_order(&left.0, &right.0));
                if members
                    .windows(2)
                    .any(|pair| utf16_order(&pair[0].0, &pair[1].0) == Ordering::Equal)
                {
                    return Err(WebhookError::Malformed("duplicate key".into()));
                }
                out.push('{');
                for (index, (key, value)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(key, case, out);
                    out.push(':');
                    write_value(value, case, out)?;
                }
                out.push('}');
            }
            Some(b'[') => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(text)
                    .map_err(|_| WebhookError::Malformed("invalid array".into()))?;
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_value(item, case, out)?;
                }
                out.push(']');
            }
            Some(b'"') => {
                let string: String = serde_json::from_str(text)
                    .map_err(|_| WebhookError::Malformed("invalid string".into()))?;
                write_string(&string, case, out);
            }
            _ => out.push_str(text),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn lower(raw: &str) -> String {
        canonical_json(raw, HexCase::Lower).unwrap()
    }

    #[test]
    fn sorts_keys_recursively_drops_whitespace_and_keeps_number_text() {
        assert_eq!(
            lower("{ \"b\" : [ 1.50 , {\"z\":true,\"a\":null} ], \"a\" : -0 , \"c\": 1e3 }"),
            r#"{"a":-0,"b":[1.50,{"a":null,"z":true}],"c":1e3}"#
        );
    }

    #[test]
    fn escapes_strings_minimally() {
        assert_eq!(
            lower(r#"{"s":"a\/b \u00e9 \"q\" \\ \n\t \u0001 \u2028"}"#),
            "{\"s\":\"a/b é \\\"q\\\" \\\\ \\n\\t \\u0001 \u{2028}\"}"
        );
        assert_eq!(
            canonical_json(r#"{"s":"\u001f"}"#, HexCase::Upper).unwrap(),
            r#"{"s":"\u001F"}"#
        );
        assert!(has_hex_escape(&lower(r#"{"s":"\u001f"}"#)));
        assert!(!has_hex_escape(&lower(r#"{"s":"\n"}"#)));
    }

    #[test]
    fn orders_keys_as_java_does() {
        // U+FF21 sorts before U+10000 in UTF-8 byte order but after it in UTF-16 (surrogates).
        assert_eq!(
            lower("{\"\u{ff21}\":2,\"\u{10000}\":1,\"B\":3,\"a\":4}"),
            "{\"B\":3,\"a\":4,\"\u{10000}\":1,\"\u{ff21}\":2}"
        );
    }

    #[test]
    fn refuses_duplicates_and_invalid_json() {
        for raw in [
            r#"{"a":1,"a":1}"#,
            r#"{"n":{"x":1,"x":2}}"#,
            "{",
            r#"{"s":"\ud800"}"#,
        ] {
            assert!(
                matches!(
                    canonical_json(raw, HexCase::Lower),
                    Err(WebhookError::Malformed(_))
                ),
                "{raw}"
            );
        }
    }

    fn nested(depth: usize) -> String {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn refuses_nesting_deeper_than_the_limit() {
        assert_eq!(lower(&nested(MAX_DEPTH)).len(), nested(MAX_DEPTH).len());
        // Beyond serde_json's own limit of 128 too, and not closed: refused at level 33 all the same.
        for raw in [
            nested(MAX_DEPTH + 1),
            format!("[{}", "{\"k\":[".repeat(100_000)),
        ] {
            let error = Document::parse(&raw).unwrap_err();
            assert_eq!(
                error,
                WebhookError::Malformed("`event` is nested deeper than 32 levels".into())
            );
            assert_eq!(error.code(), "malformed_request");
        }
    }

    #[test]
    fn keeps_numbers_beyond_f64_and_refuses_what_serde_json_refuses() {
        assert_eq!(lower("[1e400, -0.0E-0]"), "[1e400,-0.0E-0]");
        for raw in [
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:1}",
            "tru",
            "nul",
            "\"\t\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\udc00\"",
            "\"\\ud800\\n\"",
            "1 2",
            "",
            " ",
            "[",
            "\"",
        ] {
            assert!(Document::parse(raw).is_err(), "{raw}");
            assert!(
                reference::canonical_json(raw, HexCase::Lower).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn one_parse_writes_both_cases() {
        let document = Document::parse("{\"b\":\"\\u001f\",\"a\":[\"\\n\"]}").unwrap();
        assert!(document.has_hex_escape());
        assert_eq!(
            document.canonical(HexCase::Lower),
            "{\"a\":[\"\\n\"],\"b\":\"\\u001f\"}"
        );
        assert_eq!(
            document.canonical(HexCase::Upper),
            "{\"a\":[\"\\n\"],\"b\":\"\\u001F\"}"
        );
        // `\\u00` in a string is no escape.
        assert!(!Document::parse(r#"["\\u001f\u0008"]"#)
            .unwrap()
            .has_hex_escape());
    }

    /// A JSON string literal: plain characters, short escapes, `\u` escapes of any case (control
    /// characters, BMP, surrogate pairs), and now and then a lone surrogate or a raw control
    /// character, which are invalid.
    fn string_literal() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            6 => "[a-zA-Z0-9 /é€😀\u{7f}\u{2028}]{1,3}",
            2 => prop::sample::select(vec![
                "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
            ])
            .prop_map(str::to_owned),
            2 => (0u32..0x20, any::<bool>()).prop_map(|(code, upper)| if upper {
                format!("\\u{code:04X}")
            } else {
                format!("\\u{code:04x}")
            }),
            1 => (0x20u32..0xD800).prop_map(|code| format!("\\u{code:04x}")),
            1 => (0xD800u32..0xDC00, 0xDC00u32..0xE000)
                .prop_map(|(high, low)| format!("\\u{high:04X}\\u{low:04x}")),
            1 => Just("\\u00e9".to_owned()),
            1 => prop::sample::select(vec!["\\ud800", "\\udfff", "\u{1}", "\\q"])
                .prop_map(str::to_owned),
        ];
        prop::collection::vec(piece, 0..5).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
    }

    fn whitespace() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n"])
    }

    /// JSON text of a few levels: objects (keys from a small set, so that some repeat, with
    /// unicode keys whose UTF-8 and UTF-16 orders differ), arrays, strings, odd number texts.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            string_literal(),
            "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,4})?",
            prop::sample::select(vec!["1.50", "-0", "1e3", "0.0", "true", "false", "null"])
                .prop_map(str::to_owned),
        ];
        let key = prop_oneof![
            prop::sample::select(vec![
                "\"a\"",
                "\"B\"",
                "\"ab\"",
                "\"\u{ff21}\"",
                "\"\u{10000}\"",
                "\"\\u0061\"",
                "\"\"",
            ])
            .prop_map(str::to_owned),
            string_literal(),
        ];
        leaf.prop_recursive(5, 64, 5, move |inner| {
            prop_oneof![
                prop::collection::vec((inner.clone(), whitespace()), 0..5).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(item, space)| format!("{space}{item}{space}"))
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                prop::collection::vec((key.clone(), inner, whitespace()), 0..5).prop_map(
                    |members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(key, value, space)| format!("{space}{key}{space}:{value}"))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }
                ),
            ]
        })
    }

    /// `raw` canonicalized both ways, against the reference, with `has_hex_escape` exact.
    fn assert_matches_reference(raw: &str) -> Result<(), TestCaseError> {
        let lower = canonical_json(raw, HexCase::Lower);
        let upper = canonical_json(raw, HexCase::Upper);
        prop_assert_eq!(
            lower.is_ok(),
            reference::canonical_json(raw, HexCase::Lower).is_ok()
        );
        if let (Ok(lower), Ok(upper)) = (lower, upper) {
            prop_assert_eq!(
                &lower,
                &reference::canonical_json(raw, HexCase::Lower).unwrap()
            );
            prop_assert_eq!(
                &upper,
                &reference::canonical_json(raw, HexCase::Upper).unwrap()
            );
            let document = Document::parse(raw).unwrap();
            prop_assert!(document.has_hex_escape() || lower == upper);
            prop_assert_eq!(
                document.has_hex_escape(),
                has_hex_escape(&lower.replace("\\\\", ""))
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn equals_the_reference_on_generated_json(raw in json_text()) {
            assert_matches_reference(&raw)?;
        }

        /// Mostly invalid: one byte of generated JSON removed or replaced by a JSON character.
        #[test]
        fn equals_the_reference_on_damaged_json(
            raw in json_text(),
            at in any::<prop::sample::Index>(),
            replacement in prop::option::of(prop::sample::select(
                "{}[]\":,\\0123456789.eE+-tfnu \u{1}".chars().collect::<Vec<_>>()
            )),
        ) {
            let mut chars: Vec<char> = raw.chars().collect();
            let at = at.index(chars.len());
            match replacement {
                Some(character) => chars[at] = character,
                None => {
                    chars.remove(at);
                }
            }
            assert_matches_reference(&chars.into_iter().collect::<String>())?;
        }
    }
}
