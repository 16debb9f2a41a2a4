//! `switchboard sign`, and `verify` accepting what it signs.

use serde_json::Value;

use crate::support::{fixture, Switchboard};

const SECRET: &str = "round-trip-secret";
const NOW: i64 = 1_767_225_600;

/// Signs a fixture at `NOW` with `flags` and returns the signed request's JSON text.
fn sign(switchboard: &Switchboard, name: &str, flags: &str) -> String {
    let line = format!("sign --provider vonage --secret {SECRET} --now {NOW} {flags}");
    switchboard
        .run_line(&line, &[&fixture(name)])
        .expect(0)
        .stdout
}

fn verify_line(flags: &str) -> String {
    format!("verify --provider vonage --secret {SECRET} {flags}")
}

#[test]
fn signed_voice_event_verifies() {
    let switchboard = Switchboard::new("sign_voice");
    let signed = sign(&switchboard, "vonage-voice-unsigned.json", "");
    let request: Value = serde_json::from_str(&signed).unwrap();
    let unsigned = std::fs::read_to_string(fixture("vonage-voice-unsigned.json")).unwrap();
    let unsigned: Value = serde_json::from_str(&unsigned).unwrap();
    assert_eq!(request["body"], unsigned["body"], "the body is kept as is");
    let authorization = request["headers"]["authorization"].as_str().unwrap();
    assert!(authorization.starts_with("Bearer ey"), "{authorization}");

    let file = switchboard.write("signed.json", &signed);
    let run = switchboard
        .run_line(&verify_line(&format!("--now {NOW}")), &[&file])
        .expect(0);
    let event = &run.json()[0];
    assert_eq!(event["subject_id"], "63f61863-4a51-4f6b-86e1-46edebcf9356");
    assert_eq!(event["status"], "in_progress");
    assert_eq!(event["provider_status"], "answered");

    let line = format!("verify --provider vonage --secret other-secret --now {NOW}");
    let run = switchboard.run_line(&line, &[&file]).expect(1);
    assert!(
        run.stderr.starts_with("invalid_signature: "),
        "{}",
        run.stderr
    );
}

#[test]
fn signed_delivery_receipt_form_verifies_with_the_same_method() {
    let switchboard = Switchboard::new("sign_dlr_form");
    let signed = sign(
        &switchboard,
        "vonage-dlr-unsigned-post.json",
        "--method sha256",
    );
    let request: Value = serde_json::from_str(&signed).unwrap();
    let body = request["body"].as_str().unwrap();
    assert!(body.contains(&format!("timestamp={NOW}")), "{body}");
    assert!(body.contains("sig="), "{body}");

    let file = switchboard.write("signed.json", &signed);
    let verify = |flags: &str| {
        let line = verify_line(&format!("--now {NOW} {flags}"));
        switchboard.run_line(&line, &[&file])
    };
    let event = &verify("--method sha256").expect(0).json()[0];
    assert_eq!(event["kind"], "message");
    assert_eq!(event["subject_id"], "0B00000127FDBC63");
    assert_eq!(event["status"], "delivered");
    // Without a method the algorithm is inferred from the signature's length.
    verify("").expect(0);
    let refused = verify("--method sha512").expect(1);
    assert!(
        refused.stderr.starts_with("invalid_signature: "),
        "{}",
        refused.stderr
    );
}

#[test]
fn signed_delivery_receipt_query_verifies_through_stdin() {
    let switchboard = Switchboard::new("sign_dlr_query");
    let signed = sign(
        &switchboard,
        "vonage-dlr-unsigned-get.json",
        "--method md5hash",
    );
    let request: Value = serde_json::from_str(&signed).unwrap();
    let url = request["url"].as_str().unwrap();
    assert!(url.contains("&sig="), "{url}");
    assert!(
        request.get("body").is_none_or(|body| body == ""),
        "{request}"
    );

    let verify_at = |now: i64| {
        let line = verify_line(&format!("--now {now} -"));
        let args: Vec<&str> = line.split_whitespace().collect();
        switchboard.run_with_stdin(&args, &signed)
    };
    let run = verify_at(NOW).expect(0);
    let event = &run.json()[0];
    assert_eq!(event["status"], "failed");
    assert_eq!(event["details"]["error_code"], "5");

    let run = verify_at(NOW + 301).expect(1);
    assert!(
        run.stderr.starts_with("timestamp_out_of_tolerance: "),
        "{}",
        run.stderr
    );
}

#[test]
fn sign_usage_errors_exit_two() {
    let switchboard = Switchboard::new("sign_usage");
    let unsigned = fixture("vonage-voice-unsigned.json");
    let run = switchboard
        .run_line("sign --provider vonage", &[&unsigned])
        .expect(2);
    assert!(
        run.stderr.contains("no signature secret for vonage"),
        "{}",
        run.stderr
    );
    let run = switchboard
        .run_line(
            "sign --provider vonage --secret s --signing-key k",
            &[&unsigned],
        )
        .expect(2);
    assert!(
        run.stderr.contains("--signing-key applies to Telnyx only"),
        "{}",
        run.stderr
    );
    let run = switchboard
        .run_line("sign --provider vonage --secret s missing.json", &[])
        .expect(2);
    assert!(
        run.stderr.contains("cannot read missing.json"),
        "{}",
        run.stderr
    );
}
