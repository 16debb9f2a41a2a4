//! Vonage SMS API delivery receipts (DLR), signed with the `sig` parameter (docs/providers/vonage.md).
//!
//! The signature scheme, from `Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
//! _documentation/en/concepts/guides/signing-messages.md` ("Manually generate a signature") and
//! the SDKs that implement it (`Vonage/vonage-php-sdk-core@9c6bc46e70451d2dc6c8243ba04dc34121878199:
//! src/Client/Signature.php`, `Vonage/vonage-ruby-sdk@1eecb89963f796e34c1cb4274860a2f44d504ac1:
//! lib/vonage/signature.rb`, `Vonage/vonage-java-sdk@609f524d58a00a8fa51569474689307e191b5da4:
//! src/main/java/com/vonage/client/auth/RequestSigning.java`):
//!
//! 1. take every parameter but `sig`, sorted by key in byte order;
//! 2. in each value replace `&` and `=` with `_`;
//! 3. join as `&k1=v1&k2=v2…`, with a leading `&` and no URL encoding;
//! 4. `md5hash`: `md5_hex(string + secret)`; `md5`/`sha1`/`sha256`/`sha512`:
//!    `hex(HMAC(secret, string))`; hex in either case.
//!
//! Names are not escaped, so a name holding `&` or `=` is refused: it could stand for two
//! signed parameters.

use hmac::Hmac;
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::params::{Params, Source};
use super::{SmsMethod, VonageConfig};
use crate::crypto::{hmac, matches_any_tag};
use crate::error::WebhookError;
use crate::model::{Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{content_event_id, extra_fields, lookup};
use crate::request::CapturedRequest;
use crate::secret::Secret;
use crate::time::Timestamp;

/// DLR `status` words. Source: `Nexmo/api-specification@ad042003e946f5d99512cda2a8601488c8e863e5:
/// definitions/sms.yml` (schema `DeliveryReceipt`) and `Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
/// _documentation/en/messaging/sms/guides/delivery-receipts.md`.
const MESSAGE_STATUSES: [(&str, Status); 7] = [
    // "accepted for delivery, not yet delivered".
    ("accepted", Status::Accepted),
    // Held by the carrier (e.g. handset off) and retried.
    ("buffered", Status::Queued),
    ("delivered", Status::Delivered),
    ("expired", Status::Expired),
    ("failed", Status::Failed),
    ("rejected", Status::Rejected),
    // Not terminal: a later receipt may still resolve it.
    ("unknown", Status::Unknown),
];

/// DLR `err-code` meanings. Source: `Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
/// _documentation/en/messaging/sms/guides/delivery-receipts.md` (docs/providers/vonage.md). Code 0 is
/// labelled "Delivered" there but means "no error": every receipt without one (`accepted`,
/// `buffered`, `delivered`) carries it, so [`normalize`] reports no error for it.
const ERROR_CODES: [(u32, &str); 22] = [
    (0, "Delivered"),
    (1, "Unknown"),
    (2, "Absent Subscriber – Temporary"),
    (3, "Absent Subscriber – Permanent"),
    (4, "Call Barred by User"),
    (5, "Portability Error"),
    (6, "Anti-Spam Rejection"),
    (7, "Handset Busy"),
    (8, "Network Error"),
    (9, "Illegal Number"),
    (10, "Illegal Message"),
    (11, "Unroutable"),
    (12, "Destination Unreachable"),
    (13, "Subscriber Age Restriction"),
    (14, "Number Blocked by Carrier"),
    (15, "Prepaid Insufficient Funds"),
    (50, "Entity Filter"),
    (51, "Header Filter"),
    (52, "Content Filter"),
    (53, "Consent Filter"),
    (54, "Regulation Error"),
    (99, "General Error"),
];

/// DLR fields kept in [`Details::extra`]. `api-key` is left out: it identifies the account and
/// says nothing about the message.
const EXTRA_FIELDS: [&str; 3] = ["network-code", "scts", "client-ref"];

/// The provider word of an inbound SMS, which carries no `status`: it is stored as `delivered`
/// (it reached this webhook), as Twilio's `received` and Telnyx's `webhook_delivered` are.
pub(crate) const INBOUND: &str = "inbound";

/// Fields only an inbound SMS has (`Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
/// _documentation/en/messaging/sms/guides/inbound-sms.md`, docs/providers/vonage.md): `text`, `type`
/// (`text`, `unicode`, `binary`), `keyword`, and on a part of a long message `concat-ref`,
/// `concat-total`, `concat-part`.
const INBOUND_FIELDS: [&str; 3] = ["text", "type", "keyword"];

/// Inbound SMS fields kept in [`Details::extra`] (not `text`: the message's content is not
/// stored).
const INBOUND_EXTRA_FIELDS: [&str; 5] = [
    "type",
    "keyword",
    "concat-ref",
    "concat-total",
    "concat-part",
];

/// Parameters that change when Vonage re-signs a retry of the same receipt; the event id leaves
/// them out so that such a retry collapses into the original.
const SIGNING_PARAMS: [&str; 3] = ["sig", "timestamp", "nonce"];

/// What a parameter name may not contain. The scheme replaces `&` and `=` in values only (PHP
/// and Ruby SDKs at the commits above; the Java SDK also replaces them in names, `clean(name)` in
/// `RequestSigning.java`, docs/providers/vonage.md), so a name holding them could carry two signed
/// parameters as one: `err-code=0&message-timestamp` = `2018-10-25 12:10:29` hashes exactly as
/// `err-code=0` and `message-timestamp=2018-10-25 12:10:29` do. Vonage sends no such names.
const NAME_SEPARATORS: [char; 2] = ['&', '='];

/// The normalized status of a DLR `status` word, `None` for a word this version does not know.
pub(crate) fn message_status(word: &str) -> Option<Status> {
    lookup(&MESSAGE_STATUSES, word)
}

/// The documented meaning of a DLR `err-code`.
pub fn error_message(code: &str) -> Option<&'static str> {
    let code: u32 = code.trim().parse().ok()?;
    ERROR_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, message)| *message)
}

