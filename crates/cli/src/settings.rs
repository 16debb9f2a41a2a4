//! Where secrets and options come from: command-line flags first, then the process
//! environment, then a wrangler-style `.dev.vars` file (the same names the worker reads).

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::Path;

use switchboard_core::config::secret_setting;
use switchboard_core::{configured_signer, Config, ProviderId, Signer};

use crate::failure::Failure;

/// The file read when `--dev-vars` is not given; a missing default file is not an error.
pub const DEFAULT_DEV_VARS: &str = ".dev.vars";

/// The worker's setting names the command line can override.
pub const SIGNATURE_TOLERANCE_SECONDS: &str = "SIGNATURE_TOLERANCE_SECONDS";
pub const STATUS_API_TOKEN: &str = "STATUS_API_TOKEN";
pub const PUBLIC_BASE_URL: &str = "PUBLIC_BASE_URL";

/// Settings by name, looked up flag → environment → `.dev.vars`, except those set with
/// [`Settings::set_flag_only`]. Blank values count as unset.
#[derive(Debug)]
pub struct Settings {
    flags: BTreeMap<&'static str, String>,
    /// Names read from the flags alone.
    flag_only: BTreeSet<&'static str>,
    dev_vars: BTreeMap<String, String>,
}

impl Settings {
    /// Reads `dev_vars_path`, or `.dev.vars` in the current directory if it exists.
    pub fn load(dev_vars_path: Option<&Path>) -> Result<Self, Failure> {
        let (path, required) = match dev_vars_path {
            Some(path) => (path, true),
            None => (Path::new(DEFAULT_DEV_VARS), false),
        };
        let dev_vars = match std::fs::read_to_string(path) {
            Ok(text) => parse_dev_vars(&text)
                .map_err(|problem| Failure::usage(format!("{}: {problem}", path.display())))?,
            Err(error) if error.kind() == ErrorKind::NotFound && !required => BTreeMap::new(),
            Err(error) => {
                return Err(Failure::usage(format!(
                    "cannot read {}: {error}",
                    path.display()
                )))
            }
        };
        Ok(Self {
            flags: BTreeMap::new(),
            flag_only: BTreeSet::new(),
            dev_vars,
        })
    }

    /// Sets `name` from a flag, if the flag was given.
    pub fn set_flag(&mut self, name: &'static str, value: Option<String>) {
        if let Some(value) = value {
            self.flags.insert(name, value);
        }
    }

    /// Sets `name` from a flag, or leaves it unset when the flag was not given: the environment
    /// and `.dev.vars` are not read for it.
    pub fn set_flag_only(&mut self, name: &'static str, value: Option<String>) {
        self.flag_only.insert(name);
        self.set_flag(name, value);
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let present = |value: &String| !value.trim().is_empty();
        let flag = self.flags.get(name).filter(|value| present(value)).cloned();
        if self.flag_only.contains(name) {
            return flag;
        }
        flag.or_else(|| std::env::var(name).ok().filter(present))
            .or_else(|| {
                self.dev_vars
                    .get(name)
                    .filter(|value| present(value))
                    .cloned()
            })
    }

    pub fn config(&self) -> Result<Config, Failure> {
        Config::from_lookup(|name| self.get(name))
            .map_err(|error| Failure::usage(error.to_string()))
    }

    /// The configured provider, or a usage error naming the setting that is missing.
    pub fn provider(&self, id: ProviderId) -> Result<Box<dyn Signer>, Failure> {
        configured_signer(&self.config()?, id).ok_or_else(|| {
            Failure::usage(format!(
                "no signature secret for {id}: pass --secret, or set {} in the environment or {}",
                secret_setting(id),
                DEFAULT_DEV_VARS,
            ))
        })
    }
}

/// Parses dotenv lines: `KEY=value`, `KEY="value"`, `KEY='value'`, an optional `export `,
/// blank lines and `#` comments (also after an unquoted value, when preceded by a space).
pub fn parse_dev_vars(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, raw_value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=value", index + 1))?;
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!(
                "line {}: `{key}` is not a variable name",
                index + 1
            ));
        }
        let value = unquote(raw_value.trim())
            .ok_or_else(|| format!("line {}: unterminated quote", index + 1))?;
        vars.insert(key.to_owned(), value);
    }
    Ok(vars)
}

/// A value without its quotes (text after the closing quote is ignored), or with a trailing
/// ` # comment` removed when unquoted. `None` if a quote is not closed.
fn unquote(value: &str) -> Option<String> {
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote) {
            return rest.find(quote).map(|end| rest[..end].to_owned());
        }
    }
    let value = value.split_once(" #").map_or(value, |(before, _)| before);
    Some(value.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_unquoted_and_commented_lines() {
        let vars = parse_dev_vars(
            "# local secrets\n\
             VONAGE_SIGNATURE_SECRET=\"old,new\"\n\
             \n\
             VONAGE_SIGNATURE_METHOD=sha256 # dashboard setting\n\
             export STATUS_API_TOKEN='t#1'\n\
             EMPTY=\n",
        )
        .unwrap();
        assert_eq!(vars["VONAGE_SIGNATURE_SECRET"], "old,new");
        assert_eq!(vars["VONAGE_SIGNATURE_METHOD"], "sha256");
        assert_eq!(vars["STATUS_API_TOKEN"], "t#1");
        assert_eq!(vars["EMPTY"], "");
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        assert_eq!(
            parse_dev_vars("A=1\nnonsense\n").unwrap_err(),
            "line 2: expected KEY=value"
        );
        assert_eq!(
            parse_dev_vars("A=\"open\n").unwrap_err(),
            "line 1: unterminated quote"
        );
        assert!(parse_dev_vars("TWO WORDS=1").is_err());
    }

    #[test]
    fn flags_win_and_blank_values_fall_through() {
        let mut settings = Settings {
            flags: BTreeMap::new(),
            flag_only: BTreeSet::new(),
            dev_vars: parse_dev_vars("SWITCHBOARD_CLI_TEST_A=file\nSWITCHBOARD_CLI_TEST_B=file")
                .unwrap(),
        };
        settings.set_flag("SWITCHBOARD_CLI_TEST_A", Some("flag".into()));
        settings.set_flag("SWITCHBOARD_CLI_TEST_B", Some(" ".into()));
        assert_eq!(
            settings.get("SWITCHBOARD_CLI_TEST_A").as_deref(),
            Some("flag")
        );
        assert_eq!(
            settings.get("SWITCHBOARD_CLI_TEST_B").as_deref(),
            Some("file")
        );
        assert_eq!(settings.get("SWITCHBOARD_CLI_TEST_C"), None);
    }

    #[test]
    fn flag_only_settings_ignore_the_file() {
        let mut settings = Settings {
            flags: BTreeMap::new(),
            flag_only: BTreeSet::new(),
            dev_vars: parse_dev_vars("SWITCHBOARD_CLI_TEST_D=file\nSWITCHBOARD_CLI_TEST_E=file")
                .unwrap(),
        };
        settings.set_flag_only("SWITCHBOARD_CLI_TEST_D", None);
        settings.set_flag_only("SWITCHBOARD_CLI_TEST_E", Some("flag".into()));
        assert_eq!(settings.get("SWITCHBOARD_CLI_TEST_D"), None);
        assert_eq!(
            settings.get("SWITCHBOARD_CLI_TEST_E").as_deref(),
            Some("flag")
        );
    }
}
