//! Files written whole: an export, a live state or a rules file goes to a
//! temporary file of ours beside it, renamed over it once all is written
//! and synced, so a failed write leaves any earlier file as it was. A leaf:
//! every part may use it, it uses none.
//!
//! What is written keeps what the user chose: a new file gets the mode the
//! umask gives (a state, which holds customer ids, is private: 0600 less
//! the umask), an existing file keeps its mode, and a symbolic link at the
//! path is written through (its target is replaced, the link stays).
//!
//! A temporary file is named `.journeyscope-KIND-PID-RANDOM`. While it
//! exists it is registered, and [`remove_temporaries`] (which the binary
//! runs when SIGINT, SIGTERM or SIGHUP ends it) removes it. One left by a
//! writer killed outright (SIGKILL, a crash, power loss) is swept by the
//! next write into its folder once its writer is gone and it is old; no
//! other name is ever removed.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::background::lock;

/// What a temporary file is for: part of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An export of the map, the summary or the rejected records.
    Export,
    /// A live view's saved state.
    State,
    /// An alert rules file.
    Alerts,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Export, Kind::State, Kind::Alerts];

    /// The start of its temporary files' names.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Export => ".journeyscope-export-",
            Kind::State => ".journeyscope-state-",
            Kind::Alerts => ".journeyscope-alerts-",
        }
    }

    /// The mode a new file of this kind is created with, before the umask:
    /// a state holds raw customer ids and stays private.
    fn new_mode(self) -> u32 {
        match self {
            Kind::State => 0o600,
            Kind::Export | Kind::Alerts => 0o666,
        }
    }
}

/// How long a temporary file of a writer that is gone is left alone before
/// a sweep removes it. The writer's process id is checked on this machine
/// only: the wait spares the file of a writer on another machine sharing
/// the folder, which writes continuously (its file's time moves on) and
/// for seconds, never for minutes.
pub const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// The paths to remove if the process is ended, and whether it is ending.
struct Registry {
    paths: Vec<PathBuf>,
    closing: bool,
}

static TEMPORARIES: Mutex<Registry> = Mutex::new(Registry {
    paths: Vec::new(),
    closing: false,
});

/// The folders swept by this process (each once).
static SWEPT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A path removed (a file, or a folder with all in it) if the process ends
/// on a signal while this is held; forgotten when dropped.
#[derive(Debug)]
pub struct Registered(PathBuf);

impl Registered {
    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = lock(&TEMPORARIES);
        if let Some(at) = registry.paths.iter().position(|p| *p == self.0) {
            registry.paths.swap_remove(at);
        }
    }
}

/// Registers `path` for [`remove_temporaries`]; refused once that has run
/// (the process is ending: nothing new may be left behind).
pub fn register(path: PathBuf) -> io::Result<Registered> {
    let mut registry = lock(&TEMPORARIES);
    if registry.closing {
        return Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "Journeyscope is stopping",
        ));
    }
    registry.paths.push(path.clone());
    Ok(Registered(path))
}

/// Removes every registered temporary file and folder, and lets none be
/// registered after: for a signal that ends the process.
pub fn remove_temporaries() {
    let mut registry = lock(&TEMPORARIES);
    registry.closing = true;
    for path in registry.paths.drain(..) {
        // The process is ending: a path already gone (renamed into place,
        // or never created) needs nothing, and there is no one to tell.
        let _ = match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) => Err(e),
        };
    }
}

/// The folder a path is in ("." for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with symbolic links at its end followed: the file a write to it
/// replaces (which need not exist yet).
fn through_links(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    // As many links as the kernel follows (Linux: 40).
    for _ in 0..40 {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&at)?;
                at = folder_of(&at).join(target);
            }
            _ => return Ok(at),
        }
    }
    Err(io::Error::other(
        "it is a symbolic link in a loop of links; give the path of a file",
    ))
}

/// Why `path` (a folder, a device, a pipe) cannot be written as a file.
fn not_a_file(metadata: &std::fs::Metadata) -> io::Error {
    let what = kind_of(metadata);
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a file; give the path of a file to write"),
    )
}

