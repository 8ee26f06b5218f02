//! Authentication options on the command line, and turning them into [`Credentials`]: passwords from an
//! environment variable, a file or a prompt (never from the command line itself), tokens from files or
//! the environment, a client certificate and key.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::pki::channel::Identity;
use crate::secret::Secret;
use crate::target::Product;

/// A token and where it came from (`--token-file PATH`, `$CLOUDVISION_ACCESS_TOKEN`).
#[derive(Debug, Clone)]
pub struct TokenInput {
    /// `token-file` or `token-env`: the check id is `auth.<method>`.
    pub method: &'static str,
    pub origin: String,
    pub token: Secret,
}

/// Everything the user gave to log in with.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub tokens: Vec<TokenInput>,
    pub identity: Option<Identity>,
    pub insecure: bool,
    /// The files of `identity` (`--cert`, `--key`), for the client lines in the report.
    pub identity_files: Option<(PathBuf, PathBuf)>,
    /// What was stripped from a secret as it was read (`--password-file x: a byte-order mark ...`), for the
    /// user to see on stderr; never the value.
    pub notes: Vec<String>,
}

impl Credentials {
    pub fn any(&self) -> bool {
        self.password.is_some() || !self.tokens.is_empty() || self.identity.is_some()
    }

    /// Every secret value, for the final scrub of all output.
    pub fn secret_values(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tokens
            .iter()
            .map(|t| t.token.expose().to_string())
            .collect();
        if let Some(p) = &self.password {
            v.push(p.expose().to_string());
            // `user:password`, whose base64 is the Basic value.
            if let Some(u) = &self.user {
                v.push(format!("{u}:{}", p.expose()));
            }
        }
        v
    }
}

/// The token file the CloudVision examples use, read from the working directory when present.
pub const CVP_TOKEN_FILE: &str = "cloudvision_access_token.txt";
/// The environment variable the CloudVision examples use.
pub const CVP_TOKEN_ENV: &str = "CLOUDVISION_ACCESS_TOKEN";

#[derive(Debug, Args, Default, Clone)]
pub struct AuthArgs {
    /// User to log in as (CloudVision on-prem, Prisma). The password comes from --password-env,
    /// --password-file or a prompt.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Refused: a password on the command line shows in `ps` and shell history.
    #[arg(long, value_name = "PASSWORD", hide = true)]
    pub password: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// A token file (CloudVision service-account token; `cloudvision_access_token.txt` is read too when present).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Read a token from this environment variable [default for CloudVision: CLOUDVISION_ACCESS_TOKEN, when set].
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Client certificate (PEM) for mutual TLS (Prisma `authenticate-client`).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Send credentials even when no trust source accepted the server's chain. Every check it affects says so.
    #[arg(long)]
    pub insecure: bool,
}

/// Why the authentication options cannot be used: a usage error (exit 2) naming the flag, the file or the
/// variable, never a value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("--password is refused: a password on the command line shows in `ps` and in shell history; use --password-env VAR or --password-file FILE (or answer the prompt)")]
    PasswordOnCommandLine,
    #[error("{flag} {var}: the variable is {why}")]
    Variable {
        flag: &'static str,
        var: String,
        why: &'static str,
    },
    #[error("{flag} {path}: {why}")]
    File {
        flag: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error(transparent)]
    Certificate(#[from] crate::pki::sources::SourceError),
    #[error("cannot read the password: {0}")]
    Prompt(String),
    #[error("a password needs --user")]
    PasswordWithoutUser,
    #[error("the password is empty")]
    EmptyPassword,
    #[error("--user needs a password: --password-env VAR, --password-file FILE, or run on a terminal to be asked")]
    UserWithoutPassword,
    #[error("--key {key} does not belong to the certificate in --cert {cert}")]
    KeyMismatch { key: PathBuf, cert: PathBuf },
}

