//! The one list of providers: a row each, which every crate iterates.
//!
//! A row names the provider ([`ProviderId`], URL name), its settings and their development
//! values (`.dev.vars.example`), its type and its configuration type. From the rows come
//! [`PROVIDERS`], the provider part of [`Config`] ([`ProviderConfigs`]) and the exhaustive
//! matches of [`configured_provider`] and [`configured_signer`]: a [`ProviderId`] without a row
//! does not compile. Those two stay two functions so that the worker links no signing code
//! (see [`Signer`]), and the worker reads rows only through `const` projections (`as_str`,
//! [`secret_setting`]), so the development values never reach its wasm.

use crate::config::{Config, ConfigError, Settings};
use crate::model::ProviderId;
use crate::provider::{Provider, Signer};
use crate::providers::bird::{Bird, BirdConfig};
use crate::providers::messagebird::{MessageBird, MessageBirdConfig};
use crate::providers::plivo::{Plivo, PlivoConfig};
use crate::providers::telnyx::{Telnyx, TelnyxConfig};
use crate::providers::twilio::{Twilio, TwilioConfig};
use crate::providers::vonage::{Vonage, VonageConfig};
use crate::providers::vonage_business::{VonageBusiness, VonageBusinessConfig};

/// What the crates around the core need to know of one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderEntry {
    pub id: ProviderId,
    /// The path segment of `/webhooks/{name}`, and the string form of [`ProviderId`].
    pub name: &'static str,
    /// The setting that holds its secret(s); while it is unset the provider is disabled.
    pub secret_setting: &'static str,
    /// The setting that chooses its signature method, where it has one.
    pub method_setting: Option<&'static str>,
    /// The setting of a private key it signs with, where that is not its secret (Telnyx:
    /// Ed25519, the worker has the public half). Development only.
    pub signing_key_setting: Option<&'static str>,
    /// The value of `secret_setting` in `.dev.vars.example`: public, never a production secret.
    pub dev_secret: &'static str,
    /// The value of `signing_key_setting` in `.dev.vars.example`.
    pub dev_signing_key: Option<&'static str>,
}

impl ProviderEntry {
    /// The names of its settings: secret, method and signing key, where it has them.
    pub fn settings(&self) -> impl Iterator<Item = &'static str> {
        [
            Some(self.secret_setting),
            self.method_setting,
            self.signing_key_setting,
        ]
        .into_iter()
        .flatten()
    }

    /// The `.dev.vars.example` settings that configure this provider: its secret and, where it
    /// has one, its signing key.
    pub fn dev_settings(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        let signing_key = self.signing_key_setting.zip(self.dev_signing_key);
        std::iter::once((self.secret_setting, self.dev_secret)).chain(signing_key)
    }
}

/// The registry: one row per provider, in [`ProviderId`] order, with its type and its
/// configuration type (a `from_settings` reads it, `None` while its secret is unset).
macro_rules! registry {
    ($($id:ident => $field:ident: $provider:ident($config:ident) { $($key:ident: $value:expr,)* },)*) => {
        /// Every provider, in [`ProviderId`] order.
        pub const PROVIDERS: [ProviderEntry; [$(stringify!($id)),*].len()] =
            [$(ProviderEntry { id: ProviderId::$id, $($key: $value,)* },)*];

        /// Each provider's configuration, `None` while its secret is not set.
        #[derive(Debug, Clone)]
        pub struct ProviderConfigs {
            $(pub $field: Option<$config>,)*
        }

        impl ProviderConfigs {
            /// Reads every provider's settings, in registry order.
            pub(crate) fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError> {
                Ok(Self {
                    $($field: $config::from_settings(settings)?,)*
                })
            }
        }

        /// Builds the provider named `id` from the configuration, or `None` if its secret is
        /// not set.
        pub fn configured_provider(config: &Config, id: ProviderId) -> Option<Box<dyn Provider>> {
            match id {
                $(ProviderId::$id => config.providers.$field.clone()
                    .map(|config| Box::new($provider::new(config)) as Box<dyn Provider>),)*
            }
        }

        /// The same provider as [`configured_provider`], able to sign as well (CLI and tests).
        pub fn configured_signer(config: &Config, id: ProviderId) -> Option<Box<dyn Signer>> {
            match id {
                $(ProviderId::$id => config.providers.$field.clone()
                    .map(|config| Box::new($provider::new(config)) as Box<dyn Signer>),)*
            }
        }
    };
}