/// What a path that is not a regular file is, for a message.
pub fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = metadata.file_type();
        if t.is_fifo() {
            return "a pipe";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    match metadata.is_dir() {
        true => "a folder",
        false => "not a regular file",
    }
}

/// Writes `bytes` to `path` whole (see the module's description).
pub fn write_whole(path: &Path, kind: Kind, bytes: &[u8]) -> io::Result<()> {
    write_with(path, kind, |file| io::Write::write_all(file, bytes))
}

/// Writes `path` whole with `write`, which fills the file it is given: a
/// temporary file of ours beside the file `path` names (through symbolic
/// links), renamed over it once `write` succeeded and all is synced.
pub fn write_with(
    path: &Path,
    kind: Kind,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let target = through_links(path)?;
    let existing = match std::fs::metadata(&target) {
        Ok(m) if m.is_file() => Some(m),
        Ok(m) => return Err(not_a_file(&m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let folder = folder_of(&target);
    sweep_once(folder);
    let (temporary, mut file) = create_temporary(folder, kind)?;
    if let Some(existing) = &existing {
        keep_owner_and_mode(&file, existing)?;
    }
    write(&mut file)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(temporary.path(), &target)?;
    temporary.renamed();
    Ok(())
}

/// The temporary file being written: removed when dropped unless renamed
/// into place.
struct Temporary {
    registered: Registered,
    renamed: bool,
}

impl Temporary {
    fn path(&self) -> &Path {
        self.registered.path()
    }

    fn renamed(mut self) {
        self.renamed = true;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.renamed {
            // A write that failed: its error is what the caller reports;
            // a file that cannot be removed is swept by a later write.
            let _ = std::fs::remove_file(self.path());
        }
    }
}

/// A new temporary file of `kind` in `folder`, registered before it exists
/// (a signal at any moment finds it).
fn create_temporary(folder: &Path, kind: Kind) -> io::Result<(Temporary, File)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The kernel takes the umask off.
        options.mode(kind.new_mode());
    }
    let mut attempts = 0;
    loop {
        let name = format!(
            "{}{}-{:08x}",
            kind.prefix(),
            std::process::id(),
            rand::random::<u32>()
        );
        let registered = register(folder.join(name))?;
        match options.open(registered.path()) {
            Ok(file) => {
                let temporary = Temporary {
                    registered,
                    renamed: false,
                };
                return Ok((temporary, file));
            }
            // Not ours: left alone, and another name tried.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Gives the temporary file the mode of the file it replaces, and its
/// group when this user may.
#[cfg(unix)]
fn keep_owner_and_mode(file: &File, existing: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // A group the user is not in cannot be given; the file is then the
    // user's own group's, as any file the user makes.
    let _ = std::os::unix::fs::fchown(file, None, Some(existing.gid()));
    file.set_permissions(existing.permissions())
}

#[cfg(not(unix))]
fn keep_owner_and_mode(file: &File, existing: &std::fs::Metadata) -> io::Result<()> {
    file.set_permissions(existing.permissions())
}

/// Sweeps `folder` (see [`sweep`]) the first time this process writes there.
fn sweep_once(folder: &Path) {
    let folder = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf());
    {
        let mut swept = lock(&SWEPT);
        if swept.contains(&folder) {
            return;
        }
        swept.push(folder.clone());
    }
    sweep(&folder, STALE_AFTER);
}

/// Removes the temporary files of ours in `folder` whose writer is gone
/// and that are at least `stale_after` old; returns how many. Only names
/// this module makes are considered, and only plain files.
pub fn sweep(folder: &Path, stale_after: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(writer_of) else {
            continue;
        };
        if pid == std::process::id() || writer_alive(pid) {
            continue;
        }
        // The entry itself, never what a link points to.
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let age = metadata
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok());
        if !metadata.is_file() || age.is_none_or(|age| age < stale_after) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {
                removed += 1;
                // The name is ours (digits and hex): safe to show.
                log::info!(
                    "removed {}, left by a Journeyscope that was stopped while writing",
                    name.to_string_lossy()
                );
            }
            Err(e) => log::debug!("cannot remove {}: {e}", entry.path().display()),
        }
    }
    removed
}

