//! Files the operator names (`--ca`, `--chain`, `--cert`, `--key`, `--password-file`, `--token-file`,
//! `--targets`): read only when they are regular files (a named pipe blocks forever, a device never ends) and
//! only up to a cap, so no local input can hang the tool or make it grow without bound.

use std::io::Read;
use std::path::Path;

/// The most a certificate, key, password or token file may hold.
pub const SMALL: u64 = 4 * 1024 * 1024;
/// The most a target list may hold.
pub const LIST: u64 = 64 * 1024 * 1024;

/// Why a file was not read. The messages follow the file's flag and path (`--ca x.pem: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read it: {0}")]
    Io(String),
    #[error("it is {0}, not a regular file: give the path of a file")]
    NotAFile(&'static str),
    #[error(
        "it is larger than {limit} MiB, more than such a file ever holds: is it the right file?"
    )]
    TooLarge { limit: u64 },
}

/// What a path that is not a regular file is, in words.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// The bytes of the regular file at `path`, at most `max` of them. The type is checked before the file is
/// opened: opening a named pipe for reading would wait for a writer.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let io = |e: std::io::Error| ReadError::Io(crate::errors::io_words(&e));
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(kind(&meta)));
    }
    let too_large = ReadError::TooLarge {
        limit: max / (1024 * 1024),
    };
    if meta.len() > max {
        return Err(too_large);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(too_large);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_and_only_so_much() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.pem");
        std::fs::write(&file, b"0123456789").expect("write");
        assert_eq!(read(&file, 10).expect("read"), b"0123456789");
        assert_eq!(read(&file, 9), Err(ReadError::TooLarge { limit: 0 }));
        assert_eq!(
            read(dir.path(), SMALL),
            Err(ReadError::NotAFile("a folder"))
        );
        assert_eq!(
            read(Path::new("/dev/zero"), SMALL),
            Err(ReadError::NotAFile("a device"))
        );
        assert!(matches!(
            read(&dir.path().join("missing"), SMALL),
            Err(ReadError::Io(_))
        ));
    }
}
