//! The node's Ed25519 key: a 32-byte seed in `DIR/node.key` (hex, mode 0600), created on first
//! use; its public half is what operators verify manifests with.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a ceir node key (64 hex digits expected)")]
    Malformed { path: PathBuf },
    #[error(
        "{path} may be read by other users (mode {mode:o}); restrict it with chmod 600 {path}"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{0:?} is not an Ed25519 public key: give the `ed25519:<64 hex digits>` that `ceir node key` prints, or a file holding it")]
    BadPublicKey(String),
}

/// The node's signing key.
pub struct NodeKey {
    signing: SigningKey,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the seed.
        write!(f, "NodeKey({})", self.public())
    }
}

impl NodeKey {
    pub fn from_seed(seed: [u8; 32]) -> NodeKey {
        NodeKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The key at `path`, if there is one.
    pub fn load(path: &Path) -> Result<Option<NodeKey>, KeyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(KeyError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| KeyError::Io {
                    path: path.to_owned(),
                    source,
                })?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::Malformed {
            path: path.to_owned(),
        })?;
        Ok(Some(NodeKey::from_seed(seed)))
    }

    /// The key at `path`, created (mode 0600) when there is none. Two processes racing to
    /// create it agree on one: the seed is written to a private temporary file and linked into
    /// place only if no key exists yet.
    pub fn load_or_create(path: &Path) -> Result<NodeKey, KeyError> {
        if let Some(k) = NodeKey::load(path)? {
            return Ok(k);
        }
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let written = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())?;
            f.sync_all()?;
            match std::fs::hard_link(&tmp, path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(e),
            }
        })();
        let _ = std::fs::remove_file(&tmp);
        written.map_err(io)?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        NodeKey::load(path)?.ok_or(KeyError::Malformed {
            path: path.to_owned(),
        })
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// An Ed25519 public key, written `ed25519:<64 hex digits>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Accepts `ed25519:<hex>` or the bare 64 hex digits.
    pub fn parse(s: &str) -> Result<PublicKey, KeyError> {
        let t = s.trim();
        let hexpart = t.strip_prefix("ed25519:").unwrap_or(t);
        let mut b = [0u8; 32];
        hex::decode_to_slice(hexpart, &mut b).map_err(|_| KeyError::BadPublicKey(t.into()))?;
        VerifyingKey::from_bytes(&b)
            .map(PublicKey)
            .map_err(|_| KeyError::BadPublicKey(t.into()))
    }

    /// A short fingerprint: the first 8 bytes of the SHA-256 of the key, in hex.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }

    /// Strict verification (no malleable or small-order signatures).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", hex::encode(self.0.as_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let a = NodeKey::load_or_create(&path).unwrap();
        let b = NodeKey::load_or_create(&path).unwrap();
        assert_eq!(a.public(), b.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                NodeKey::load(&path),
                Err(KeyError::Exposed { .. })
            ));
        }
        let sig = a.sign(b"manifest");
        let public = PublicKey::parse(&a.public().to_string()).unwrap();
        assert!(public.verify(b"manifest", &sig));
        assert!(!public.verify(b"manifesT", &sig));
        assert_eq!(public.key_id().len(), 16);
        assert!(PublicKey::parse("ed25519:abcd").is_err());
    }
}
