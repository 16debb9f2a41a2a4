//! `switchboard verify`: exit 0 with the events, 1 with `code: reason`, 2 for usage errors.

use serde_json::Value;

use crate::support::{fixture, Switchboard};

/// Derived JWT vector (see the fixture's `_source`).
const VOICE: &str = "vonage-voice-completed.json";
const VOICE_SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgfnI0Xw";
const VOICE_NOW: i64 = 1_577_880_000;

/// Official PHP SDK `sig` vector (see the fixture's `_source`).
const SMS: &str = "vonage-sms-php-vector.json";
const SMS_SECRET: &str = "my_secret_key_for_testing";
const SMS_NOW: i64 = 1_385_047_698;

/// A delivery receipt signed with md5hash (see the fixture's `_source`).
const MD5HASH_DLR: &str = "vonage-dlr-md5hash-get.json";
const MD5HASH_DLR_SECRET: &str = "md5hash-dlr-secret";
const MD5HASH_DLR_NOW: i64 = 1_767_225_600;

/// A copy of a fixture with one change made to its JSON.
fn altered(switchboard: &Switchboard, name: &str, change: impl FnOnce(&mut Value)) -> String {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut request: Value = serde_json::from_str(&text).unwrap();
    change(&mut request);
    switchboard.write(name, &request.to_string())
}

