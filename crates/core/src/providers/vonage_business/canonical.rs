//! The canonical JSON that Vonage Business (VIS) signs: providers.md §3.
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
//! * a key repeated in one object is refused: which value the sender signed is ambiguous.

use std::cmp::Ordering;

use serde_json::value::RawValue;

use crate::error::WebhookError;
use crate::providers::shared::Members;

/// The case of the hex digits of a `\u00XX` escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexCase {
    /// `\u001f`: `JSON.stringify`, serde_json.
    Lower,
    /// `\u001F`: Jackson.
    Upper,
}

/// The canonical form of the JSON value `raw` (see the module docs).
pub fn canonical_json(raw: &str, case: HexCase) -> Result<String, WebhookError> {
    let value: Box<RawValue> = serde_json::from_str(raw)
        .map_err(|_| WebhookError::Malformed("`event` is not valid JSON".into()))?;
    let mut out = String::with_capacity(raw.len());
    write_value(&value, case, &mut out)?;
    Ok(out)
}

/// Whether canonicalizing a value would write a `\u00XX` escape (so that the two
/// [`HexCase`]s differ).
pub fn has_hex_escape(canonical: &str) -> bool {
    canonical.contains("\\u00")
}

fn write_value(raw: &RawValue, case: HexCase, out: &mut String) -> Result<(), WebhookError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let Members(mut members) = serde_json::from_str(text)
                .map_err(|_| WebhookError::Malformed("`event` has an invalid object".into()))?;
            members.sort_by(|left, right| utf16_order(&left.0, &right.0));
            if members
                .windows(2)
                .any(|pair| utf16_order(&pair[0].0, &pair[1].0) == Ordering::Equal)
            {
                return Err(WebhookError::Malformed(
                    "a key appears twice in one object of `event`".into(),
                ));
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
                .map_err(|_| WebhookError::Malformed("`event` has an invalid array".into()))?;
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
                .map_err(|_| WebhookError::Malformed("`event` has an invalid string".into()))?;
            write_string(&string, case, out);
        }
        // A number, `true`, `false` or `null`: exactly as received.
        _ => out.push_str(text),
    }
    Ok(())
}

fn utf16_order(left: &str, right: &str) -> Ordering {
    left.encode_utf16().cmp(right.encode_utf16())
}

fn write_string(text: &str, case: HexCase, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let code = u32::from(control);
                out.push_str(&match case {
                    HexCase::Lower => format!("\\u{code:04x}"),
                    HexCase::Upper => format!("\\u{code:04X}"),
                });
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
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
}
