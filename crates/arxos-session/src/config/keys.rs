//! The settings `arxos config` knows, and how each value is read and checked: the one place
//! that says what `sync.update-interval = 0s` or `user.colour = red` means (refused, and why).

use std::time::Duration;

use serde_json::Value;

use super::ConfigError;

/// What kind of value a setting holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false` (`yes`/`no`, `on`/`off`, `1`/`0` are read too).
    Bool,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A positive duration with a unit: `500ms`, `30s`, `5m`, `2h`.
    Duration,
    /// Relay addresses (`ws://` or `wss://`), comma-separated, tried in order.
    Relays,
    /// A person's display name: one line of text.
    Name,
    /// A colour `#rrggbb`.
    Colour,
}

/// One known setting.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Its full name, `section.key`.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// The value used when no layer sets it (as it would be typed), if any.
    pub default: Option<&'static str>,
    /// One line for `arxos config list`.
    pub help: &'static str,
}

/// The ways `sync.conflict-resolution` may be set.
pub const CONFLICT_RESOLUTIONS: &[&str] = &["prompt", "auto", "manual"];

/// Every setting, in the order `arxos config list` shows them.
pub const KEYS: &[KeySpec] = &[
    KeySpec {
        name: "sync.enabled",
        kind: Kind::Bool,
        default: Some("true"),
        help: "whether `arxos sync` talks to the relay at all",
    },
    KeySpec {
        name: "sync.conflict-resolution",
        kind: Kind::Choice(CONFLICT_RESOLUTIONS),
        default: Some("prompt"),
        help: "auto: apply the plan's rules after every sync; prompt/manual: leave conflicts listed",
    },
    KeySpec {
        name: "sync.update-interval",
        kind: Kind::Duration,
        default: Some("30s"),
        help: "the longest wait between two tries while a live session cannot reach its relay",
    },
    KeySpec {
        name: "sync.relays",
        kind: Kind::Relays,
        default: None,
        help: "relay addresses (ws:// or wss://), comma-separated, tried in order",
    },
    KeySpec {
        name: "user.name",
        kind: Kind::Name,
        default: None,
        help: "your name in history, presence and locks",
    },
    KeySpec {
        name: "user.colour",
        kind: Kind::Colour,
        default: None,
        help: "your colour (#rrggbb) for cursors, selections and lock badges",
    },
    KeySpec {
        name: "notifications.conflicts",
        kind: Kind::Bool,
        default: Some("true"),
        help: "tell me about new conflicts",
    },
    KeySpec {
        name: "notifications.mentions",
        kind: Kind::Bool,
        default: Some("true"),
        help: "tell me when a comment mentions me",
    },
    KeySpec {
        name: "notifications.sync-errors",
        kind: Kind::Bool,
        default: Some("true"),
        help: "tell me when a sync fails",
    },
];

/// The names of every known setting, for error messages.
pub fn known_names() -> String {
    KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// The setting called `key` (`user.color` is read as `user.colour`).
pub fn spec(key: &str) -> Result<&'static KeySpec, ConfigError> {
    let key = key.trim();
    let key = if key == "user.color" {
        "user.colour"
    } else {
        key
    };
    KEYS.iter()
        .find(|k| k.name == key)
        .ok_or_else(|| ConfigError::UnknownKey {
            key: key.to_owned(),
            known: known_names(),
        })
}

/// Whether `name` is a section (`sync`, `user`, `notifications`).
pub fn is_section(name: &str) -> bool {
    KEYS.iter()
        .any(|k| k.name.split_once('.').is_some_and(|(s, _)| s == name))
}

/// Reads `text` as typed for `spec`: the value to store, or why it is refused.
pub fn parse(spec: &KeySpec, text: &str) -> Result<Value, ConfigError> {
    let bad = |reason: String| ConfigError::BadValue {
        key: spec.name.to_owned(),
        value: text.to_owned(),
        reason,
    };
    let t = text.trim();
    match spec.kind {
        Kind::Bool => parse_bool(t)
            .map(Value::Bool)
            .ok_or_else(|| bad("expected true or false".into())),
        Kind::Choice(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(t))
            .map(|w| Value::String((*w).to_owned()))
            .ok_or_else(|| bad(format!("expected one of {}", words.join(", ")))),
        Kind::Duration => {
            parse_duration(t).map_err(bad)?;
            Ok(Value::String(t.to_owned()))
        }
        Kind::Relays => {
            let relays: Vec<&str> = t
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect();
            if relays.is_empty() {
                return Err(bad(
                    "expected at least one ws:// or wss:// address (unset the key to clear it)"
                        .into(),
                ));
            }
            for r in &relays {
                check_relay(r).map_err(bad)?;
            }
            Ok(Value::Array(
                relays.iter().map(|r| Value::String((*r).into())).collect(),
            ))
        }
        Kind::Name => {
            check_name(t).map_err(bad)?;
            Ok(Value::String(t.to_owned()))
        }
        Kind::Colour => {
            if arxos_sync::identity::is_color(t) {
                Ok(Value::String(t.to_ascii_lowercase()))
            } else {
                Err(bad("expected a colour like #1e88e5".into()))
            }
        }
    }
}

