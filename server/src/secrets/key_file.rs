//! The secret key file: `--secret-key-file` (`BERTH_SECRET_KEY_FILE`), by default `secret.key`
//! in the data directory. One line, `berth-secret-key-v1:` and the key in base64.
//!
//! - Created with mode 0600 when it is missing and the store holds no sealed key (the first
//!   `berth serve`); when sealed keys exist, a missing file is an error that names their key,
//!   since a new key would open none of them.
//! - Refused when group or others may read it (as ssh refuses such a private key): the file is
//!   what turns the database's ciphertext back into keys.
//! - Replaced by `berth connection rekey` without a moment where the path holds no key: the new
//!   key is written beside it (`.new`), the old one kept (`.old`), then the new one renamed
//!   over it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::{SecretKey, KEY_BYTES};
use crate::db::StoreArgs;

/// The key file's name in the data directory, unless `--secret-key-file` names another.
pub const KEY_FILE: &str = "secret.key";
const HEADER: &str = "berth-secret-key-v1:";

/// Where the secret key is: every command that seals or opens a connection's client key
/// (`serve`, `berth connection …`, `berth plan …`) takes it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecretKeyArgs {
    /// The file with the key that seals connections' TLS client keys in the store. Created
    /// (mode 0600) when missing while the store holds no sealed key. Default: `secret.key` in
    /// the data directory. Replicas on one PostgreSQL need the same file; keep a copy apart from
    /// the database's backups (without it they hold ciphertext only).
    #[arg(long = "secret-key-file", env = "BERTH_SECRET_KEY_FILE", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the secret key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write the secret key file {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(
        "the secret key file {path} is not one: it should be one line `{HEADER}…` with 32 bytes in base64"
    )]
    Malformed { path: String },
    #[error(
        "the secret key file {path} may be read by others (mode {mode:03o}): make it its owner's \
         alone with `chmod 600 {path}`"
    )]
    TooOpen { path: String, mode: u32 },
    #[error(
        "the secret key file {path} does not exist, but the store holds client keys sealed with \
         key {key_ids}: restore that file (or point --secret-key-file at it); a new key would \
         open none of them"
    )]
    Missing { path: String, key_ids: String },
    #[error("{path} exists already: name a new file")]
    Exists { path: String },
}

impl SecretKeyArgs {
    /// The key file's path: `--secret-key-file`, unless absent or empty, else `secret.key` in
    /// the data directory.
    pub fn path(&self, store: &StoreArgs) -> PathBuf {
        self.file
            .clone()
            .filter(|path| !path.as_os_str().is_empty())
            .unwrap_or_else(|| store.path.join(KEY_FILE))
    }

    /// The key, read from its file; the file is created with a new key when it is missing and
    /// no client key in the store is sealed (`sealed_with`: the ids of the keys that sealed
    /// the stored ones). Returns whether it was created.
    pub fn read_or_create(
        &self,
        store: &StoreArgs,
        sealed_with: &[String],
    ) -> Result<(SecretKey, bool), KeyFileError> {
        let path = self.path(store);
        if path.exists() {
            return Ok((read(&path)?, false));
        }
        if !sealed_with.is_empty() {
            return Err(KeyFileError::Missing {
                path: path.display().to_string(),
                key_ids: sealed_with.join(", "),
            });
        }
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| KeyFileError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        let key = SecretKey::generate();
        match write_new(&path, &key) {
            Ok(()) => Ok((read(&path)?, true)),
            // Another replica or command made it a moment ago: use theirs.
            Err(KeyFileError::Exists { .. }) => Ok((read(&path)?, false)),
            Err(error) => Err(error),
        }
    }
}

/// The key in the file at `path`.
pub fn read(path: &Path) -> Result<SecretKey, KeyFileError> {
    let shown = || path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|source| KeyFileError::Read {
        path: shown(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen { path: shown(), mode });
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
            path: shown(),
            source,
        })?,
    );
    let encoded = text
        .trim()
        .strip_prefix(HEADER)
        .ok_or_else(|| KeyFileError::Malformed { path: shown() })?;
    let decoded = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| KeyFileError::Malformed { path: shown() })?,
    );
    let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
    if decoded.len() != KEY_BYTES {
        return Err(KeyFileError::Malformed { path: shown() });
    }
    bytes.copy_from_slice(&decoded);
    Ok(SecretKey::from_bytes(bytes, Some(path.to_owned())))
}

