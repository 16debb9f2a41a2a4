//! `sign` → `verify` round trips and `simulate` runs for every provider other than Vonage
//! (whose own files cover it in depth): the same checks, one table row per provider.

use serde_json::{json, Value};

use crate::fake_worker::{FakeWorker, Received};
use crate::support::{fixture, Switchboard};

const NOW: i64 = 1_767_225_600;

struct Case {
    provider: &'static str,
    /// An unsigned request of that provider.
    fixture: &'static str,
    /// What signs it, and what verifies it.
    sign_flags: &'static str,
    verify_flags: &'static str,
    /// A key that did not sign it.
    wrong_flags: &'static str,
    /// The header the signature travels in.
    signature_header: &'static str,
    kind: &'static str,
    subject_id: &'static str,
    status: &'static str,
    /// The scheme signs a time: an hour later the request is refused.
    timestamped: bool,
    /// The scheme signs the URL, so `--public-base-url` changes the signature.
    signs_url: bool,
}

const BIRD: Case = Case {
    provider: "bird",
    fixture: "bird-call-unsigned.json",
    sign_flags: "--secret bird-key",
    verify_flags: "--secret bird-key",
    wrong_flags: "--secret other-key",
    signature_header: "messagebird-signature",
    kind: "call",
    subject_id: "5e4b1a4e-7d0c-4d8c-9a57-3c1b8f0e2a61",
    status: "in_progress",
    timestamped: true,
    signs_url: true,
};

const MESSAGEBIRD: Case = Case {
    provider: "messagebird",
    fixture: "messagebird-sms-unsigned.json",
    sign_flags: "--secret messagebird-key",
    verify_flags: "--secret messagebird-key",
    wrong_flags: "--secret other-key",
    signature_header: "messagebird-signature-jwt",
    kind: "message",
    subject_id: "e8077d803532c0b5937c639b60216938",
    status: "delivered",
    timestamped: true,
    signs_url: true,
};

const TWILIO: Case = Case {
    provider: "twilio",
    fixture: "twilio-call-unsigned.json",
    sign_flags: "--secret twilio-token",
    verify_flags: "--secret twilio-token",
    wrong_flags: "--secret other-token",
    signature_header: "x-twilio-signature",
    kind: "call",
    subject_id: "CA5f7a9c1e3b2d4f6a8c0e1b3d5f7a9c1e",
    status: "completed",
    timestamped: false,
    signs_url: true,
};

const PLIVO: Case = Case {
    provider: "plivo",
    fixture: "plivo-sms-unsigned.json",
    sign_flags: "--secret plivo-token",
    verify_flags: "--secret plivo-token",
    wrong_flags: "--secret other-token",
    signature_header: "x-plivo-signature-v3",
    kind: "message",
    subject_id: "db3ce55a-7f1d-11e1-8ea7-1231380bc196",
    status: "delivered",
    timestamped: false,
    signs_url: true,
};

const TELNYX: Case = Case {
    provider: "telnyx",
    fixture: "telnyx-call-unsigned.json",
    // A development key pair (RFC 8032 §7.1 TEST 1): public key, and the seed that signs.
    sign_flags: "--secret 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= \
                 --signing-key nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
    verify_flags: "--secret 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    // A valid public key (RFC 8032 §7.1 TEST 2) that did not sign.
    wrong_flags: "--secret PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=",
    signature_header: "telnyx-signature-ed25519",
    kind: "call",
    subject_id: "2dc6fc34-f9e0-11ea-b68e-02420a0f7768",
    status: "busy",
    timestamped: true,
    signs_url: false,
};

const VONAGE_BUSINESS: Case = Case {
    provider: "vonage-business",
    fixture: "vonage-business-call-unsigned.json",
    sign_flags: "--secret vis-key",
    verify_flags: "--secret vis-key",
    wrong_flags: "--secret other-key",
    signature_header: "x-von-signature",
    kind: "call",
    subject_id: "5a85d86f253bcd10897f3189",
    status: "completed",
    timestamped: false,
    signs_url: false,
};

/// Signs the case's fixture at `NOW` with `extra` flags and returns the signed request's file.
fn sign(switchboard: &Switchboard, case: &Case, extra: &str) -> String {
    let line = format!(
        "sign --provider {} {} --now {NOW} {extra}",
        case.provider, case.sign_flags
    );
    let run = switchboard
        .run_line(&line, &[&fixture(case.fixture)])
        .expect(0);
    let signed: Value = run.json();
    assert!(
        signed["headers"][case.signature_header].is_string(),
        "{}: {signed}",
        case.provider
    );
    switchboard.write("signed.json", &run.stdout)
}

