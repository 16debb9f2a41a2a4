//! Plivo's request signatures (docs/providers/plivo.md).
//!
//! Sources: `plivo/plivo-python@a0cd3237d2ce1dc46434572997f9ccf380502af0:plivo/utils/signature_v3.py`
//! and `…:plivo/utils/__init__.py`, `plivo/plivo-go@273a8369467eeb2e2603d3916a0f6587dbde4ec4:utils.go`,
//! `plivo/plivo-node@4889b056e050beb302dc854c67e6a791086c6d51:lib/utils/v3Security.js` and
//! `…:lib/utils/security.js`.
//!
//! **V3** (`X-Plivo-Signature-V3`, `X-Plivo-Signature-Ma-V3`, `X-Plivo-Signature-V3-Nonce`):
//! `base64(HMAC-SHA256(auth_token, base + "." + nonce))`, where `base` is
//! `scheme://host[:port]/path` (query dropped, path verbatim) followed by:
//!
//! * `GET`: `?` + every query parameter sorted by name, as `k=v&k=v` with decoded values (nothing
//!   when there are none);
//! * `POST`, URL without a query: `?` + the sorted body parameters as `kv` concatenated, no
//!   separators (nothing when there are none);
//! * `POST`, URL with a query: `?` + the sorted query as `k=v&k=v`, then, if the body has
//!   parameters, `.` + their `kv` concatenation.
//!
//! The header may hold several comma-separated signatures; any one may match.
//!
//! **V2** (`X-Plivo-Signature-V2`, `-Ma-V2`, `-V2-Nonce`): `base64(HMAC-SHA256(auth_token,
//! scheme://host/path + nonce))`. It signs the URL and the nonce only, **not the parameters**.
//!
//! **V1** (`X-Plivo-Signature`): `base64(HMAC-SHA1(auth_token, url + sorted kv))`. Legacy; not
//! accepted (see the module docs of [`super`]); [`legacy_v1`] exists to check the published
//! vectors and to recognize such a request.
//!
//! Parameter names are sorted by code point (Python's `sorted`). A name sent twice is refused
//! before this is reached: the SDKs disagree on repeated names (Go keeps the first value, Python
//! the last, Node emits all), so no single reading is "what Plivo signed".

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use hmac::Hmac;
use sha1::Sha1;
use sha2::Sha256;

use crate::crypto::{hmac, matches_any_tag};
use crate::error::WebhookError;
use crate::secret::Secret;

pub const V3_HEADER: &str = "x-plivo-signature-v3";
pub const V3_MAIN_ACCOUNT_HEADER: &str = "x-plivo-signature-ma-v3";
pub const V3_NONCE_HEADER: &str = "x-plivo-signature-v3-nonce";
pub const V2_HEADER: &str = "x-plivo-signature-v2";
pub const V2_MAIN_ACCOUNT_HEADER: &str = "x-plivo-signature-ma-v2";
pub const V2_NONCE_HEADER: &str = "x-plivo-signature-v2-nonce";
pub const V1_HEADER: &str = "x-plivo-signature";

/// Bytes of an HMAC-SHA256 tag.
const TAG_BYTES: usize = 32;

