//! The public listener's TLS (docs/contract.md §11): TLS 1.2 and 1.3, ALPN `h2` and
//! `http/1.1`, and a certificate that SIGHUP can replace.
//!
//! Pingora's `TlsSettings::intermediate` reads the files once into the acceptor, which cannot
//! change afterwards. Instead the certificate is handed over per handshake from a
//! [`Certificates`] store (Pingora's `certificate_callback`), so a reload swaps one pointer:
//! handshakes that start after it get the new certificate, connections already up keep theirs.

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::TlsAccept;
use pingora::protocols::tls::TlsRef;
use pingora::tls::ext;
use pingora::tls::pkey::{PKey, Private};
use pingora::tls::ssl::SslVersion;
use pingora::tls::x509::X509;

use crate::config::{ConfigError, TlsFiles};

/// A certificate chain (leaf first) and the private key that matches the leaf.
pub struct Certificate {
    chain: Vec<X509>,
    key: PKey<Private>,
}

impl Certificate {
    /// Reads and checks both files; the error names the setting and the file at fault.
    pub fn load(files: &TlsFiles) -> Result<Self, ConfigError> {
        const CERT: &str = "GATEHOUSE_TLS_CERT (tls_cert)";
        const KEY: &str = "GATEHOUSE_TLS_KEY (tls_key)";
        let cert_err = |m: String| ConfigError::new(CERT, format!("{}: {m}", files.cert.display()));
        let key_err = |m: String| ConfigError::new(KEY, format!("{}: {m}", files.key.display()));
        let chain = std::fs::read(&files.cert)
            .map_err(|e| cert_err(e.to_string()))
            .and_then(|pem| {
                X509::stack_from_pem(&pem)
                    .map_err(|e| cert_err(format!("not a PEM certificate ({e})")))
            })?;
        let Some(leaf) = chain.first() else {
            return Err(cert_err("holds no PEM certificate".into()));
        };
        let key = std::fs::read(&files.key)
            .map_err(|e| key_err(e.to_string()))
            .and_then(|pem| {
                PKey::private_key_from_pem(&pem)
                    .map_err(|e| key_err(format!("not a PEM private key ({e})")))
            })?;
        let matches = leaf.public_key().is_ok_and(|public| public.public_eq(&key));
        if !matches {
            return Err(key_err(format!(
                "does not belong to the certificate in {}",
                files.cert.display()
            )));
        }
        Ok(Self { chain, key })
    }

    /// The leaf's SHA-256 fingerprint in hex, for the log line that says which one is served.
    pub fn fingerprint(&self) -> String {
        self.chain
            .first()
            .and_then(|leaf| {
                leaf.digest(pingora::tls::hash::MessageDigest::sha256())
                    .ok()
            })
            .map(|d| {
                d.iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .unwrap_or_default()
    }

    fn install(&self, ssl: &mut TlsRef) -> Result<(), pingora::tls::error::ErrorStack> {
        let mut certs = self.chain.iter();
        if let Some(leaf) = certs.next() {
            ext::ssl_use_certificate(ssl, leaf)?;
        }
        for intermediate in certs {
            ext::ssl_add_chain_cert(ssl, intermediate)?;
        }
        ext::ssl_use_private_key(ssl, &self.key)
    }
}

/// The certificate new handshakes get, and the files it is read from.
pub struct Certificates {
    files: TlsFiles,
    current: ArcSwap<Certificate>,
}

impl Certificates {
    /// Start-up: a file that does not load is a configuration error naming it (exit 2).
    pub fn load(files: &TlsFiles) -> Result<Arc<Self>, ConfigError> {
        let certificate = Certificate::load(files)?;
        Ok(Arc::new(Self {
            files: files.clone(),
            current: ArcSwap::from_pointee(certificate),
        }))
    }

    /// SIGHUP: reads the files again; on success later handshakes use them and the new
    /// fingerprint is returned. On failure nothing changes. Blocking: it reads files.
    pub fn reload(&self) -> Result<String, ConfigError> {
        let certificate = Certificate::load(&self.files)?;
        let fingerprint = certificate.fingerprint();
        self.current.store(Arc::new(certificate));
        Ok(fingerprint)
    }

    pub fn fingerprint(&self) -> String {
        self.current.load().fingerprint()
    }

    /// The listener's settings: TLS 1.2 and later (Mozilla's intermediate profile), `h2`
    /// preferred over `http/1.1`, the certificate taken from `self` at each handshake.
    pub fn settings(self: &Arc<Self>) -> pingora::Result<TlsSettings> {
        let mut settings = TlsSettings::with_callbacks(Box::new(Handshakes(self.clone())))?;
        settings
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(|e| {
                pingora::Error::because(
                    pingora::ErrorType::InternalError,
                    "cannot set the minimum TLS version",
                    e,
                )
            })?;
        settings.enable_h2();
        Ok(settings)
    }
}

struct Handshakes(Arc<Certificates>);

#[async_trait]
impl TlsAccept for Handshakes {
    async fn certificate_callback(&self, ssl: &mut TlsRef) {
        if let Err(e) = self.0.current.load().install(ssl) {
            // The handshake then fails for want of a certificate; the client sees an alert.
            tracing::error!("TLS: cannot use the loaded certificate: {e}");
        }
    }
}
