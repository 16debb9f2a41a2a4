//! The `X-Twilio-Signature` scheme (docs/providers/twilio.md).
//!
//! `base64(HMAC-SHA1(auth_token, data))`, where `data` is (`twilio/twilio-python@306691e793f417b6974640d1ef88785e9de03b2a:
//! twilio/request_validator.py`, `twilio/twilio-node@45d3d65a4ea87652f4c7973af0e0998f3af31322:src/webhooks/webhooks.ts`):
//!
//! * form `POST`: the full URL, then for each parameter name in ascending order, for each of its
//!   *distinct* values in ascending order, `name + value` (decoded values, no separators);
//! * `GET` (or no body): the full URL alone (the parameters are in its query);
//! * JSON body: the full URL, which carries `bodySHA256` = SHA-256 hex of the raw body, alone; the
//!   body must hash to `bodySHA256`.
//!
//! "check signature of uri with and without port, since sig generation on back end is
//! inconsistent" (`request_validator.py` above): the URL is tried as received, with its port
//! removed and with the scheme's default port (443/80) added. twilio-node also normalizes the
//! URL with WHATWG `new URL(url).toString()` before signing, which percent-encodes `'`, `"`,
//! `<`, `>`, spaces and non-ASCII in the query (vector `twilio-special-chars-quote`, docs/providers/twilio.md), and Twilio signs SIP URIs with `@`/`:` unescaped in query values while sending them
//! percent-encoded (twilio/twilio-node PR #621): both forms of the query are tried too. Every
//! variant is a spelling of the same URL, so none lets a signature for one endpoint pass at
//! another.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use hmac::Hmac;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::crypto::{hmac, matches_any_tag, sha256_hex};
use crate::error::WebhookError;
use crate::secret::Secret;

/// The signature header (lower-case, as [`CapturedRequest`](crate::CapturedRequest) stores names).
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The query parameter of a JSON request that carries the body's SHA-256 hex.
pub const BODY_HASH_PARAM: &str = "bodySHA256";

/// Bytes of an HMAC-SHA1 tag.
const TAG_BYTES: usize = 20;

/// The string that is signed: `url` followed by the sorted `name + value` pairs (distinct values
/// of a repeated name, sorted). Pass no parameters for `GET` and JSON requests.
pub fn signed_string(url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    // Sorting the pairs sorts by name, then by value; `dedup` then keeps distinct values.
    pairs.sort_unstable();
    pairs.dedup();
    let mut data = String::from(url);
    for (key, value) in pairs {
        data.push_str(key);
        data.push_str(value);
    }
    data
}

/// `base64(HMAC-SHA1(token, data))`.
pub fn compute(token: &str, data: &str) -> String {
    BASE64.encode(hmac::<Hmac<Sha1>>(token.as_bytes(), data.as_bytes()))
}

/// SHA-256 hex (lower case) of a body, the value of `bodySHA256`.
pub fn body_hash(body: &[u8]) -> String {
    sha256_hex(body)
}

/// The spellings of `url` that Twilio may have signed, the URL as received first (see the module
/// docs). No duplicates.
pub fn url_variants(url: &str) -> Vec<String> {
    let mut variants: Vec<String> = Vec::new();
    let mut push = |candidate: String| {
        if !variants.contains(&candidate) {
            variants.push(candidate);
        }
    };
    let hosts = match split_url(url) {
        Some(parts) => {
            let mut hosts = vec![url.to_owned(), parts.without_port()];
            if let Some(with_port) = parts.with_default_port() {
                hosts.push(with_port);
            }
            hosts
        }
        None => vec![url.to_owned()],
    };
    for host in hosts {
        let whatwg = reencode_query(&host, whatwg_query);
        let sip = reencode_query(&host, unescape_sip_query);
        push(host);
        push(whatwg);
        push(sip);
    }
    variants
}

/// A URL cut into `scheme://userinfo@` `host` `:port` and the rest (path, query, fragment).
struct UrlParts<'a> {
    /// `scheme://` and any `userinfo@`.
    prefix: &'a str,
    scheme: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    rest: &'a str,
}

impl UrlParts<'_> {
    fn without_port(&self) -> String {
        format!("{}{}{}", self.prefix, self.host, self.rest)
    }

    /// The URL with the scheme's default port, when it has no port and the scheme has one.
    fn with_default_port(&self) -> Option<String> {
        if self.port.is_some() {
            return None;
        }
        let port = match self.scheme.to_ascii_lowercase().as_str() {
            "https" => "443",
            "http" => "80",
            _ => return None,
        };
        Some(format!("{}{}:{port}{}", self.prefix, self.host, self.rest))
    }
}

fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |offset| authority_start + offset);
    let authority = &url[authority_start..authority_end];
    let host_start = authority
        .rfind('@')
        .map_or(authority_start, |at| authority_start + at + 1);
    let host_port = &url[host_start..authority_end];
    // An IPv6 literal's colons are inside the brackets.
    let search_from = host_port.rfind(']').unwrap_or(0);
    let (host, port) = match host_port[search_from..].rfind(':') {
        Some(colon) => {
            let colon = search_from + colon;
            let port = &host_port[colon + 1..];
            if port.bytes().all(|byte| byte.is_ascii_digit()) {
                (&host_port[..colon], Some(port))
            } else {
                (host_port, None)
            }
        }
        None => (host_port, None),
    };
    Some(UrlParts {
        prefix: &url[..host_start],
        scheme,
        host,
        port,
        rest: &url[authority_end..],
    })
}

