//! What the fuzz targets share: the input format, the configured providers and the invariants.
//!
//! A provider target reads its input as a small HTTP-like text (the seeds in `fuzz/corpus/` are
//! written in it by `scripts/fuzz.sh` from the project's fixtures):
//!
//! ```text
//! METHOD\n
//! URL\n
//! name: value\n        (any number of header lines)
//! \n
//! body bytes (anything, to the end)
//! ```
//!
//! Missing lines are empty; header names are lower-cased and a repeated header is joined with
//! `", "`, as the worker's Fetch API does.

use switchboard_core::registry::{ProviderEntry, PROVIDERS};
use switchboard_core::{
    configured_signer, CapturedRequest, Config, ErrorClass, Event, ProviderId, Signer,
    SubjectState, Timestamp, WebhookError,
};

/// The time every target runs at (2026-01-01T00:00:00Z); timestamps in the input are arbitrary.
pub const NOW: Timestamp = Timestamp::from_unix_seconds(1_767_225_600);

/// The configuration every provider target uses (built once per process): the development
/// values of the registry (`.dev.vars.example`), fixed, public, never production secrets.
pub fn config() -> &'static Config {
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::from_lookup(|name| {
            PROVIDERS
                .iter()
                .flat_map(ProviderEntry::dev_settings)
                .chain([("SIGNATURE_TOLERANCE_SECONDS", "300")])
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_owned())
        })
        .expect("the fuzz configuration is valid")
    })
}

/// Reads a provider target's input (see the module docs).
pub fn request_from_bytes(data: &[u8]) -> CapturedRequest {
    let mut rest = data;
    let mut next_line = || -> Option<&[u8]> {
        if rest.is_empty() {
            return None;
        }
        let (line, after) = match rest.iter().position(|&byte| byte == b'\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &[][..]),
        };
        rest = after;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let method = next_line().map(text).unwrap_or_default();
    let url = next_line().map(text).unwrap_or_default();
    let mut request = CapturedRequest::new(&method, &url);
    while let Some(line) = next_line() {
        if line.is_empty() {
            break;
        }
        let line = text(line);
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let (name, value) = (name.trim(), value.trim());
        let joined = match request.header(name) {
            Some(previous) => format!("{previous}, {value}"),
            None => value.to_owned(),
        };
        request.set_header(name, &joined);
    }
    request.with_body(rest)
}

/// Writes `request` in the input format (what `scripts/fuzz.sh` does for the seeds).
pub fn request_to_bytes(request: &CapturedRequest) -> Vec<u8> {
    let mut out = format!("{}\n{}\n", request.method, request.url).into_bytes();
    for (name, value) in &request.headers {
        out.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(&request.body);
    out
}

/// The provider target: `receive` the request as it is (no panic; any verdict), then sign it
/// with the provider's own `sign` and `receive` that (no panic; accepted, or refused only as
/// malformed, of an unsupported media type, or of a shape the signature cannot bind (a
/// bodyless Vonage `POST`, a Twilio or Plivo string that could be cut otherwise): never for its
/// signature, since it is signed).
pub fn provider(id: ProviderId, data: &[u8]) {
    let provider = configured_signer(config(), id).expect("every provider is configured");
    let request = request_from_bytes(data);

    if let Ok(events) = provider.receive(&request, NOW) {
        check_events(provider.as_ref(), &events);
    }

    let Ok(signed) = provider.sign(&request, NOW) else {
        return;
    };
    match provider.receive(&signed, NOW) {
        Ok(events) => check_events(provider.as_ref(), &events),
        Err(error) => assert!(
            matches!(
                error.class(),
                ErrorClass::Malformed | ErrorClass::UnsupportedMediaType
            ) || matches!(
                error,
                WebhookError::UnsignedContent(_) | WebhookError::AmbiguousSignedString(_)
            ),
            "{id:?} refused a request it signed itself: {error:?} ({})\nsigned request: {signed:?}",
            error.code()
        ),
    }
}

/// What must hold of every accepted event: it is about this provider, it serializes, and the
/// state machine takes it.
fn check_events(provider: &dyn Signer, events: &[Event]) {
    for event in events {
        assert_eq!(event.provider, provider.id());
        let json = serde_json::to_string(event).expect("an event serializes");
        let back: Event = serde_json::from_str(&json).expect("an event reads back");
        assert_eq!(&back, event);
        let _ = provider.is_known_word(event.kind, &event.provider_status);
        let mut state = SubjectState::new(event.provider, event.kind, event.subject_id.clone());
        state.apply(event);
        state.apply(event);
        let _ = state.summary(1);
    }
}
