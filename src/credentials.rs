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

fn read_text(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{what} {}: cannot read it: {}",
            path.display(),
            crate::errors::io_words(&e)
        )
    })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

impl AuthArgs {
    /// Reads every credential the options name. Errors name the file or variable, never a value.
    pub fn load(&self, product: Product) -> Result<Credentials, String> {
        if self.password.is_some() {
            return Err("--password is refused: a password on the command line shows in `ps` and in shell history; use --password-env VAR or --password-file FILE (or answer the prompt)".into());
        }
        let mut creds = Credentials {
            user: self.user.clone(),
            insecure: self.insecure,
            ..Credentials::default()
        };
        let password = if let Some(var) = &self.password_env {
            let v = std::env::var(var)
                .map_err(|_| format!("--password-env {var}: the variable is not set"))?;
            Some(v)
        } else if let Some(file) = &self.password_file {
            Some(first_line(&read_text(file, "--password-file")?))
        } else if self.user.is_some() && std::io::stdin().is_terminal() {
            let prompt = format!("Password for {}: ", self.user.as_deref().unwrap_or(""));
            Some(
                rpassword::prompt_password(prompt)
                    .map_err(|e| format!("cannot read the password: {e}"))?,
            )
        } else {
            None
        };
        if let Some(p) = password {
            if self.user.is_none() {
                return Err("a password needs --user".into());
            }
            if p.is_empty() {
                return Err("the password is empty".into());
            }
            creds.password = Some(Secret::new(p));
        } else if self.user.is_some() {
            return Err("--user needs a password: --password-env VAR, --password-file FILE, or run on a terminal to be asked".into());
        }
        if let Some(file) = &self.token_file {
            let token = first_line(&read_text(file, "--token-file")?);
            if token.is_empty() {
                return Err(format!(
                    "--token-file {}: the file is empty",
                    file.display()
                ));
            }
            creds.tokens.push(TokenInput {
                method: "token-file",
                origin: file.display().to_string(),
                token: Secret::new(token),
            });
        } else if matches!(product, Product::Cvp | Product::Cvaas)
            && Path::new(CVP_TOKEN_FILE).is_file()
        {
            let token = first_line(&read_text(Path::new(CVP_TOKEN_FILE), "token file")?);
            if !token.is_empty() {
                creds.tokens.push(TokenInput {
                    method: "token-file",
                    origin: format!("./{CVP_TOKEN_FILE}"),
                    token: Secret::new(token),
                });
            }
        }
        let env_var = match (&self.token_env, product) {
            (Some(v), _) => Some((v.clone(), true)),
            (None, Product::Cvp | Product::Cvaas) => Some((CVP_TOKEN_ENV.to_string(), false)),
            _ => None,
        };
        if let Some((var, explicit)) = env_var {
            match std::env::var(&var) {
                Ok(v) if !v.trim().is_empty() => creds.tokens.push(TokenInput {
                    method: "token-env",
                    origin: format!("${var}"),
                    token: Secret::new(v.trim()),
                }),
                _ if explicit => {
                    return Err(format!(
                        "--token-env {var}: the variable is not set or empty"
                    ))
                }
                _ => {}
            }
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            let chain: Vec<CertificateDer<'static>> = crate::pki::sources::read_certificates(cert)
                .map_err(|e| e.to_string().replacen("--ca", "--cert", 1))?;
            let bytes = std::fs::read(key)
                .map_err(|e| format!("--key {}: cannot read it: {e}", key.display()))?;
            let key_der = PrivateKeyDer::from_pem_slice(&bytes)
                .map_err(|_| format!("--key {}: no private key in it (expected PEM: PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", key.display()))?;
            let provider = crate::pki::provider::provider();
            let signing = provider
                .key_provider
                .load_private_key(key_der.clone_key())
                .map_err(|_| format!("--key {}: the key cannot be used for TLS", key.display()))?;
            let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
            if certified.keys_match().is_err() {
                return Err(format!(
                    "--key {} does not belong to the certificate in --cert {}",
                    key.display(),
                    cert.display()
                ));
            }
            creds.identity = Some(Identity {
                chain,
                key: key_der,
            });
        }
        Ok(creds)
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
        let e = a.load(Product::Prisma).expect_err("refused");
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
            .contains("PREFLIGHT_TEST_UNSET_VAR"));
        let a = AuthArgs {
            token_file: Some(dir.path().join("nope")),
            ..AuthArgs::default()
        };
        assert!(a
            .load(Product::Cvp)
            .expect_err("missing")
            .contains("--token-file"));
    }
}
