//! `switchboard`: verify captured webhooks offline, sign requests as a provider would, play
//! whole call / message lifecycles against a running worker, and receive its deliveries.
//!
//! Exit codes: 0 success; 1 refused (the request does not verify, or the simulation did not end
//! in the expected state); 2 usage error or unreadable input.

mod failure;
mod listen;
mod load;
mod settings;
mod simulate;
mod vis;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use switchboard_cli::{clock, scenario};
use switchboard_core::request::rebase_url;
use switchboard_core::secret::Secret;
use switchboard_core::{registry, CapturedRequest, ProviderId, Timestamp, WebhookError};

use crate::clock::IdSource;
use crate::failure::Failure;
use crate::scenario::{ScenarioIds, ScenarioName};
use crate::settings::{Settings, PUBLIC_BASE_URL, SIGNATURE_TOLERANCE_SECONDS, STATUS_API_TOKEN};

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a captured webhook request and print its normalized events as JSON.
    ///
    /// Exit 0: valid (events on stdout). Exit 1: refused (`code: reason` on stderr).
    /// Exit 2: bad arguments, missing secret, or FILE unreadable / not a captured request.
    Verify(VerifyArgs),
    /// Sign a captured request as the provider would and print it (captured-request JSON).
    Sign(SignArgs),
    /// Send a signed lifecycle (with a duplicate and a late event) to a running worker, then
    /// print the final state from its status API.
    ///
    /// Exit 0: the final status is the scenario's expected one. Exit 1: it is not, or a webhook
    /// or the status read failed.
    Simulate(SimulateArgs),
    /// Load a running worker for a benchmark: CONNECTIONS connections each send freshly signed
    /// lifecycles (as `simulate` does) back to back for SECONDS, then print throughput, latency
    /// percentiles and errors as JSON.
    ///
    /// Exit 0 whatever the worker answered (errors are counted in the report). Exit 2: bad
    /// arguments or a provider without its secret.
    Load(LoadArgs),
    /// Receive the worker's deliveries locally (docs/delivery.md): check each POST's Standard
    /// Webhooks signature, print it on stdout, and answer 204 if it verifies, 401 if not.
    ///
    /// Prints `delivered WEBHOOK_ID TYPE` and the body (pretty if JSON), or `refused WEBHOOK_ID :
    /// REASON` (`-` for a missing id). Runs until interrupted. Exit 2: bad arguments or the
    /// address cannot be bound.
    Listen(ListenArgs),
    /// Vonage Business (VIS): register the worker's endpoint for call events.
    #[command(subcommand)]
    Vis(VisCommand),
}

#[derive(Debug, Subcommand)]
enum VisCommand {
    /// Register URL (the worker's `PUBLIC_BASE_URL` and `/webhooks/vonage-business`) for VIS
    /// call events, signed HMAC-SHA256 with a fresh signing key sent in `X-VON-Signature`, then
    /// print the registration and the `wrangler secret put` command that gives the worker the
    /// key. Credentials: VONAGE_BUSINESS_CLIENT_ID, _CLIENT_SECRET, _USERNAME, _PASSWORD (and
    /// VONAGE_BUSINESS_API_URL), from the environment or the dotenv file.
    ///
    /// Exit 0: registered. Exit 1: the API refused, or URL is registered already. Exit 2: bad
    /// arguments or missing credentials.
    Register(VisRegisterArgs),
}

