//! One relay per data folder.
//!
//! Two relays on one folder would each keep their own copy of the invites and rooms in memory
//! and overwrite each other's files. A relay therefore holds an exclusive advisory lock on
//! `<data>/relay.lock` for as long as it runs, and writes who it is into that file so a second
//! start can name the first. The operating system drops the lock when the holder exits, even
//! by `kill -9`, so a crash never leaves a folder locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::RelayError;
use crate::storage::file::io_err;

/// The lock file inside the data folder.
pub const LOCK_FILE: &str = "relay.lock";

/// The held lock; dropping it lets another relay use the folder.
#[derive(Debug)]
pub(crate) struct DataLock {
    file: File,
    path: PathBuf,
}

impl DataLock {
    /// Takes the folder's lock, or says which relay holds it.
    pub(crate) fn acquire(data_dir: &Path) -> Result<Self, RelayError> {
        let path = data_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { file, path }),
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // The holder's description is a courtesy; the lock itself is the fact.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
                Err(RelayError::DataFolderInUse {
                    folder: data_dir.display().to_string(),
                    holder: if holder.is_empty() {
                        "a relay that has not said who it is yet".to_owned()
                    } else {
                        holder
                    },
                })
            }
            Err(TryLockError::Error(e)) => Err(io_err(&path)(e).into()),
        }
    }

    /// Records who holds the folder, once the address is known.
    pub(crate) fn describe(&mut self, local_addr: SocketAddr) -> Result<(), RelayError> {
        let text = format!(
            "pid {} listening on {local_addr} since {} (unix seconds)\n",
            std::process::id(),
            crate::invites::unix_now()
        );
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)))
            .and_then(|_| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io_err(&self.path)(e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_folder_is_refused_naming_the_first_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = DataLock::acquire(dir.path()).unwrap();
        first.describe("127.0.0.1:4321".parse().unwrap()).unwrap();
        let err = DataLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use"), "{err}");
        assert!(err.contains("127.0.0.1:4321"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataLock::acquire(dir.path()).unwrap();
    }
}