/// Checks a value read from a file (someone may have edited it by hand); why it is wrong.
pub fn check(spec: &KeySpec, value: &Value) -> Result<(), String> {
    let ok = match (spec.kind, value) {
        (Kind::Bool, Value::Bool(_)) => true,
        (Kind::Choice(words), Value::String(s)) => words.contains(&s.as_str()),
        (Kind::Duration, Value::String(s)) => return parse_duration(s).map(|_| ()),
        (Kind::Relays, Value::Array(items)) if !items.is_empty() => {
            for item in items {
                let Value::String(r) = item else {
                    return Err("expected a list of ws:// or wss:// addresses".into());
                };
                check_relay(r)?;
            }
            true
        }
        (Kind::Name, Value::String(s)) => return check_name(s),
        (Kind::Colour, Value::String(s)) => arxos_sync::identity::is_color(s),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{value}` is not {}", describe(spec.kind)))
    }
}

fn describe(kind: Kind) -> String {
    match kind {
        Kind::Bool => "true or false".into(),
        Kind::Choice(words) => format!("one of {}", words.join(", ")),
        Kind::Duration => "a duration like \"30s\"".into(),
        Kind::Relays => "a list of ws:// or wss:// addresses".into(),
        Kind::Name => "a name".into(),
        Kind::Colour => "a colour like \"#1e88e5\"".into(),
    }
}

/// A value as people type it (`ws://a, ws://b` for a list).
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(display).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn parse_bool(t: &str) -> Option<bool> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A positive duration with a unit: `500ms`, `30s`, `5m`, `2h`, `1d`. Zero is refused (an
/// interval or timeout of nothing cannot work), and so is a number without a unit (is `30`
/// seconds or minutes?).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a duration (try 30s, 5m, 2h)"))?;
    let unit_ms: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return Err(format!("`{t}` needs a unit: {n}s, {n}m or {n}h")),
        u => {
            return Err(format!(
                "unknown unit `{u}` in `{t}` (use ms, s, m, h or d)"
            ));
        }
    };
    if n == 0 {
        return Err("must be longer than zero".into());
    }
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("`{t}` is too long"))?;
    Ok(Duration::from_millis(ms))
}

fn check_relay(r: &str) -> Result<(), String> {
    let rest = r
        .strip_prefix("ws://")
        .or_else(|| r.strip_prefix("wss://"))
        .ok_or_else(|| format!("`{r}` is not a ws:// or wss:// address"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{r}` has no host"));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.chars().any(char::is_control) {
        return Err("a name is one line of text, without control characters".into());
    }
    if name.chars().count() > 100 {
        return Err("a name is at most 100 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(key: &str, text: &str) -> Result<Value, String> {
        parse(spec(key).unwrap(), text).map_err(|e| e.to_string())
    }

    #[test]
    fn good_values_are_read_and_normalised() {
        assert_eq!(parsed("sync.enabled", "off").unwrap(), Value::Bool(false));
        assert_eq!(
            parsed("sync.conflict-resolution", "AUTO").unwrap(),
            Value::String("auto".into())
        );
        assert_eq!(
            parsed("sync.relays", "ws://a:1, wss://b.example/x").unwrap(),
            serde_json::json!(["ws://a:1", "wss://b.example/x"])
        );
        assert_eq!(
            parsed("user.color", "#1E88E5").unwrap(),
            Value::String("#1e88e5".into())
        );
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_mins(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        for (key, text, why) in [
            ("sync.enabled", "maybe", "true or false"),
            ("sync.conflict-resolution", "merge", "prompt, auto, manual"),
            ("sync.update-interval", "0s", "longer than zero"),
            ("sync.update-interval", "30", "needs a unit"),
            ("sync.update-interval", "5 parsecs", "unknown unit"),
            ("sync.relays", "http://a", "not a ws:// or wss://"),
            ("sync.relays", "ws://a, ftp://b", "`ftp://b`"),
            ("sync.relays", "ws://", "no host"),
            ("user.name", "  ", "empty"),
            ("user.name", "a\nb", "control"),
            ("user.colour", "red", "#1e88e5"),
        ] {
            let e = parsed(key, text).unwrap_err();
            assert!(e.contains(why) && e.contains(key), "{key}={text}: {e}");
        }
        let e = spec("sync.interval").unwrap_err().to_string();
        assert!(
            e.contains("unknown setting") && e.contains("sync.update-interval"),
            "{e}"
        );
    }

    #[test]
    fn values_from_files_are_checked_too() {
        let s = spec("sync.relays").unwrap();
        assert!(check(s, &serde_json::json!(["ws://a"])).is_ok());
        assert!(check(s, &serde_json::json!("ws://a")).is_err());
        assert!(check(s, &serde_json::json!(["http://a"])).is_err());
        assert!(check(spec("sync.enabled").unwrap(), &serde_json::json!("yes")).is_err());
        assert!(
            check(
                spec("sync.update-interval").unwrap(),
                &serde_json::json!("0s")
            )
            .is_err()
        );
    }
}