#[test]
fn valid_voice_event_prints_the_normalized_event() {
    let line = format!("verify --provider vonage --secret {VOICE_SECRET} --now {VOICE_NOW}");
    let run = Switchboard::new("verify_valid_voice")
        .run_line(&line, &[&fixture(VOICE)])
        .expect(0);
    let events = run.json();
    let events = events.as_array().expect("an array of events");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["provider"], "vonage");
    assert_eq!(event["kind"], "call");
    assert_eq!(event["subject_id"], "aaaaaaaa-bbbb-cccc-dddd-0123456789ab");
    assert_eq!(event["status"], "completed");
    assert_eq!(event["provider_status"], "completed");
    assert_eq!(event["direction"], "inbound");
    assert_eq!(
        event["session_id"],
        "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    );
    assert_eq!(event["received_at"], "2020-01-01T12:00:00.000Z");
    assert_eq!(event["details"]["duration_seconds"], 2);
    assert_eq!(event["details"]["price"], "0.00015000");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn reads_the_request_from_stdin() {
    let request = std::fs::read_to_string(fixture(VOICE)).unwrap();
    let line = format!("verify --provider vonage --secret {VOICE_SECRET} --now {VOICE_NOW} -");
    let args: Vec<&str> = line.split_whitespace().collect();
    let run = Switchboard::new("verify_stdin")
        .run_with_stdin(&args, &request)
        .expect(0);
    assert_eq!(run.json()[0]["status"], "completed");
}

#[test]
fn official_sms_signature_vector_passes_the_signature_check() {
    // The PHP SDK vector is an inbound SMS, not a delivery receipt: its `sig` verifies, and it
    // is stored as an inbound message, delivered.
    let line =
        format!("verify --provider vonage --secret {SMS_SECRET} --method md5hash --now {SMS_NOW}");
    let run = Switchboard::new("verify_sms_vector")
        .run_line(&line, &[&fixture(SMS)])
        .expect(0);
    let events = run.json();
    assert_eq!(events[0]["kind"], "message");
    assert_eq!(events[0]["status"], "delivered");
    assert_eq!(events[0]["provider_status"], "inbound");
    assert_eq!(events[0]["direction"], "inbound");
}

#[test]
fn tampered_voice_body_fails_the_payload_hash() {
    let switchboard = Switchboard::new("verify_tampered_voice");
    let file = altered(&switchboard, VOICE, |request| {
        let body = request["body"].as_str().unwrap();
        request["body"] = body
            .replace(r#""duration":"2""#, r#""duration":"3""#)
            .into();
    });
    let line = format!("verify --provider vonage --secret {VOICE_SECRET} --now {VOICE_NOW}");
    let run = switchboard.run_line(&line, &[&file]).expect(1);
    assert_eq!(
        run.stderr.trim_end(),
        "payload_hash_mismatch: the signed body hash does not match the body received"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn tampered_sms_parameter_fails_the_signature() {
    let switchboard = Switchboard::new("verify_tampered_sms");
    let file = altered(&switchboard, SMS, |request| {
        let url = request["url"].as_str().unwrap();
        request["url"] = url
            .replace("msisdn=14843472194", "msisdn=14843472195")
            .into();
    });
    let line = format!("verify --provider vonage --secret {SMS_SECRET} --now {SMS_NOW}");
    let run = switchboard.run_line(&line, &[&file]).expect(1);
    assert!(
        run.stderr
            .starts_with("invalid_signature: signature does not match: "),
        "{}",
        run.stderr
    );
}

#[test]
fn wrong_secret_fails_the_signature() {
    let switchboard = Switchboard::new("verify_wrong_secret");
    for (file, now) in [(VOICE, VOICE_NOW), (SMS, SMS_NOW)] {
        let line = format!("verify --provider vonage --secret not-the-secret --now {now}");
        let run = switchboard.run_line(&line, &[&fixture(file)]).expect(1);
        assert!(
            run.stderr.starts_with("invalid_signature: "),
            "{file}: {}",
            run.stderr
        );
    }
}

#[test]
fn any_of_several_secrets_may_match() {
    let switchboard = Switchboard::new("verify_rotation");
    for secrets in [
        format!("--secret retired-secret --secret {VOICE_SECRET}"),
        format!("--secret retired-secret,{VOICE_SECRET}"),
    ] {
        let line = format!("verify --provider vonage {secrets} --now {VOICE_NOW}");
        switchboard.run_line(&line, &[&fixture(VOICE)]).expect(0);
    }
}

#[test]
fn now_outside_the_tolerance_is_refused_until_the_tolerance_covers_it() {
    let switchboard = Switchboard::new("verify_tolerance");
    let late = VOICE_NOW + 301;
    let line = format!("verify --provider vonage --secret {VOICE_SECRET} --now {late}");
    let run = switchboard.run_line(&line, &[&fixture(VOICE)]).expect(1);
    assert!(
        run.stderr.starts_with("timestamp_out_of_tolerance: "),
        "{}",
        run.stderr
    );
    let line = format!("{line} --tolerance 301");
    switchboard.run_line(&line, &[&fixture(VOICE)]).expect(0);

    let early = SMS_NOW - 3600;
    let line = format!("verify --provider vonage --secret {SMS_SECRET} --now {early}");
    let run = switchboard.run_line(&line, &[&fixture(SMS)]).expect(1);
    assert!(
        run.stderr.starts_with("timestamp_out_of_tolerance: "),
        "{}",
        run.stderr
    );
}

#[test]
fn the_host_clock_is_the_default_now() {
    // Signed in 2020: today that is far outside any tolerance.
    let line = format!("verify --provider vonage --secret {VOICE_SECRET}");
    let run = Switchboard::new("verify_host_clock")
        .run_line(&line, &[&fixture(VOICE)])
        .expect(1);
    assert!(
        run.stderr.starts_with("timestamp_out_of_tolerance: "),
        "{}",
        run.stderr
    );
}

#[test]
fn settings_come_from_the_environment_and_dev_vars_when_flags_are_absent() {
    let voice = fixture(VOICE);
    let switchboard = Switchboard::new("verify_dev_vars");
    switchboard.write(
        ".dev.vars",
        &format!(
            "# local settings\n\
             VONAGE_SIGNATURE_SECRET=\"old-secret,{VOICE_SECRET}\"\n\
             SIGNATURE_TOLERANCE_SECONDS=600\n"
        ),
    );
    let verify = |flags: &str| {
        let line = format!("verify --provider vonage {flags}");
        switchboard.run_line(&line, &[&voice])
    };
    verify(&format!("--now {VOICE_NOW}")).expect(0);
    // The file's tolerance applies: 500 s late is accepted...
    let late = VOICE_NOW + 500;
    verify(&format!("--now {late}")).expect(0);
    // ...and flags override the file.
    let refused = verify(&format!("--now {late} --tolerance 300")).expect(1);
    assert!(
        refused.stderr.starts_with("timestamp_out_of_tolerance: "),
        "{}",
        refused.stderr
    );
    let refused = verify(&format!("--now {VOICE_NOW} --secret flag-secret")).expect(1);
    assert!(
        refused.stderr.starts_with("invalid_signature: "),
        "{}",
        refused.stderr
    );

    let elsewhere = Switchboard::new("verify_dev_vars_path");
    let path = elsewhere.write(
        "worker.vars",
        &format!("VONAGE_SIGNATURE_SECRET={VOICE_SECRET}\n"),
    );
    let line = format!("verify --provider vonage --now {VOICE_NOW} --dev-vars");
    elsewhere.run_line(&line, &[&path, &voice]).expect(0);

    let line = format!("verify --provider vonage --now {VOICE_NOW}");
    Switchboard::new("verify_env")
        .env("VONAGE_SIGNATURE_SECRET", VOICE_SECRET)
        .run_line(&line, &[&voice])
        .expect(0);
}

#[test]
fn a_secret_flag_ignores_the_method_of_the_environment_and_dev_vars() {
    let receipt = fixture(MD5HASH_DLR);
    let switchboard = Switchboard::new("verify_secret_flag_method");
    switchboard.write(
        ".dev.vars",
        "VONAGE_SIGNATURE_SECRET=dev-secret\nVONAGE_SIGNATURE_METHOD=sha256\n",
    );
    let line =
        format!("verify --provider vonage --secret {MD5HASH_DLR_SECRET} --now {MD5HASH_DLR_NOW}");
    let run = switchboard.run_line(&line, &[&receipt]).expect(0);
    let event = &run.json()[0];
    assert_eq!(event["kind"], "message");
    assert_eq!(event["subject_id"], "0B00000127FDBC63");
    assert_eq!(event["status"], "delivered");
    // The same from the environment...
    Switchboard::new("verify_secret_flag_env_method")
        .env("VONAGE_SIGNATURE_SECRET", "env-secret")
        .env("VONAGE_SIGNATURE_METHOD", "sha256")
        .run_line(&line, &[&receipt])
        .expect(0);
    // ...while --method still applies...
    let refused = switchboard
        .run_line(&format!("{line} --method sha1"), &[&receipt])
        .expect(1);
    assert!(
        refused.stderr.starts_with("invalid_signature: "),
        "{}",
        refused.stderr
    );
    switchboard
        .run_line(&format!("{line} --method md5hash"), &[&receipt])
        .expect(0);

    // ...and a secret from .dev.vars brings its method along.
    switchboard.write(
        ".dev.vars",
        &format!("VONAGE_SIGNATURE_SECRET={MD5HASH_DLR_SECRET}\nVONAGE_SIGNATURE_METHOD=sha256\n"),
    );
    let line = format!("verify --provider vonage --now {MD5HASH_DLR_NOW}");
    let refused = switchboard.run_line(&line, &[&receipt]).expect(1);
    assert!(
        refused.stderr.starts_with("invalid_signature: "),
        "{}",
        refused.stderr
    );
    switchboard.write(
        ".dev.vars",
        &format!("VONAGE_SIGNATURE_SECRET={MD5HASH_DLR_SECRET}\nVONAGE_SIGNATURE_METHOD=md5hash\n"),
    );
    switchboard.run_line(&line, &[&receipt]).expect(0);
}

#[test]
fn missing_file_is_a_usage_error() {
    let run = Switchboard::new("verify_missing_file")
        .run_line(
            "verify --provider vonage --secret s no-such-request.json",
            &[],
        )
        .expect(2);
    assert!(
        run.stderr
            .starts_with("error: cannot read no-such-request.json: "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_file_that_is_not_a_captured_request_is_a_usage_error() {
    let switchboard = Switchboard::new("verify_unparseable");
    for (name, contents) in [
        ("not-json.json", "method=POST"),
        ("no-url.json", r#"{"method": "POST", "body": "{}"}"#),
        (
            "two-bodies.json",
            r#"{"method": "POST", "url": "/", "body": "", "body_base64": ""}"#,
        ),
    ] {
        let file = switchboard.write(name, contents);
        let run = switchboard
            .run_line("verify --provider vonage --secret s", &[&file])
            .expect(2);
        let prefix = format!("error: {file}: malformed request: captured request: ");
        assert!(run.stderr.starts_with(&prefix), "{}", run.stderr);
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let switchboard = Switchboard::new("verify_bad_args");
    let voice = fixture(VOICE);
    for (line, message) in [
        ("", "Usage: switchboard"),
        ("verify --secret s", "--provider"),
        (
            "verify --provider acme --secret s",
            "unknown provider `acme` (known: vonage, ",
        ),
        (
            "verify --provider vonage --secret s --method crc32",
            "crc32",
        ),
        (
            "verify --provider vonage --secret s --now yesterday",
            "yesterday",
        ),
        (
            "verify --provider vonage --secret s --tolerance soon",
            "--tolerance",
        ),
        ("verify --provider vonage", "no signature secret for vonage"),
        (
            "verify --provider vonage --dev-vars absent.vars",
            "cannot read absent.vars",
        ),
    ] {
        let tail: &[&str] = if line.is_empty() { &[] } else { &[&voice] };
        let run = switchboard.run_line(line, tail).expect(2);
        assert!(run.stderr.contains(message), "{line}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{line}: {}", run.stdout);
    }
    let run = switchboard
        .run_line("verify --provider vonage --secret s", &[])
        .expect(2);
    assert!(run.stderr.contains("<FILE>"), "{}", run.stderr);

    for (dev_vars, message) in [
        (
            "VONAGE_SIGNATURE_SECRET\n",
            ".dev.vars: line 1: expected KEY=value",
        ),
        (
            "VONAGE_SIGNATURE_SECRET=s\nVONAGE_SIGNATURE_METHOD=crc32\n",
            "VONAGE_SIGNATURE_METHOD",
        ),
    ] {
        switchboard.write(".dev.vars", dev_vars);
        let run = switchboard
            .run_line("verify --provider vonage", &[&voice])
            .expect(2);
        assert!(run.stderr.contains(message), "{}", run.stderr);
    }
}

#[test]
fn help_and_version_exit_zero() {
    let switchboard = Switchboard::new("help");
    let help = switchboard.run_line("--help", &[]).expect(0);
    for command in ["verify", "sign", "simulate"] {
        assert!(help.stdout.contains(command), "{}", help.stdout);
    }
    let help = switchboard.run_line("simulate --help", &[]).expect(0);
    assert!(help.stdout.contains("sms-delivered"), "{}", help.stdout);
    switchboard.run_line("--version", &[]).expect(0);
}
