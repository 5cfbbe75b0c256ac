//! How a relay node proves itself to NATS and checks the servers it reaches: credentials
//! (a `.creds` file, a token, or a user and password) and TLS (a CA to trust, a client
//! certificate for servers that verify clients). Secrets come from files, never from flags,
//! so that they stay out of process listings and shell histories.

use std::fmt;
use std::path::{Path, PathBuf};

use async_nats::ConnectOptions;

/// The credentials a node presents to NATS.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum NatsAuth {
    /// None (a NATS server without authorization).
    #[default]
    None,
    /// A `.creds` file's contents: a user JWT and its `NKey` seed, as `nsc` writes them.
    Creds(String),
    /// A shared token.
    Token(String),
    /// A user and password.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

impl fmt::Debug for NatsAuth {
    // Never the secret itself: configurations are logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Creds(_) => f.write_str("Creds(…)"),
            Self::Token(_) => f.write_str("Token(…)"),
            Self::UserPassword { user, .. } => write!(f, "UserPassword({user}, …)"),
        }
    }
}

/// Where the NATS credentials are, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct NatsAuthFiles<'a> {
    /// A `.creds` file.
    pub creds: Option<&'a Path>,
    /// A file holding a token.
    pub token: Option<&'a Path>,
    /// A user name, with `password`.
    pub user: Option<&'a str>,
    /// A file holding the user's password.
    pub password: Option<&'a Path>,
}

fn secret(what: &str, path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the NATS {what} file {}: {e}", path.display()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the NATS {what} file {} is empty", path.display()));
    }
    Ok(text.to_owned())
}

impl NatsAuth {
    /// Reads the one kind of credentials given; more than one kind is refused.
    pub fn from_files(files: &NatsAuthFiles<'_>) -> Result<Self, String> {
        let kinds = [
            files.creds.is_some(),
            files.token.is_some(),
            files.user.is_some() || files.password.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(
                "give one kind of NATS credentials: a .creds file, a token file, or a user \
                 with a password file"
                    .into(),
            );
        }
        if let Some(path) = files.creds {
            let creds = secret("credentials", path)?;
            // Checked now, so that a bad file is named at start and not at the first connect.
            ConnectOptions::new()
                .credentials(&creds)
                .map_err(|e| format!("{} is not a NATS .creds file: {e}", path.display()))?;
            return Ok(Self::Creds(creds));
        }
        if let Some(path) = files.token {
            return Ok(Self::Token(secret("token", path)?));
        }
        match (files.user, files.password) {
            (Some(user), Some(path)) => Ok(Self::UserPassword {
                user: user.to_owned(),
                password: secret("password", path)?,
            }),
            (Some(_), None) => Err("a NATS user needs its password file too".into()),
            (None, Some(_)) => Err("a NATS password file needs the user it belongs to".into()),
            (None, None) => Ok(Self::None),
        }
    }
}

/// TLS towards NATS, beyond what a `tls://` address already asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// A PEM file of CA certificates to trust instead of the system's web roots.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for servers that verify clients.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl NatsTls {
    /// Whether any TLS setting is given (TLS is then required of every server).
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.client.is_some()
    }

    /// Refuses files that are not there, naming them.
    pub fn check(&self) -> Result<(), String> {
        let files = self
            .ca
            .iter()
            .chain(self.client.iter().flat_map(|(c, k)| [c, k]));
        for file in files {
            if !file.is_file() {
                return Err(format!(
                    "the NATS TLS file {} does not exist",
                    file.display()
                ));
            }
        }
        Ok(())
    }
}

/// Adds the credentials and TLS settings to `opts`.
pub(crate) fn apply(
    mut opts: ConnectOptions,
    auth: &NatsAuth,
    tls: &NatsTls,
) -> Result<ConnectOptions, String> {
    opts = match auth {
        NatsAuth::None => opts,
        NatsAuth::Creds(creds) => opts
            .credentials(creds)
            .map_err(|e| format!("the NATS credentials do not parse: {e}"))?,
        NatsAuth::Token(token) => opts.token(token.clone()),
        NatsAuth::UserPassword { user, password } => {
            opts.user_and_password(user.clone(), password.clone())
        }
    };
    if let Some(ca) = &tls.ca {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &tls.client {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    if tls.is_set() {
        opts = opts.require_tls(true);
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_kind_of_credentials_read_from_files_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret\n").unwrap();
        let auth = NatsAuth::from_files(&NatsAuthFiles {
            token: Some(&token),
            ..NatsAuthFiles::default()
        })
        .unwrap();
        assert_eq!(auth, NatsAuth::Token("s3cret".into()));
        assert!(!format!("{auth:?}").contains("s3cret"));
        let both = NatsAuth::from_files(&NatsAuthFiles {
            token: Some(&token),
            user: Some("relay"),
            password: Some(&token),
            ..NatsAuthFiles::default()
        });
        assert!(both.unwrap_err().contains("one kind"));
        let lonely = NatsAuth::from_files(&NatsAuthFiles {
            user: Some("relay"),
            ..NatsAuthFiles::default()
        });
        assert!(lonely.unwrap_err().contains("password file"));
        let missing = dir.path().join("nope");
        let err = NatsAuth::from_files(&NatsAuthFiles {
            creds: Some(&missing),
            ..NatsAuthFiles::default()
        })
        .unwrap_err();
        assert!(err.contains("nope"), "{err}");
        std::fs::write(&missing, "not a creds file").unwrap();
        let err = NatsAuth::from_files(&NatsAuthFiles {
            creds: Some(&missing),
            ..NatsAuthFiles::default()
        })
        .unwrap_err();
        assert!(err.contains("not a NATS .creds file"), "{err}");
        let tls = NatsTls {
            ca: Some(missing.with_extension("pem")),
            client: None,
        };
        assert!(tls.check().unwrap_err().contains("nope.pem"));
    }
}