/// `url` with its query (between `?` and any `#`) rewritten by `rewrite`.
fn reencode_query(url: &str, rewrite: fn(&str) -> String) -> String {
    let Some(question) = url.find('?') else {
        return url.to_owned();
    };
    let end = url[question..]
        .find('#')
        .map_or(url.len(), |offset| question + offset);
    format!(
        "{}{}{}",
        &url[..=question],
        rewrite(&url[question + 1..end]),
        &url[end..]
    )
}

/// The query as WHATWG `URL` serializes it for a special scheme: the *special-query
/// percent-encode set* (C0 controls, space, `"`, `#`, `'`, `<`, `>`, and non-ASCII) encoded.
fn whatwg_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for byte in query.bytes() {
        if byte <= b' ' || matches!(byte, b'"' | b'#' | b'\'' | b'<' | b'>') || byte >= 0x7f {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

/// The query with `%40` and `%3A` (either case) back to `@` and `:`.
fn unescape_sip_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(percent) = rest.find('%') {
        out.push_str(&rest[..percent]);
        let code = rest.get(percent + 1..percent + 3);
        match code.map(str::to_ascii_uppercase).as_deref() {
            Some("40") => out.push('@'),
            Some("3A") => out.push(':'),
            _ => {
                out.push('%');
                rest = &rest[percent + 1..];
                continue;
            }
        }
        rest = &rest[percent + 3..];
    }
    out.push_str(rest);
    out
}

/// Checks `presented` (the header value) against every secret and every URL variant, with
/// `params` appended (none for `GET` and JSON requests). Every combination is computed and
/// compared in constant time; no early exit.
pub fn verify(
    presented: &str,
    url: &str,
    params: &[(String, String)],
    secrets: &[Secret],
) -> Result<(), WebhookError> {
    let presented = BASE64
        .decode(presented.trim())
        .ok()
        .filter(|bytes| bytes.len() == TAG_BYTES)
        .ok_or_else(|| {
            WebhookError::InvalidSignature("`X-Twilio-Signature` is not a base64 HMAC-SHA1".into())
        })?;
    let messages: Vec<String> = url_variants(url)
        .iter()
        .map(|variant| signed_string(variant, params))
        .collect();
    let expected = secrets.iter().flat_map(|secret| {
        messages
            .iter()
            .map(|message| hmac::<Hmac<Sha1>>(secret.expose().as_bytes(), message.as_bytes()))
    });
    if matches_any_tag(&presented, expected) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature(
            "`X-Twilio-Signature` matches no configured auth token".into(),
        ))
    }
}

/// Checks that `claimed` (the `bodySHA256` query value) is the SHA-256 hex of `body`, in
/// constant time and case-insensitively.
pub fn verify_body_hash(claimed: &str, body: &[u8]) -> Result<(), WebhookError> {
    let claimed = claimed.trim().to_ascii_lowercase();
    if bool::from(claimed.as_bytes().ct_eq(body_hash(body).as_bytes())) {
        Ok(())
    } else {
        Err(WebhookError::PayloadHashMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_strip_and_add_ports() {
        assert_eq!(
            url_variants("https://h.example:1234/p?a=1"),
            ["https://h.example:1234/p?a=1", "https://h.example/p?a=1"]
        );
        assert_eq!(
            url_variants("http://u:p@h.example/p"),
            ["http://u:p@h.example/p", "http://u:p@h.example:80/p"]
        );
        assert_eq!(
            url_variants("https://[::1]:8443/"),
            ["https://[::1]:8443/", "https://[::1]/"]
        );
        assert_eq!(url_variants("not a url"), ["not a url"]);
        assert_eq!(
            url_variants("ftp://h.example/x"),
            ["ftp://h.example/x"],
            "no default port known"
        );
    }

    #[test]
    fn variants_reencode_the_query() {
        let variants = url_variants("https://h.example/p?q=it's&to=sip%3Aa%40b");
        assert!(variants.contains(&"https://h.example/p?q=it%27s&to=sip%3Aa%40b".to_owned()));
        assert!(variants.contains(&"https://h.example/p?q=it's&to=sip:a@b".to_owned()));
        assert!(variants.contains(&"https://h.example:443/p?q=it's&to=sip:a@b".to_owned()));
    }

    #[test]
    fn sip_unescape_leaves_other_escapes_and_stray_percents() {
        assert_eq!(unescape_sip_query("a=%3a%40%20%4"), "a=:@%20%4");
        assert_eq!(unescape_sip_query("%"), "%");
        assert_eq!(unescape_sip_query("é%40"), "é@");
    }

    #[test]
    fn signed_string_sorts_names_then_distinct_values() {
        let params = vec![
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "y".to_owned()),
            ("a".to_owned(), "x".to_owned()),
            ("a".to_owned(), "y".to_owned()),
        ];
        assert_eq!(signed_string("U", &params), "Uaxayb2");
    }

    #[test]
    fn refuses_signatures_that_are_not_sha1_tags() {
        for presented in ["", "WRONG_SIGNATURE", "AAAA"] {
            assert!(matches!(
                verify(presented, "https://h/", &[], &[Secret::new("t")]),
                Err(WebhookError::InvalidSignature(_))
            ));
        }
    }
}