/// Writes `key` to a new file at `path` (mode 0600, synced); refuses to overwrite one.
pub fn write_new(path: &Path, key: &SecretKey) -> Result<(), KeyFileError> {
    let shown = || path.display().to_string();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists { path: shown() },
            _ => KeyFileError::Write {
                path: shown(),
                source,
            },
        })?;
    let line = Zeroizing::new(format!("{HEADER}{}\n", STANDARD.encode(key.bytes())));
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_directory(path))
        .map_err(|source| KeyFileError::Write {
            path: shown(),
            source,
        })
}

/// `path` with `suffix` added to its name (`secret.key` → `secret.key.new`).
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes `key` to `PATH.new` (replacing a stale one), ready for [`install`].
pub fn stage(path: &Path, key: &SecretKey) -> Result<PathBuf, KeyFileError> {
    let staged = beside(path, ".new");
    remove_if_present(&staged)?;
    write_new(&staged, key)?;
    Ok(staged)
}

/// Puts the staged key (`PATH.new`) in place of the key at `path`, keeping the old one as
/// `PATH.old`: at every moment `path` holds the old key or the new one. Returns where the old
/// one is.
pub fn install(path: &Path) -> Result<PathBuf, KeyFileError> {
    let shown = |path: &Path| path.display().to_string();
    let (staged, old, old_staged) = (
        beside(path, ".new"),
        beside(path, ".old"),
        beside(path, ".old.new"),
    );
    let current = read(path)?;
    remove_if_present(&old_staged)?;
    write_new(&old_staged, &current)?;
    std::fs::rename(&old_staged, &old).map_err(|source| KeyFileError::Write {
        path: shown(&old),
        source,
    })?;
    std::fs::rename(&staged, path).map_err(|source| KeyFileError::Write {
        path: shown(path),
        source,
    })?;
    sync_directory(path).map_err(|source| KeyFileError::Write {
        path: shown(path),
        source,
    })?;
    Ok(old)
}

/// Removes `path` when it exists (a staged file left by an earlier, interrupted attempt).
pub fn remove_if_present(path: &Path) -> Result<(), KeyFileError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(KeyFileError::Write {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Makes a file's creation or rename durable: its directory entry is synced too.
fn sync_directory(path: &Path) -> std::io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(path: &Path) -> (SecretKeyArgs, StoreArgs) {
        let store = StoreArgs {
            path: path.parent().unwrap().to_owned(),
            database: None,
        };
        (
            SecretKeyArgs {
                file: Some(path.to_owned()),
            },
            store,
        )
    }

    #[test]
    fn a_missing_file_is_created_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("secret.key");
        let (args, store) = args(&path);
        let (created, was_created) = args.read_or_create(&store, &[]).unwrap();
        assert!(was_created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, was_created) = args.read_or_create(&store, &[]).unwrap();
        assert!(!was_created);
        assert_eq!(again.id(), created.id());
    }

    #[test]
    fn a_missing_file_is_not_replaced_while_sealed_keys_need_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let (args, store) = args(&path);
        let error = args
            .read_or_create(&store, &["0123456789abcdef".into()])
            .unwrap_err();
        assert!(error.to_string().contains("0123456789abcdef"), "{error}");
        assert!(!path.exists());
    }

    #[test]
    fn a_file_others_may_read_or_a_wrong_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        write_new(&path, &SecretKey::generate()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.to_string().contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(read(&path), Err(KeyFileError::Malformed { .. })));
    }

    #[test]
    fn installing_a_staged_key_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let (old, new) = (SecretKey::generate(), SecretKey::generate());
        write_new(&path, &old).unwrap();
        stage(&path, &new).unwrap();
        assert_eq!(
            read(&path).unwrap().id(),
            old.id(),
            "staging leaves the key in place"
        );
        let kept = install(&path).unwrap();
        assert_eq!(read(&path).unwrap().id(), new.id());
        assert_eq!(read(&kept).unwrap().id(), old.id());
        assert!(!beside(&path, ".new").exists());
    }
}