/// The writer's process id in the name of a temporary file of ours
/// (`.journeyscope-KIND-PID-RANDOM`, RANDOM 8 lowercase hex digits); None
/// for any other name.
fn writer_of(name: &str) -> Option<u32> {
    let rest = Kind::ALL
        .iter()
        .find_map(|k| name.strip_prefix(k.prefix()))?;
    let (pid, random) = rest.split_once('-')?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let ours = !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 8
        && random.bytes().all(hex);
    ours.then(|| pid.parse().ok()).flatten()
}

/// True unless process `pid` surely does not exist on this machine.
#[cfg(unix)]
fn writer_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process
    // exists (EPERM: it does, another user's).
    let answer = unsafe { libc::kill(pid, 0) };
    answer == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn writer_alive(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process id no process has: a child's, once it has ended.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn names(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn only_names_of_ours_name_a_writer() {
        assert_eq!(writer_of(".journeyscope-state-123-0badcafe"), Some(123));
        assert_eq!(writer_of(".journeyscope-export-7-00000000"), Some(7));
        for name in [
            ".journeyscope-state-AbC123",
            ".journeyscope-export-notes.txt",
            ".journeyscope-export-12-0BADCAFE",
            ".journeyscope-export-12-0badcafe.bak",
            ".journeyscope-export--0badcafe",
            "journeyscope-state-1-0badcafe",
            ".journeyscope-other-1-0badcafe",
        ] {
            assert_eq!(writer_of(name), None, "{name}");
        }
    }

    #[test]
    fn a_sweep_removes_only_old_files_of_writers_that_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let make = |name: String, modified: SystemTime| {
            let file = File::create(dir.path().join(name)).unwrap();
            file.set_modified(modified).unwrap();
        };
        make(format!(".journeyscope-export-{dead}-0badcafe"), old);
        make(format!(".journeyscope-state-{dead}-0badcaff"), old);
        make(
            format!(".journeyscope-state-{dead}-00000001"),
            SystemTime::now(),
        );
        make(
            format!(".journeyscope-export-{}-0badcafe", std::process::id()),
            old,
        );
        make(".journeyscope-export-notes.txt".into(), old);
        std::fs::create_dir(
            dir.path()
                .join(format!(".journeyscope-export-{dead}-0000000d")),
        )
        .unwrap();
        assert_eq!(sweep(dir.path(), STALE_AFTER), 2);
        let mut kept = vec![
            format!(".journeyscope-export-{dead}-0000000d"),
            format!(".journeyscope-export-{}-0badcafe", std::process::id()),
            ".journeyscope-export-notes.txt".to_owned(),
            format!(".journeyscope-state-{dead}-00000001"),
        ];
        kept.sort();
        assert_eq!(names(dir.path()), kept);
    }

    #[cfg(unix)]
    #[test]
    fn a_write_keeps_the_mode_of_the_file_and_goes_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("map.svg");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.svg");
        std::os::unix::fs::symlink("map.svg", &link).unwrap();
        write_whole(&link, Kind::Export, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert_eq!(names(dir.path()), ["link.svg", "map.svg"]);
    }

    #[test]
    fn a_failed_write_leaves_the_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state");
        std::fs::write(&file, "earlier").unwrap();
        let failed = write_with(&file, Kind::State, |_| Err(io::Error::other("full")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&file).unwrap(), b"earlier");
        assert_eq!(names(dir.path()), ["state"]);
    }

    #[test]
    fn a_folder_or_device_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let message = write_whole(dir.path(), Kind::Export, b"x")
            .unwrap_err()
            .to_string();
        assert!(message.contains("a folder"), "{message}");
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid C string and mode.
            assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
            let message = write_whole(&fifo, Kind::Export, b"x")
                .unwrap_err()
                .to_string();
            assert!(message.contains("a pipe"), "{message}");
            assert_eq!(names(dir.path()), ["fifo"]);
        }
    }
}