/// A request's SMS parameters, from the query (`GET`, or no body), the form body or the flat
/// JSON body (string, number and boolean values; `null` dropped).
///
/// Errors: [`WebhookError::UnsupportedContentType`] for any other body, and
/// [`WebhookError::Malformed`] for a nested JSON value, invalid JSON or a repeated key.
pub fn request_params(request: &CapturedRequest) -> Result<Vec<(String, String)>, WebhookError> {
    Params::from_request(request)?.into_flat()
}

/// The string that is hashed: every parameter but `sig`, sorted by key (byte order), `&` and `=`
/// in values replaced with `_`, joined as `&k1=v1&k2=v2` (leading `&`, no URL encoding).
pub fn signed_string(params: &[(String, String)]) -> String {
    build_signed_string(params, |_| true)
}

/// [`signed_string`] without the parameters whose value is blank: the Java SDK drops them before
/// hashing (`Vonage/vonage-java-sdk@609f524d58a00a8fa51569474689307e191b5da4:
/// src/main/java/com/vonage/client/auth/RequestSigning.java`), PHP, Ruby and Python keep them.
pub fn signed_string_skipping_blank(params: &[(String, String)]) -> String {
    build_signed_string(params, |value| !is_blank(value))
}

/// Whether a value is blank in the sense of the Java SDK's `value.trim().isEmpty()`.
fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Refuses parameter names that contain `&` or `=` (see [`NAME_SEPARATORS`]).
fn refuse_separators_in_names(params: &[(String, String)]) -> Result<(), WebhookError> {
    if params.iter().any(|(key, _)| key.contains(NAME_SEPARATORS)) {
        Err(WebhookError::Malformed(
            "a parameter name contains `&` or `=`".into(),
        ))
    } else {
        Ok(())
    }
}

fn build_signed_string(params: &[(String, String)], keep: impl Fn(&str) -> bool) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .filter(|(key, value)| key != "sig" && keep(value))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    sorted
        .into_iter()
        .map(|(key, value)| format!("&{key}={}", signed_value(value)))
        .collect()
}

/// The signature of `signed_string` with `method` and `secret`, as lower-case hex.
pub fn compute(method: SmsMethod, secret: &str, signed_string: &str) -> String {
    hex::encode(tag(method, secret.as_bytes(), signed_string.as_bytes()))
}