fn verify(
    switchboard: &Switchboard,
    case: &Case,
    flags: &str,
    now: i64,
    file: &str,
) -> crate::support::Run {
    let line = format!("verify --provider {} {flags} --now {now}", case.provider);
    switchboard.run_line(&line, &[file])
}

fn round_trip(case: &Case) {
    let switchboard = Switchboard::new(&format!("round_trip_{}", case.provider));
    let signed = sign(&switchboard, case, "");

    let run = verify(&switchboard, case, case.verify_flags, NOW, &signed).expect(0);
    let event = &run.json()[0];
    assert_eq!(event["provider"], case.provider);
    assert_eq!(event["kind"], case.kind);
    assert_eq!(event["subject_id"], case.subject_id);
    assert_eq!(event["status"], case.status);

    let run = verify(&switchboard, case, case.wrong_flags, NOW, &signed).expect(1);
    assert!(
        run.stderr.starts_with("invalid_signature: "),
        "{}: {}",
        case.provider,
        run.stderr
    );
    let an_hour_later = verify(&switchboard, case, case.verify_flags, NOW + 3_600, &signed);
    if case.timestamped {
        let run = an_hour_later.expect(1);
        assert!(
            run.stderr.starts_with("timestamp_out_of_tolerance: "),
            "{}: {}",
            case.provider,
            run.stderr
        );
    } else {
        // Nothing time-related is signed: replays are absorbed by the worker's dedup.
        an_hour_later.expect(0);
    }

    // Signed for the public URL the provider calls, verified as the worker does behind it.
    let public = "--public-base-url https://hooks.example.com";
    let signed = sign(&switchboard, case, public);
    let behind_proxy = format!("{} {public}", case.verify_flags);
    verify(&switchboard, case, &behind_proxy, NOW, &signed).expect(0);
    let direct = verify(&switchboard, case, case.verify_flags, NOW, &signed);
    direct.expect(if case.signs_url { 1 } else { 0 });
}

/// A worker that acknowledges every webhook (flagging exact repeats) and reports `status` for
/// whatever it is asked about.
fn worker(provider: &'static str, status: &'static str) -> FakeWorker {
    FakeWorker::start(move |request, before| {
        if request.path().starts_with("/webhooks/") {
            let duplicate = before.iter().any(|earlier| earlier == request);
            let ack = json!({"accepted": [{"kind": "call", "id": "x", "event_id": "e", "duplicate": duplicate}]});
            return (200, ack.to_string());
        }
        let id = request.path().rsplit('/').next().unwrap_or_default();
        let kind = if request.path().starts_with("/v1/calls/") {
            "call"
        } else {
            "message"
        };
        let summary = json!({
            "provider": provider, "kind": kind, "id": id, "status": status,
            "provider_status": status, "terminal": true, "event_count": 3,
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:06.000Z"
        });
        (200, summary.to_string())
    })
}