fn read_text(path: &Path, flag: &'static str) -> Result<String, CredentialError> {
    let file = |why: String| CredentialError::File {
        flag,
        path: path.to_path_buf(),
        why,
    };
    let bytes = crate::local::read(path, crate::local::SMALL).map_err(|e| file(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| file("it is not UTF-8 text".to_string()))
}

/// The one rule for a secret read from a file or a variable: a UTF-8 byte-order mark at the start is dropped;
/// from a file, the first line that is not blank is the secret; spaces, tabs and line ends around it are
/// stripped. Returns the secret and, when anything was stripped, a note saying what (never the value).
fn secret_text(text: &str, from_file: bool, origin: &str) -> (String, Option<String>) {
    let mut stripped = Vec::new();
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            stripped.push("a byte-order mark");
            rest
        }
        None => text,
    };
    let line = if from_file {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("");
        if first.trim().is_empty() {
            let found = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if !found.is_empty() {
                stripped.push("blank lines before it");
            }
            found
        } else {
            first
        }
    } else {
        text
    };
    let secret = line.trim();
    if secret.len() != line.trim_end_matches(['\r', '\n']).len() {
        stripped.push("spaces around it");
    }
    let note = (!stripped.is_empty() && !secret.is_empty())
        .then(|| format!("{origin}: {} stripped from the secret", stripped.join(", ")));
    (secret.to_string(), note)
}

/// An environment variable's value; `None` when it is not set. A value that is not UTF-8 is refused rather
/// than taken as unset.
fn variable(flag: &'static str, var: &str) -> Result<Option<String>, CredentialError> {
    match std::env::var(var) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(CredentialError::Variable {
            flag,
            var: var.to_string(),
            why: "not UTF-8 text",
        }),
    }
}

impl AuthArgs {
    /// Reads every credential the options name. Errors name the file or variable, never a value.
    pub fn load(&self, product: Product) -> Result<Credentials, CredentialError> {
        if self.password.is_some() {
            return Err(CredentialError::PasswordOnCommandLine);
        }
        let mut tokens = Vec::new();
        let mut notes = Vec::new();
        self.token_from_file(product, &mut tokens, &mut notes)?;
        self.token_from_env(product, &mut tokens, &mut notes)?;
        Ok(Credentials {
            user: self.user.clone(),
            password: self.password(&mut notes)?,
            tokens,
            identity: self.identity()?,
            identity_files: self.cert.clone().zip(self.key.clone()),
            insecure: self.insecure,
            notes,
        })
    }

    /// The password: from `--password-env`, `--password-file`, or the prompt when `--user` is given on a terminal.
    fn password(&self, notes: &mut Vec<String>) -> Result<Option<Secret>, CredentialError> {
        let password = if let Some(var) = &self.password_env {
            let value = variable("--password-env", var)?.ok_or(CredentialError::Variable {
                flag: "--password-env",
                var: var.clone(),
                why: "not set",
            })?;
            let (p, note) = secret_text(&value, false, &format!("--password-env {var}"));
            notes.extend(note);
            Some(p)
        } else if let Some(file) = &self.password_file {
            let text = read_text(file, "--password-file")?;
            let (p, note) =
                secret_text(&text, true, &format!("--password-file {}", file.display()));
            notes.extend(note);
            Some(p)
        } else if self.user.is_some() && std::io::stdin().is_terminal() {
            let prompt = format!("Password for {}: ", self.user.as_deref().unwrap_or(""));
            let typed = rpassword::prompt_password(prompt)
                .map_err(|e| CredentialError::Prompt(crate::errors::io_words(&e)))?;
            Some(typed)
        } else {
            None
        };
        match password {
            Some(_) if self.user.is_none() => Err(CredentialError::PasswordWithoutUser),
            Some(p) if p.is_empty() => Err(CredentialError::EmptyPassword),
            Some(p) => Ok(Some(Secret::new(p))),
            None if self.user.is_some() => Err(CredentialError::UserWithoutPassword),
            None => Ok(None),
        }
    }

    /// `--token-file`, or the CloudVision examples' token file in the working directory.
    fn token_from_file(
        &self,
        product: Product,
        tokens: &mut Vec<TokenInput>,
        notes: &mut Vec<String>,
    ) -> Result<(), CredentialError> {
        if let Some(file) = &self.token_file {
            let text = read_text(file, "--token-file")?;
            let (token, note) =
                secret_text(&text, true, &format!("--token-file {}", file.display()));
            notes.extend(note);
            if token.is_empty() {
                return Err(CredentialError::File {
                    flag: "--token-file",
                    path: file.clone(),
                    why: "the file is empty".into(),
                });
            }
            tokens.push(TokenInput {
                method: "token-file",
                origin: file.display().to_string(),
                token: Secret::new(token),
            });
        } else if matches!(product, Product::Cvp | Product::Cvaas)
            && Path::new(CVP_TOKEN_FILE).is_file()
        {
            let text = read_text(Path::new(CVP_TOKEN_FILE), "token file")?;
            let (token, note) = secret_text(&text, true, &format!("./{CVP_TOKEN_FILE}"));
            notes.extend(note);
            if !token.is_empty() {
                tokens.push(TokenInput {
                    method: "token-file",
                    origin: format!("./{CVP_TOKEN_FILE}"),
                    token: Secret::new(token),
                });
            }
        }
        Ok(())
    }