fn tag(method: SmsMethod, secret: &[u8], message: &[u8]) -> Vec<u8> {
    match method {
        SmsMethod::Md5Hash => Md5::new()
            .chain_update(message)
            .chain_update(secret)
            .finalize()
            .to_vec(),
        SmsMethod::Md5 => hmac::<Hmac<Md5>>(secret, message),
        SmsMethod::Sha1 => hmac::<Hmac<Sha1>>(secret, message),
        SmsMethod::Sha256 => hmac::<Hmac<Sha256>>(secret, message),
        SmsMethod::Sha512 => hmac::<Hmac<Sha512>>(secret, message),
    }
}

/// Hex digits of each method's signature.
fn hex_len(method: SmsMethod) -> usize {
    match method {
        SmsMethod::Md5Hash | SmsMethod::Md5 => 32,
        SmsMethod::Sha1 => 40,
        SmsMethod::Sha256 => 64,
        SmsMethod::Sha512 => 128,
    }
}

/// The methods a signature of `hex_digits` digits may have been made with: both MD5 methods
/// share a length, the others are told apart by it.
fn methods_for_length(hex_digits: usize) -> Vec<SmsMethod> {
    [
        SmsMethod::Md5Hash,
        SmsMethod::Md5,
        SmsMethod::Sha1,
        SmsMethod::Sha256,
        SmsMethod::Sha512,
    ]
    .into_iter()
    .filter(|method| hex_len(*method) == hex_digits)
    .collect()
}

/// Checks the `sig` parameter of `params` against every secret (rotation).
///
/// `method`: the Dashboard's signature method if configured (then only that one is tried), else
/// inferred from the length of `sig` (32 hex digits: `md5hash` or HMAC-MD5; 40: SHA-1;
/// 64: SHA-256; 128: SHA-512). `sig` is compared case-insensitively, as bytes, in constant time.
/// When some value is blank, the Java SDK's string without blank values is also accepted.
///
/// A parameter name containing `&` or `=` is refused as [`WebhookError::Malformed`] before
/// anything is hashed: such a name could stand for two signed parameters.
///
/// This is the signature alone: the webhook check also requires a fresh `timestamp`.
pub fn verify_signature(
    params: &[(String, String)],
    secrets: &[Secret],
    method: Option<SmsMethod>,
) -> Result<(), WebhookError> {
    refuse_separators_in_names(params)?;
    let presented = params
        .iter()
        .find(|(key, _)| key == "sig")
        .map(|(_, value)| value.trim())
        .ok_or(WebhookError::MissingSignature("no `sig` parameter"))?;
    let methods = match method {
        Some(method) if hex_len(method) == presented.len() => vec![method],
        Some(_) => Vec::new(),
        None => methods_for_length(presented.len()),
    };
    let presented = hex::decode(presented)
        .ok()
        .filter(|_| !methods.is_empty())
        .ok_or_else(|| {
            WebhookError::InvalidSignature(
                "`sig` is not a hex signature of an accepted method and length".into(),
            )
        })?;

    let mut messages = vec![signed_string(params)];
    if params
        .iter()
        .any(|(key, value)| key != "sig" && is_blank(value))
    {
        messages.push(signed_string_skipping_blank(params));
    }

    let expected = methods.iter().flat_map(|method| {
        secrets.iter().flat_map(|secret| {
            messages
                .iter()
                .map(|message| tag(*method, secret.expose().as_bytes(), message.as_bytes()))
        })
    });
    if matches_any_tag(&presented, expected) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature(
            "`sig` matches no configured secret".into(),
        ))
    }
}

/// The full check of a `sig`-signed request: the signature, then a signed `timestamp` (unix
/// seconds) within the tolerance. Vonage documents no window; the Java SDK allows ±5 minutes
/// (`MAX_ALLOWABLE_TIME_DELTA`, `RequestSigning.java` at the commit above).
pub(crate) fn verify_webhook(
    params: &[(String, String)],
    config: &VonageConfig,
    now: Timestamp,
) -> Result<(), WebhookError> {
    let timestamp = params
        .iter()
        .find(|(key, value)| key == "timestamp" && !is_blank(value))
        .map(|(_, value)| value.trim())
        .ok_or(WebhookError::MissingSignedField("timestamp"))?;
    verify_signature(params, &config.secrets, config.sms_method)?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| WebhookError::Malformed("`timestamp` is not unix seconds".into()))?;
    if Timestamp::from_unix_seconds(seconds).within(now, config.tolerance_seconds) {
        Ok(())
    } else {
        Err(WebhookError::TimestampOutOfTolerance(timestamp.to_owned()))
    }
}