#[derive(Debug, Args)]
struct VisRegisterArgs {
    /// The URL VIS is to deliver to, e.g. https://hooks.example.com/webhooks/vonage-business.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Dotenv file with the credentials. [default: .dev.vars, if present]
    #[arg(long, value_name = "PATH")]
    dev_vars: Option<PathBuf>,
    /// Time limit for each HTTP request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

/// Which provider, and its signature settings. Unset settings are read from the environment,
/// then from the dotenv file, by the worker's names (VONAGE_SIGNATURE_SECRET, TWILIO_AUTH_TOKEN,
/// ...); but with --secret, the Vonage method comes from --method alone.
#[derive(Debug, Args)]
struct ProviderArgs {
    /// The webhook provider: vonage, vonage-business, telnyx, bird, messagebird, twilio or plivo.
    #[arg(long, value_name = "NAME", value_parser = parse_provider)]
    provider: ProviderId,
    /// The provider's secret; repeat (or comma-separate) to accept several. Signing uses the
    /// first. Telnyx: its base64 Ed25519 public key. [default: the worker's setting:
    /// VONAGE_SIGNATURE_SECRET, VONAGE_BUSINESS_SIGNING_KEY, TELNYX_PUBLIC_KEY, BIRD_SIGNING_KEY,
    /// MESSAGEBIRD_SIGNING_KEY, TWILIO_AUTH_TOKEN or PLIVO_AUTH_TOKEN]
    #[arg(long = "secret", value_name = "SECRET")]
    secrets: Vec<String>,
    /// Telnyx only: the base64 Ed25519 private key (32-byte seed) that `sign` and `simulate`
    /// sign with. Development use only. [default: TELNYX_SIGNING_PRIVATE_KEY]
    #[arg(long, value_name = "BASE64")]
    signing_key: Option<String>,
    /// Vonage SMS signature method (the Dashboard setting). [default: VONAGE_SIGNATURE_METHOD
    /// when --secret is not given; else verify infers it from the signature's length and sign
    /// uses md5hash]
    #[arg(long, value_name = "METHOD", value_parser = ["md5hash", "md5", "sha1", "sha256", "sha512"])]
    method: Option<String>,
    /// The scheme and host the provider calls (and signs), when the worker runs behind a proxy
    /// or tunnel: verify checks, and sign and simulate sign, for that URL, as the worker does.
    /// [default: PUBLIC_BASE_URL, if set]
    #[arg(long, value_name = "URL")]
    public_base_url: Option<String>,
    /// Dotenv file with the worker's settings. [default: .dev.vars, if present]
    #[arg(long, value_name = "PATH")]
    dev_vars: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    provider: ProviderArgs,
    /// How far a signed timestamp may be from now, in seconds. [default:
    /// SIGNATURE_TOLERANCE_SECONDS, else 300]
    #[arg(long, value_name = "SECONDS")]
    tolerance: Option<u32>,
    /// Verify as if now were this Unix time (seconds). [default: the host clock]
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    now: Option<i64>,
    /// Check only the signature (and signed time), not whether the body is a status event the
    /// worker stores: prints `{"verified": true}`. For signed requests of other kinds (test
    /// requests) and for the providers' published test vectors.
    #[arg(long)]
    signature_only: bool,
    /// Captured-request JSON file, or `-` for stdin.
    file: PathBuf,
}

#[derive(Debug, Args)]
struct SignArgs {
    #[command(flatten)]
    provider: ProviderArgs,
    /// Sign as if now were this Unix time (seconds). [default: the host clock]
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    now: Option<i64>,
    /// Captured-request JSON file, or `-` for stdin.
    file: PathBuf,
}

#[derive(Debug, Args)]
struct SimulateArgs {
    #[command(flatten)]
    provider: ProviderArgs,
    /// Base URL of the worker; webhooks go to {target}/webhooks/{provider}.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8787")]
    target: String,
    /// The lifecycle. Each provider has those its webhooks can express: Vonage Business has no
    /// busy state and no SMS, Bird is voice only, legacy MessageBird SMS only.
    #[arg(long, value_enum)]
    scenario: ScenarioName,
    /// Bearer token for the status API. [default: the first of STATUS_API_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// The call or message id to use (Vonage `uuid`, Twilio `CallSid`, Telnyx `call_leg_id`,
    /// …). [default: a fresh one, shaped like the provider's]
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Time limit for each HTTP request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// Base URL of the worker; webhooks go to {target}/webhooks/{provider}.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8787")]
    target: String,
    /// A provider whose lifecycles are sent; repeat for a mix (each connection takes them in
    /// turn). [default: every provider]
    #[arg(long = "provider", value_name = "NAME", value_parser = parse_provider)]
    providers: Vec<ProviderId>,
    /// Concurrent connections, each one request at a time.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    connections: u16,
    /// How long to send, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration: u64,
    /// Time limit for each HTTP request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Dotenv file with the worker's settings (the secrets to sign with). [default: .dev.vars,
    /// if present]
    #[arg(long, value_name = "PATH")]
    dev_vars: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ListenArgs {
    /// Address to listen on.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one. The address is printed on stderr.
    #[arg(long, value_name = "PORT", default_value_t = 9000)]
    port: u16,
    /// The endpoint's secret, as in DELIVERY_<NAME>_SECRET: `whsec_` and base64. Repeat (or
    /// comma-separate) to accept any of several, as while rotating.
    #[arg(long = "secret", value_name = "WHSEC", required = true)]
    secrets: Vec<String>,
    /// How far `webhook-timestamp` may be from the host clock, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    tolerance_seconds: u32,
    /// The status to answer deliveries that verify; another than 2xx makes the worker retry.
    #[arg(long, value_name = "CODE", default_value_t = 204, value_parser = clap::value_parser!(u16).range(200..=599))]
    status: u16,
}

fn vis_register(args: &VisRegisterArgs) -> Result<(), Failure> {
    if !args.url.starts_with("https://") || !args.url.ends_with("/webhooks/vonage-business") {
        return Err(Failure::usage(
            "--url must be https://<your worker>/webhooks/vonage-business",
        ));
    }
    let settings = Settings::load(args.dev_vars.as_deref())?;
    let registered = vis::register(&settings, &args.url, Duration::from_secs(args.timeout))?;
    let registration = &registered.registration;
    println!(
        "registered {} for {}, expires {}",
        registration.id,
        registration.url,
        registration.expire_at.as_deref().unwrap_or("(not said)")
    );
    println!("Give the worker its signing key (the keeper renews the registration from now on):");
    println!(
        "  printf '%s' '{}' | npx wrangler secret put VONAGE_BUSINESS_SIGNING_KEY",
        registered.signing_key
    );
    Ok(())
}

fn parse_provider(name: &str) -> Result<ProviderId, String> {
    name.parse().map_err(|_| {
        let known: Vec<&str> = registry::PROVIDERS.iter().map(|row| row.name).collect();
        format!("unknown provider `{name}` (known: {})", known.join(", "))
    })
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Verify(args) => verify(&args),
        Command::Sign(args) => sign(&args),
        Command::Simulate(args) => simulate(&args),
        Command::Load(args) => load(&args),
        Command::Listen(args) => listen(&args),
        Command::Vis(VisCommand::Register(args)) => vis_register(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            failure.exit_code()
        }
    }
}

fn verify(args: &VerifyArgs) -> Result<(), Failure> {
    let mut settings = provider_settings(&args.provider)?;
    settings.set_flag(
        SIGNATURE_TOLERANCE_SECONDS,
        args.tolerance.map(|seconds| seconds.to_string()),
    );
    let provider = settings.provider(args.provider.provider)?;
    let mut request = read_captured_request(&args.file)?;
    if let Some(base) = settings.config()?.public_base_url {
        request.url = rebase_url(&request.url, &base);
    }
    if args.signature_only {
        provider
            .verify(&request, now_or(args.now))
            .map_err(refusal)?;
        return print_json(&serde_json::json!({ "verified": true }));
    }
    let events = provider
        .receive(&request, now_or(args.now))
        .map_err(refusal)?;
    print_json(&events)
}

fn sign(args: &SignArgs) -> Result<(), Failure> {
    let settings = provider_settings(&args.provider)?;
    let provider = settings.provider(args.provider.provider)?;
    require_signing_key(&settings, args.provider.provider)?;
    let public_base_url = settings.config()?.public_base_url;
    let request = read_captured_request(&args.file)?;
    let signed = simulate::sign_as_received(
        provider.as_ref(),
        &request,
        now_or(args.now),
        public_base_url.as_deref(),
    )
    .map_err(refusal)?;
    print_json(&signed)
}

fn simulate(args: &SimulateArgs) -> Result<(), Failure> {
    let provider_id = args.provider.provider;
    let mut settings = provider_settings(&args.provider)?;
    settings.set_flag(STATUS_API_TOKEN, args.token.clone());
    let provider = settings.provider(provider_id)?;
    require_signing_key(&settings, provider_id)?;
    let status_token = settings
        .get(STATUS_API_TOKEN)
        .and_then(|tokens| Secret::parse_list(&tokens).into_iter().next())
        .ok_or_else(|| {
            Failure::usage(format!(
                "no status API token: pass --token, or set {STATUS_API_TOKEN} in the environment or {}",
                settings::DEFAULT_DEV_VARS
            ))
        })?;
    let base_url = http_base_url("--target", &args.target)?;

    let ids = scenario_ids(args)?;
    let webhook_url = format!("{base_url}/webhooks/{provider_id}");
    let scenario =
        scenario::build_ending_at(provider_id, args.scenario, &webhook_url, &ids, clock::now())
            .ok_or_else(|| {
                let available: Vec<&str> = scenario::available(provider_id)
                    .into_iter()
                    .map(ScenarioName::as_str)
                    .collect();
                Failure::usage(format!(
                    "scenario `{}` is not available for {provider_id} (available: {})",
                    args.scenario.as_str(),
                    available.join(", ")
                ))
            })?;

    let target = simulate::Target {
        base_url,
        public_base_url: settings.config()?.public_base_url,
        status_token: status_token.expose().to_owned(),
        timeout: Duration::from_secs(args.timeout),
    };
    let summary = simulate::run(provider.as_ref(), &scenario, &target)?;
    print_json(&summary)?;
    let expected = scenario.expected_status();
    match summary.status {
        Some(status) if status == expected => Ok(()),
        other => Err(Failure::refused(format!(
            "{} {}: final status is `{}`, expected `{expected}`",
            scenario.kind().as_str(),
            scenario.subject_id,
            other.map_or("none", |status| status.as_str()),
        ))),
    }
}

fn load(args: &LoadArgs) -> Result<(), Failure> {
    let settings = Settings::load(args.dev_vars.as_deref())?;
    let providers = if args.providers.is_empty() {
        ProviderId::ALL.to_vec()
    } else {
        args.providers.clone()
    };
    for &provider in &providers {
        settings.provider(provider)?;
        require_signing_key(&settings, provider)?;
    }
    let plan = load::Plan {
        base_url: http_base_url("--target", &args.target)?,
        config: settings.config()?,
        providers,
        connections: usize::from(args.connections),
        duration: Duration::from_secs(args.duration),
        timeout: Duration::from_secs(args.timeout),
    };
    print_json(&load::run(&plan)?)
}

fn listen(args: &ListenArgs) -> Result<(), Failure> {
    listen::run(&listen::Listener {
        host: args.host.clone(),
        port: args.port,
        secrets: listen::parse_secrets(&args.secrets)?,
        tolerance_seconds: args.tolerance_seconds,
        status: args.status,
    })
}

/// The provider's signature settings. A method configured for one secret says nothing about
/// another: with `--secret`, the method comes from `--method` alone (unset: inferred or
/// md5hash), never from the environment or `.dev.vars`.
fn provider_settings(args: &ProviderArgs) -> Result<Settings, Failure> {
    let mut settings = Settings::load(args.dev_vars.as_deref())?;
    settings.set_flag(PUBLIC_BASE_URL, args.public_base_url.clone());
    let method_setting = registry::entry(args.provider).method_setting;
    if args.method.is_some() && method_setting.is_none() {
        return Err(Failure::usage(format!(
            "--method applies to Vonage only, not {}",
            args.provider
        )));
    }
    match registry::entry(args.provider).signing_key_setting {
        Some(name) => settings.set_flag(name, args.signing_key.clone()),
        None if args.signing_key.is_some() => {
            return Err(Failure::usage(format!(
                "--signing-key applies to Telnyx only, not {}",
                args.provider
            )))
        }
        None => {}
    }
    let secrets = args.secrets.join(",");
    let from_command_line = !Secret::parse_list(&secrets).is_empty();
    if from_command_line {
        settings.set_flag(registry::secret_setting(args.provider), Some(secrets));
    }
    if let Some(method_setting) = method_setting {
        if from_command_line {
            settings.set_flag_only(method_setting, args.method.clone());
        } else {
            settings.set_flag(method_setting, args.method.clone());
        }
    }
    Ok(settings)
}

/// Signing needs the private key where the provider signs with one the worker does not have.
fn require_signing_key(settings: &Settings, provider: ProviderId) -> Result<(), Failure> {
    match registry::entry(provider).signing_key_setting {
        Some(name) if settings.get(name).is_none() => Err(Failure::usage(format!(
            "no signing key for {provider}: pass --signing-key, or set {name} in the environment or {} (development key pairs only)",
            settings::DEFAULT_DEV_VARS
        ))),
        _ => Ok(()),
    }
}

/// `--target` without a trailing `/`; https only when built with the `https` feature.
pub(crate) fn http_base_url(name: &str, target: &str) -> Result<String, Failure> {
    let base_url = target.trim_end_matches('/');
    let scheme = base_url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http") => Ok(base_url.to_owned()),
        Some("https") if cfg!(feature = "https") => Ok(base_url.to_owned()),
        Some("https") => Err(Failure::usage(format!(
            "{name}: https needs a build with `--features https`"
        ))),
        _ => Err(Failure::usage(format!(
            "{name} `{target}` is not an http:// URL"
        ))),
    }
}

