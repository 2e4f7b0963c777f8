//! `cpm-store check [--config FILE] [--all]`: validates the configuration
//! (an error names the key and line, as `serve` reports it) and prints
//! the effective settings as TOML, like `doveconf -n`: only those that
//! differ from the defaults, or every one with `--all`. Secrets (the HA1
//! values of `[[sip.digest]]`) are redacted.

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;

/// `cpm-store check ...`
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Print every setting, not only those that differ from the default.
    #[arg(long)]
    pub all: bool,
}

/// The settings of `config` as TOML: all of them, or (`all` false) those
/// whose value differs from [`Config::default`], section by section.
///
/// Errors: a setting that TOML cannot write (a bug).
pub fn effective(config: &Config, all: bool) -> Result<String> {
    let mut value = toml::Value::try_from(config).context("cannot write the settings as TOML")?;
    if !all {
        let default = toml::Value::try_from(Config::default())
            .context("cannot write the defaults as TOML")?;
        if let (Some(table), Some(default)) = (value.as_table_mut(), default.as_table()) {
            for (section, settings) in table.iter_mut() {
                if let (Some(settings), Some(defaults)) = (
                    settings.as_table_mut(),
                    default.get(section).and_then(toml::Value::as_table),
                ) {
                    settings.retain(|key, v| defaults.get(key) != Some(v));
                }
            }
            table.retain(|_, v| v.as_table().is_none_or(|t| !t.is_empty()));
        }
    }
    toml::to_string(&value).context("cannot write the settings as TOML")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_settings_are_printed_and_secrets_are_redacted() {
        let config = Config::parse(
            "[imap]\nmax_bad_commands = 7\n[[sip.digest]]\nusername = \"pf\"\n\
             ha1_md5 = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .unwrap();
        let text = effective(&config, false).unwrap();
        assert!(text.contains("[imap]\nmax_bad_commands = 7\n"), "{text}");
        assert!(!text.contains("max_command_bytes"), "{text}");
        assert!(!text.contains("[webdav]"), "{text}");
        assert!(text.contains("username = \"pf\""), "{text}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        let all = effective(&config, true).unwrap();
        assert!(all.contains("max_command_bytes = 262144"), "{all}");
        assert!(all.contains("[webdav]"), "{all}");
        // What is printed reads back as the same settings.
        let again = Config::parse(&effective(&Config::default(), true).unwrap()).unwrap();
        assert_eq!(
            format!("{:?}", again.imap),
            format!("{:?}", Config::default().imap)
        );
        assert_eq!(effective(&Config::default(), false).unwrap(), "");
    }
}