/// `url` without its query and fragment: `scheme://host[:port]/path`, byte for byte.
pub fn base_url(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

fn sorted(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted
}

fn joined(params: &[(String, String)]) -> String {
    sorted(params)
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn concatenated(params: &[(String, String)]) -> String {
    sorted(params)
        .into_iter()
        .map(|(key, value)| format!("{key}{value}"))
        .collect()
}

/// The V3 string before `"." + nonce`, for a `GET`: `query` holds every query parameter.
pub fn v3_get_base(url: &str, query: &[(String, String)]) -> String {
    let base = base_url(url);
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", joined(query))
    }
}

/// The V3 string before `"." + nonce`, for a `POST`: `query` from the URL, `body` from the form.
pub fn v3_post_base(url: &str, query: &[(String, String)], body: &[(String, String)]) -> String {
    let base = base_url(url);
    match (query.is_empty(), body.is_empty()) {
        (true, true) => base.to_owned(),
        (true, false) => format!("{base}?{}", concatenated(body)),
        (false, true) => format!("{base}?{}", joined(query)),
        (false, false) => format!("{base}?{}.{}", joined(query), concatenated(body)),
    }
}

/// The V3 signature of `base` (from [`v3_get_base`] / [`v3_post_base`]) and `nonce`.
pub fn v3(token: &str, base: &str, nonce: &str) -> String {
    BASE64.encode(hmac::<Hmac<Sha256>>(
        token.as_bytes(),
        format!("{base}.{nonce}").as_bytes(),
    ))
}

/// The V2 signature of `url` (its query is dropped) and `nonce`.
pub fn v2(token: &str, url: &str, nonce: &str) -> String {
    BASE64.encode(hmac::<Hmac<Sha256>>(
        token.as_bytes(),
        format!("{}{nonce}", base_url(url)).as_bytes(),
    ))
}

/// The legacy V1 signature (never accepted; see the module docs).
pub fn legacy_v1(token: &str, url: &str, params: &[(String, String)]) -> String {
    let message = format!("{url}{}", concatenated(params));
    BASE64.encode(hmac::<Hmac<Sha1>>(token.as_bytes(), message.as_bytes()))
}

/// Whether any of the `presented` base64 signatures is the HMAC-SHA256 of `message` under any
/// secret. Every pair is computed and compared in constant time, with no early exit.
pub(crate) fn any_matches(presented: &[&str], message: &str, secrets: &[Secret]) -> bool {
    let decoded: Vec<Vec<u8>> = presented
        .iter()
        .filter_map(|signature| BASE64.decode(signature.trim()).ok())
        .filter(|bytes| bytes.len() == TAG_BYTES)
        .collect();
    let expected: Vec<Vec<u8>> = secrets
        .iter()
        .map(|secret| hmac::<Hmac<Sha256>>(secret.expose().as_bytes(), message.as_bytes()))
        .collect();
    decoded.iter().fold(false, |matched, candidate| {
        matched | matches_any_tag(candidate, &expected)
    })
}

/// Checks V3 signatures (already split at commas) for `base` and `nonce`.
pub(crate) fn verify_v3(
    presented: &[&str],
    base: &str,
    nonce: &str,
    secrets: &[Secret],
) -> Result<(), WebhookError> {
    if any_matches(presented, &format!("{base}.{nonce}"), secrets) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature(
            "`X-Plivo-Signature-V3` matches no configured auth token".into(),
        ))
    }
}

/// Checks V2 signatures for `url` and `nonce`.
pub(crate) fn verify_v2(
    presented: &[&str],
    url: &str,
    nonce: &str,
    secrets: &[Secret],
) -> Result<(), WebhookError> {
    if any_matches(presented, &format!("{}{nonce}", base_url(url)), secrets) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature(
            "`X-Plivo-Signature-V2` matches no configured auth token".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn base_strings_follow_the_four_cases() {
        let query = pairs(&[("c", "d"), ("a", "b")]);
        let body = pairs(&[("Y", "2"), ("X", "1 1")]);
        let url = "https://h.example:8443/p/?a=b&c=d#f";
        assert_eq!(base_url(url), "https://h.example:8443/p/");
        assert_eq!(
            v3_get_base(url, &query),
            "https://h.example:8443/p/?a=b&c=d"
        );
        assert_eq!(v3_get_base(url, &[]), "https://h.example:8443/p/");
        assert_eq!(
            v3_post_base(url, &query, &body),
            "https://h.example:8443/p/?a=b&c=d.X1 1Y2"
        );
        assert_eq!(
            v3_post_base(url, &query, &[]),
            "https://h.example:8443/p/?a=b&c=d"
        );
        assert_eq!(
            v3_post_base(url, &[], &body),
            "https://h.example:8443/p/?X1 1Y2"
        );
        assert_eq!(v3_post_base(url, &[], &[]), "https://h.example:8443/p/");
    }

    #[test]
    fn only_well_formed_signatures_are_compared() {
        let secrets = [Secret::new("t")];
        let good = v3("t", "b", "n");
        assert!(any_matches(&["junk", "", &good], "b.n", &secrets));
        assert!(!any_matches(&["junk", "AAAA"], "b.n", &secrets));
        assert!(!any_matches(&[&good], "b.n", &[]));
    }
}