registry! {
    Vonage => vonage: Vonage(VonageConfig) {
        name: "vonage",
        secret_setting: "VONAGE_SIGNATURE_SECRET",
        method_setting: Some("VONAGE_SIGNATURE_METHOD"),
        signing_key_setting: None,
        dev_secret: "dev-vonage-signature-secret-not-for-production",
        dev_signing_key: None,
    },
    VonageBusiness => vonage_business: VonageBusiness(VonageBusinessConfig) {
        name: "vonage-business",
        secret_setting: "VONAGE_BUSINESS_SIGNING_KEY",
        method_setting: None,
        signing_key_setting: None,
        dev_secret: "dev-vis-signing-key-not-for-production",
        dev_signing_key: None,
    },
    Telnyx => telnyx: Telnyx(TelnyxConfig) {
        name: "telnyx",
        secret_setting: "TELNYX_PUBLIC_KEY",
        method_setting: None,
        signing_key_setting: Some("TELNYX_SIGNING_PRIVATE_KEY"),
        dev_secret: "t1uFehr4HyWHsygFksqSa8GQxdyE6SqW/X80t5zr4yw=",
        dev_signing_key: Some("QQ4zVZwaOjqYl5yNOE8msy4rKd/R77yMkSuH/9i0K8M="),
    },
    Bird => bird: Bird(BirdConfig) {
        name: "bird",
        secret_setting: "BIRD_SIGNING_KEY",
        method_setting: None,
        signing_key_setting: None,
        dev_secret: "dev-bird-signing-key-not-for-production",
        dev_signing_key: None,
    },
    MessageBird => messagebird: MessageBird(MessageBirdConfig) {
        name: "messagebird",
        secret_setting: "MESSAGEBIRD_SIGNING_KEY",
        method_setting: None,
        signing_key_setting: None,
        dev_secret: "dev-messagebird-signing-key-not-for-production",
        dev_signing_key: None,
    },
    Twilio => twilio: Twilio(TwilioConfig) {
        name: "twilio",
        secret_setting: "TWILIO_AUTH_TOKEN",
        method_setting: None,
        signing_key_setting: None,
        dev_secret: "dev-twilio-auth-token-not-for-production",
        dev_signing_key: None,
    },
    Plivo => plivo: Plivo(PlivoConfig) {
        name: "plivo",
        secret_setting: "PLIVO_AUTH_TOKEN",
        method_setting: None,
        signing_key_setting: None,
        dev_secret: "dev-plivo-auth-token-not-for-production",
        dev_signing_key: None,
    },
}

/// The number of providers.
pub const COUNT: usize = PROVIDERS.len();

// Rows are in `ProviderId` order, so a provider's row is `PROVIDERS[id as usize]`.
const _: () = {
    let mut index = 0;
    while index < COUNT {
        assert!(
            PROVIDERS[index].id as usize == index,
            "registry rows out of ProviderId order"
        );
        index += 1;
    }
};

/// The row of `id`. Read at run time, it links the whole table (development values included):
/// the worker reads rows in `const`s or through the projections below.
pub const fn entry(id: ProviderId) -> &'static ProviderEntry {
    &PROVIDERS[id as usize]
}

/// Every [`ProviderId`], in registry order.
pub const IDS: [ProviderId; COUNT] = {
    let mut ids = [ProviderId::Vonage; COUNT];
    let mut index = 0;
    while index < COUNT {
        ids[index] = PROVIDERS[index].id;
        index += 1;
    }
    ids
};

/// The URL name of `id` ([`ProviderEntry::name`]).
pub fn name(id: ProviderId) -> &'static str {
    const NAMES: [&str; COUNT] = {
        let mut names = [""; COUNT];
        let mut index = 0;
        while index < COUNT {
            names[index] = PROVIDERS[index].name;
            index += 1;
        }
        names
    };
    NAMES[id as usize]
}

/// The setting that holds the secret of `id` ([`ProviderEntry::secret_setting`]).
pub fn secret_setting(id: ProviderId) -> &'static str {
    const SETTINGS: [&str; COUNT] = {
        let mut settings = [""; COUNT];
        let mut index = 0;
        while index < COUNT {
            settings[index] = PROVIDERS[index].secret_setting;
            index += 1;
        }
        settings
    };
    SETTINGS[id as usize]
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, U32Deserializer};
    use serde::Deserialize;

    use super::*;

    /// `ProviderId`'s variants by index, as serde sees them: exactly one per row, in order.
    fn variant(index: usize) -> Result<ProviderId, Error> {
        ProviderId::deserialize(U32Deserializer::<Error>::new(index as u32))
    }

    #[test]
    fn every_provider_id_has_one_row_in_order() {
        for (index, row) in PROVIDERS.iter().enumerate() {
            assert_eq!(variant(index), Ok(row.id));
            assert_eq!(row.id.as_str(), row.name);
            assert_eq!(serde_json::to_value(row.id).unwrap(), row.name);
            assert_eq!(row.name.parse(), Ok(row.id));
        }
        assert!(
            variant(COUNT).is_err(),
            "a ProviderId without a registry row"
        );
    }

    #[test]
    fn development_values_are_those_of_dev_vars_example() {
        let example = include_str!("../../../.dev.vars.example");
        for row in PROVIDERS {
            for (name, value) in row.dev_settings() {
                assert!(
                    example.contains(&format!("\n{name}=\"{value}\"\n")),
                    "{name} of {} differs from .dev.vars.example",
                    row.name
                );
            }
            if let Some(method) = row.method_setting {
                assert!(example.contains(&format!("\n{method}=")), "{method}");
            }
        }
    }

    #[test]
    fn every_provider_has_its_fixtures_tests_and_fuzz_target() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for row in PROVIDERS {
            let module = row.name.replace('-', "_");
            for path in [
                format!("crates/core/src/providers/{module}"),
                format!("crates/core/tests/fixtures/{module}"),
                format!("crates/core/tests/{module}"),
                format!("fuzz/fuzz_targets/{module}.rs"),
            ] {
                let module_file = root.join(format!("{path}.rs"));
                assert!(
                    root.join(&path).exists() || module_file.exists(),
                    "{}: no {path}",
                    row.name
                );
            }
        }
    }

    #[test]
    fn development_values_configure_every_provider() {
        let config = Config::from_lookup(|name| {
            PROVIDERS
                .iter()
                .flat_map(ProviderEntry::dev_settings)
                .find(|(setting, _)| *setting == name)
                .map(|(_, value)| value.to_owned())
        })
        .unwrap();
        for row in PROVIDERS {
            assert!(configured_signer(&config, row.id).is_some(), "{}", row.name);
        }
    }
}