/// Fresh ids shaped like the provider's, with `--id` as the subject's id if given.
fn scenario_ids(args: &SimulateArgs) -> Result<ScenarioIds, Failure> {
    let mut fresh = IdSource::from_clock_and_pid();
    let mut ids = scenario::fresh_ids(args.provider.provider, args.scenario.kind(), &mut fresh);
    match &args.id {
        None => {}
        // The id becomes a URL path segment of the status API.
        Some(id)
            if !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) =>
        {
            ids.subject_id = id.clone();
        }
        Some(id) => {
            return Err(Failure::usage(format!(
                "--id `{id}`: use letters, digits, `-` and `_` only"
            )))
        }
    }
    Ok(ids)
}

fn now_or(unix_seconds: Option<i64>) -> Timestamp {
    unix_seconds.map_or_else(clock::now, Timestamp::from_unix_seconds)
}

fn refusal(error: WebhookError) -> Failure {
    Failure::refused(format!("{}: {error}", error.code()))
}

/// Reads a captured-request file, or stdin for `-`.
fn read_captured_request(path: &Path) -> Result<CapturedRequest, Failure> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut text))
    };
    read.map_err(|error| Failure::usage(format!("cannot read {}: {error}", path.display())))?;
    CapturedRequest::from_json(&text)
        .map_err(|error| Failure::usage(format!("{}: {error}", path.display())))
}

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| Failure::usage(format!("cannot encode the output: {error}")))?;
    writeln!(std::io::stdout().lock(), "{text}")
        .map_err(|error| Failure::usage(format!("cannot write the output: {error}")))
}