/// Whether a parameter is part of the event id: not one of [`SIGNING_PARAMS`], and not blank
/// (see [`normalize`]).
fn identifies_the_event(key: &str, value: &str) -> bool {
    !SIGNING_PARAMS.contains(&key) && !is_blank(value)
}

/// The event id: the hash of the signed string of the identifying parameters. Built from the
/// signed form (values with `&`/`=` folded to `_`), so that no change the signature cannot see
/// (an added blank parameter, `_` turned into `=`) gives a retry a new id. Unambiguous because
/// names with `&` or `=` are refused before this.
fn event_id(params: &[(String, String)]) -> String {
    let identifying: Vec<(String, String)> = params
        .iter()
        .filter(|(key, value)| identifies_the_event(key, value))
        .cloned()
        .collect();
    content_event_id("vonage", signed_string(&identifying).as_bytes())
}

/// A value as the signed string holds it: `&` and `=` replaced with `_`. The signature cannot
/// tell `a_b` from `a&b` or `a=b`, so the event keeps the form that was signed.
fn signed_value(value: &str) -> String {
    value.replace(['&', '='], "_")
}

/// Maps a verified delivery receipt, or an inbound SMS ([`inbound`]), to its event.
///
/// Quirk: in a DLR, `to` is *your* sender id and `msisdn` the recipient ("`msisdn`: the number
/// the message was sent to", "`to`: the SenderID you set in `from` in your request",
/// `Nexmo/api-specification@ad042003e946f5d99512cda2a8601488c8e863e5:definitions/sms.yml`), so
/// the event's `from` is the DLR's `to` and its `to` is `msisdn`.
///
/// `price` is in the account's currency, which the receipt does not name: no currency is set.
/// Every value is read in its signed form ([`signed_value`]). `err-code` 0 ("no error", see
/// [`ERROR_CODES`]) gives neither `error_code` nor `error_message`, whatever the status.
///
/// Event id: the parameters without [`SIGNING_PARAMS`] and without blank values. Blank values
/// carry nothing this function reads, and the Java SDK's string does not sign them (accepted by
/// [`verify_signature`]): were they part of the id, adding `zz=` to a genuine receipt would
/// make it a new event, past the dedup.
pub(crate) fn normalize(
    params: Vec<(String, String)>,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let value = |key: &str| {
        params
            .iter()
            .find(|(name, value)| name == key && !is_blank(value))
            .map(|(_, value)| signed_value(value))
    };
    let subject_id = value("messageId").ok_or(WebhookError::MissingField("messageId"))?;
    let Some(provider_status) = value("status") else {
        return if INBOUND_FIELDS.iter().any(|field| value(field).is_some()) {
            Ok(inbound(subject_id, &params, value, received_at))
        } else {
            Err(WebhookError::MissingField("status"))
        };
    };
    let error_code = value("err-code").filter(|code| code.trim().parse() != Ok(0_u32));

    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Vonage,
        kind: Kind::Message,
        subject_id,
        event_id: event_id(&params),
        status: message_status(&provider_status),
        provider_status,
        occurred_at: value("message-timestamp")
            .and_then(|text| Timestamp::parse_utc_date_time(&text)),
        received_at,
        sequence: None,
        direction: Some(Direction::Outbound),
        from: value("to"),
        to: value("msisdn"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            price: value("price"),
            error_message: error_code
                .as_deref()
                .and_then(error_message)
                .map(str::to_owned),
            error_code,
            extra: extra_fields(&EXTRA_FIELDS, value),
            ..Details::default()
        },
    })
}

/// An inbound SMS (no `status`; one of [`INBOUND_FIELDS`]): `msisdn` is the sender and `to`
/// your number (inbound-sms.md), stored as [`INBOUND`], `delivered`. Each part of a long
/// message has its own `messageId`, so each is a message of its own (the `concat-*` fields are
/// kept).
fn inbound(
    subject_id: String,
    params: &[(String, String)],
    value: impl Fn(&str) -> Option<String>,
    received_at: Timestamp,
) -> Event {
    Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Vonage,
        kind: Kind::Message,
        subject_id,
        event_id: event_id(params),
        status: Some(Status::Delivered),
        provider_status: INBOUND.to_owned(),
        occurred_at: value("message-timestamp")
            .and_then(|text| Timestamp::parse_utc_date_time(&text)),
        received_at,
        sequence: None,
        direction: Some(Direction::Inbound),
        from: value("msisdn"),
        to: value("to"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            extra: extra_fields(&INBOUND_EXTRA_FIELDS, value),
            ..Details::default()
        },
    }
}