/// Every scenario of the provider against a fake worker: each is sent signed, once in order
/// except one duplicate (byte for byte) and one late event, then the state is read.
fn simulate_all(case: &Case, scenarios: &[(&str, &'static str)]) {
    for &(scenario, status) in scenarios {
        let worker = worker(case.provider, status);
        let switchboard = Switchboard::new(&format!("simulate_{}_{scenario}", case.provider));
        let line = format!(
            "simulate --provider {} {} --token t --target {} --scenario {scenario}",
            case.provider, case.sign_flags, worker.url
        );
        let run = switchboard.run_line(&line, &[]).expect(0);
        assert_eq!(run.json()["status"], status, "{} {scenario}", case.provider);

        let received = worker.received();
        let (reads, hooks): (Vec<&Received>, Vec<&Received>) = received
            .iter()
            .partition(|request| request.path().starts_with("/v1/"));
        let path = format!("/webhooks/{}", case.provider);
        assert!(hooks.iter().all(|hook| hook.path() == path), "{hooks:?}");
        assert!(
            hooks
                .iter()
                .all(|hook| hook.headers.contains_key(case.signature_header)),
            "{} {scenario}: {hooks:?}",
            case.provider
        );
        let repeats = hooks
            .iter()
            .enumerate()
            .filter(|(index, hook)| hooks[..*index].contains(hook))
            .count();
        assert_eq!(repeats, 1, "{} {scenario}: one duplicate", case.provider);
        assert!(hooks.len() >= 3, "{} {scenario}", case.provider);

        assert_eq!(reads.len(), 1);
        let kind = if scenario.starts_with("sms-") {
            "messages"
        } else {
            "calls"
        };
        let prefix = format!("/v1/{kind}/{}/", case.provider);
        let id = reads[0]
            .target
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{} {scenario}: read {}", case.provider, reads[0].target));
        assert!(
            hooks[0].target.contains(id) || hooks[0].body.contains(id),
            "{} {scenario}: the id {id} is the webhooks' subject",
            case.provider
        );
        assert_eq!(received.last(), Some(reads[0]));
    }
}

const CALLS: [(&str, &str); 3] = [
    ("answered", "completed"),
    ("busy", "busy"),
    ("no-answer", "no_answer"),
];
const SMS: [(&str, &str); 2] = [("sms-delivered", "delivered"), ("sms-failed", "failed")];

#[test]
fn bird_signs_verifies_and_simulates_calls() {
    round_trip(&BIRD);
    simulate_all(&BIRD, &CALLS);
}

#[test]
fn messagebird_signs_verifies_and_simulates_sms() {
    round_trip(&MESSAGEBIRD);
    simulate_all(&MESSAGEBIRD, &SMS);
}

#[test]
fn twilio_signs_verifies_and_simulates_calls_and_sms() {
    round_trip(&TWILIO);
    simulate_all(&TWILIO, &CALLS);
    simulate_all(&TWILIO, &SMS);
}

#[test]
fn plivo_signs_verifies_and_simulates_calls_and_sms() {
    round_trip(&PLIVO);
    simulate_all(&PLIVO, &CALLS);
    simulate_all(&PLIVO, &SMS);
}

#[test]
fn telnyx_signs_verifies_and_simulates_calls_and_sms() {
    round_trip(&TELNYX);
    simulate_all(&TELNYX, &CALLS);
    simulate_all(&TELNYX, &SMS);
}

#[test]
fn vonage_business_signs_verifies_and_simulates_calls() {
    round_trip(&VONAGE_BUSINESS);
    simulate_all(
        &VONAGE_BUSINESS,
        &[("answered", "completed"), ("no-answer", "no_answer")],
    );
}

#[test]
fn scenarios_a_provider_does_not_have_are_usage_errors() {
    let switchboard = Switchboard::new("simulate_unavailable");
    for (line, message) in [
        (
            "--provider bird --secret k --scenario sms-delivered",
            "scenario `sms-delivered` is not available for bird (available: answered, busy, no-answer)",
        ),
        (
            "--provider vonage-business --secret k --scenario busy",
            "scenario `busy` is not available for vonage-business (available: answered, no-answer)",
        ),
        (
            "--provider messagebird --secret k --scenario busy",
            "scenario `busy` is not available for messagebird (available: sms-delivered, sms-failed)",
        ),
    ] {
        let line = format!("simulate --token t --target http://127.0.0.1:9 {line}");
        let run = switchboard.run_line(&line, &[]).expect(2);
        assert!(run.stderr.contains(message), "{line}: {}", run.stderr);
    }
}

#[test]
fn telnyx_keys_come_from_dev_vars_and_signing_needs_the_private_one() {
    let worker = worker("telnyx", "busy");
    let switchboard = Switchboard::new("simulate_telnyx_dev_vars");
    let unsigned = fixture(TELNYX.fixture);
    let run = switchboard
        .run_line(
            "sign --provider telnyx --secret 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            &[&unsigned],
        )
        .expect(2);
    assert!(
        run.stderr.contains(
            "no signing key for telnyx: pass --signing-key, or set TELNYX_SIGNING_PRIVATE_KEY"
        ),
        "{}",
        run.stderr
    );

    switchboard.write(
        ".dev.vars",
        "TELNYX_PUBLIC_KEY=\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n\
         TELNYX_SIGNING_PRIVATE_KEY=\"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\"\n\
         STATUS_API_TOKEN=t\n",
    );
    let line = format!(
        "simulate --provider telnyx --target {} --scenario busy",
        worker.url
    );
    let run = switchboard.run_line(&line, &[]).expect(0);
    assert_eq!(run.json()["status"], "busy");
    let signed = switchboard
        .run_line("sign --provider telnyx", &[&unsigned])
        .expect(0);
    let file = switchboard.write("signed.json", &signed.stdout);
    switchboard
        .run_line("verify --provider telnyx", &[&file])
        .expect(0);
}

/// The help text names the providers and their secret settings by hand: it must name every row
/// of the registry.
#[test]
fn help_names_every_provider_and_its_secret_setting() {
    let switchboard = Switchboard::new("help_names_every_provider");
    let help = switchboard.run(&["verify", "--help"]).expect(0).stdout;
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for provider in switchboard_core::registry::PROVIDERS {
        for name in [provider.name, provider.secret_setting] {
            let named = help.match_indices(name).any(|(at, _)| {
                let next = help[at + name.len()..].chars().next();
                !next.is_some_and(|next| next.is_alphanumeric() || next == '_' || next == '-')
            });
            assert!(named, "`verify --help` does not name {name}:\n{help}");
        }
    }
}
