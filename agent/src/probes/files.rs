//! Opening files that other local users can put in the agent's way (crash folders are often
//! world-writable): only regular files, never through a symlink, never blocking on a FIFO.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Opens `path` for reading if it is a regular file itself: a symlink is refused (it could
/// point at a file only the agent may read), and so are FIFOs, sockets and devices (opening
/// or reading one can block forever or never end).
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting.
        options.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
    }
    #[cfg(not(unix))]
    {
        // Without O_NOFOLLOW, look first; a swap between the look and the open only ever
        // yields another file the user could already name.
        let metadata = std::fs::symlink_metadata(path)?;
        if !metadata.is_file() {
            return Err(not_regular(path));
        }
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular(path));
    }
    Ok(file)
}

/// At most `max_bytes` from the start of the regular file at `path` (see [`open_regular`]).
pub fn read_head(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    open_regular(path)?.take(max_bytes).read_to_end(&mut head)?;
    Ok(head)
}

fn not_regular(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{} is not a regular file", path.display()),
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fifos_symlinks_and_folders_are_refused_at_once_and_regular_files_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let regular = dir.path().join("app.1.crash");
        std::fs::write(&regular, "Package: app 1.0\n").expect("write");
        assert_eq!(read_head(&regular, 7).expect("reads"), b"Package");

        let fifo = dir.path().join("fifo.crash");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o666),
        )
        .expect("mkfifo");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "only the agent may read this").expect("write");
        let link = dir.path().join("link.crash");
        std::os::unix::fs::symlink(&secret, &link).expect("symlink");
        // Each of these returns at once: a blocking open of the FIFO would hang the test.
        for refused in [&fifo, &link, &dir.path().to_owned()] {
            assert!(read_head(refused, 1024).is_err(), "{}", refused.display());
        }
    }
}