    /// `--token-env`, or the CloudVision examples' variable when it is set.
    fn token_from_env(
        &self,
        product: Product,
        tokens: &mut Vec<TokenInput>,
        notes: &mut Vec<String>,
    ) -> Result<(), CredentialError> {
        let (var, explicit) = match (&self.token_env, product) {
            (Some(v), _) => (v.clone(), true),
            (None, Product::Cvp | Product::Cvaas) => (CVP_TOKEN_ENV.to_string(), false),
            _ => return Ok(()),
        };
        let value =
            variable("--token-env", &var)?.map(|v| secret_text(&v, false, &format!("${var}")));
        match value {
            Some((v, note)) if !v.is_empty() => {
                notes.extend(note);
                tokens.push(TokenInput {
                    method: "token-env",
                    origin: format!("${var}"),
                    token: Secret::new(v),
                });
            }
            _ if explicit => {
                return Err(CredentialError::Variable {
                    flag: "--token-env",
                    var,
                    why: "not set or empty",
                })
            }
            _ => {}
        }
        Ok(())
    }

    /// `--cert` and `--key`, read and checked to belong together.
    fn identity(&self) -> Result<Option<Identity>, CredentialError> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(None);
        };
        let chain: Vec<CertificateDer<'static>> =
            crate::pki::sources::read_certificates(cert, "--cert")?;
        let bad_key = |why: &str| CredentialError::File {
            flag: "--key",
            path: key.clone(),
            why: why.to_string(),
        };
        let bytes =
            crate::local::read(key, crate::local::SMALL).map_err(|e| bad_key(&e.to_string()))?;
        let key_der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
            bad_key("no private key in it (expected PEM: PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
        })?;
        let signing = crate::pki::provider::provider()
            .key_provider
            .load_private_key(key_der.clone_key())
            .map_err(|_| bad_key("the key cannot be used for TLS"))?;
        let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
        if certified.keys_match().is_err() {
            return Err(CredentialError::KeyMismatch {
                key: key.clone(),
                cert: cert.clone(),
            });
        }
        Ok(Some(Identity {
            chain,
            key: key_der,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_on_the_command_line_is_refused() {
        let a = AuthArgs {
            user: Some("u".into()),
            password: Some("hunter2".into()),
            ..AuthArgs::default()
        };
        let e = a.load(Product::Prisma).expect_err("refused").to_string();
        assert!(e.contains("ps") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn password_from_a_file_and_missing_sources() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret-line\nignored\n").expect("write");
        let a = AuthArgs {
            user: Some("u".into()),
            password_file: Some(f),
            ..AuthArgs::default()
        };
        let c = a.load(Product::Prisma).expect("ok");
        assert_eq!(c.password.expect("pw").expose(), "s3cret-line");
        let a = AuthArgs {
            password_env: Some("PREFLIGHT_TEST_UNSET_VAR".into()),
            user: Some("u".into()),
            ..AuthArgs::default()
        };
        assert!(a
            .load(Product::Prisma)
            .expect_err("unset")
            .to_string()
            .contains("PREFLIGHT_TEST_UNSET_VAR"));
        let a = AuthArgs {
            token_file: Some(dir.path().join("nope")),
            ..AuthArgs::default()
        };
        assert!(a
            .load(Product::Cvp)
            .expect_err("missing")
            .to_string()
            .contains("--token-file"));
    }

    #[test]
    fn a_bad_client_certificate_or_key_names_its_own_flag() {
        let dir = tempfile::tempdir().expect("dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem").expect("write");
        let a = AuthArgs {
            cert: Some(dir.path().join("missing.pem")),
            key: Some(empty.clone()),
            ..AuthArgs::default()
        };
        let e = a
            .load(Product::Prisma)
            .expect_err("missing cert")
            .to_string();
        assert!(e.starts_with("--cert ") && e.contains("missing.pem"), "{e}");
        let a = AuthArgs {
            cert: Some(empty.clone()),
            key: Some(empty),
            ..AuthArgs::default()
        };
        let e = a.load(Product::Prisma).expect_err("no cert").to_string();
        assert!(
            e.starts_with("--cert ") && e.contains("no certificate"),
            "{e}"
        );
    }
}