/// Signs an SMS request as Vonage would: sets `timestamp` to `now`, replaces `sig`, and writes
/// the parameters back where they were (query, form body or JSON body). Any `Authorization`
/// header is dropped: Vonage sends none with SMS webhooks, and a `Bearer` one would select the
/// voice scheme. A parameter name containing `&` or `=` is refused as [`verify_signature`]
/// refuses it.
pub(crate) fn sign(
    request: &CapturedRequest,
    params: Params,
    secret: &Secret,
    method: SmsMethod,
    now: Timestamp,
) -> Result<CapturedRequest, WebhookError> {
    let source = params.source;
    let mut params: Vec<(String, String)> = params
        .into_flat()?
        .into_iter()
        .filter(|(key, _)| key != "sig" && key != "timestamp")
        .collect();
    refuse_separators_in_names(&params)?;
    params.push(("timestamp".into(), now.unix_seconds().to_string()));
    let sig = compute(method, secret.expose(), &signed_string(&params));
    params.push(("sig".into(), sig));

    let mut signed = request.clone();
    signed.headers.remove("authorization");
    match source {
        Source::Query => signed.url = with_query(&request.url, &form_encode(&params)),
        Source::Form => signed.body = form_encode(&params).into_bytes(),
        Source::Json => {
            let object: serde_json::Map<String, serde_json::Value> = params
                .into_iter()
                .map(|(key, value)| (key, serde_json::Value::String(value)))
                .collect();
            signed.body = serde_json::Value::Object(object).to_string().into_bytes();
        }
    }
    Ok(signed)
}

fn form_encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// `url` with its query replaced by `query` (and any fragment, which no request carries, dropped).
fn with_query(url: &str, query: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    format!("{}?{query}", &url[..end])
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
    fn sorts_by_bytes_and_replaces_separators_in_values_only() {
        let params = pairs(&[
            ("messageId", "1"),
            ("message-timestamp", "t"),
            ("text", "a&b=c d"),
            ("sig", "ignored"),
        ]);
        assert_eq!(
            signed_string(&params),
            "&message-timestamp=t&messageId=1&text=a_b_c d"
        );
    }

    #[test]
    fn infers_candidate_methods_from_the_length() {
        assert_eq!(methods_for_length(32), [SmsMethod::Md5Hash, SmsMethod::Md5]);
        assert_eq!(methods_for_length(40), [SmsMethod::Sha1]);
        assert_eq!(methods_for_length(64), [SmsMethod::Sha256]);
        assert_eq!(methods_for_length(128), [SmsMethod::Sha512]);
        assert!(methods_for_length(33).is_empty());
    }

    #[test]
    fn configured_method_is_the_only_one_tried() {
        let secrets = [Secret::new("s")];
        let mut params = pairs(&[("a", "1")]);
        params.push(("sig".into(), compute(SmsMethod::Md5Hash, "s", "&a=1")));
        assert!(verify_signature(&params, &secrets, None).is_ok());
        assert!(verify_signature(&params, &secrets, Some(SmsMethod::Md5Hash)).is_ok());
        assert!(matches!(
            verify_signature(&params, &secrets, Some(SmsMethod::Md5)),
            Err(WebhookError::InvalidSignature(_))
        ));
        assert!(matches!(
            verify_signature(&params, &secrets, Some(SmsMethod::Sha256)),
            Err(WebhookError::InvalidSignature(_))
        ));
    }

    #[test]
    fn error_codes_have_their_documented_meaning() {
        assert_eq!(error_message("0"), Some("Delivered"));
        assert_eq!(error_message("6"), Some("Anti-Spam Rejection"));
        assert_eq!(error_message("99"), Some("General Error"));
        assert_eq!(error_message("16"), None);
        assert_eq!(error_message("x"), None);
    }

    #[test]
    fn replaces_the_query_of_a_url() {
        assert_eq!(with_query("https://h/p?a=1#f", "b=2"), "https://h/p?b=2");
        assert_eq!(with_query("https://h/p", "b=2"), "https://h/p?b=2");
    }
}
