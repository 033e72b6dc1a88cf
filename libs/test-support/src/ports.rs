//! Ports for the servers a test starts, reserved so that tests running side
//! by side never pick the same one.
//!
//! A port bound to `:0` and released comes from the kernel's ephemeral
//! range, where any outgoing connection (to PostgreSQL, to NATS) may take
//! it before the service binds it, and where another test's `:0` may land
//! on it too. So ports come from below that range, and each is claimed with
//! a lock file that the test process holds for as long as it lives: the
//! kernel drops the lock when the process ends, however it ends.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;

/// Below Linux's default ephemeral range (32768–60999), above the well-known
/// ports and clear of `cargo xtask up`'s dev ports (50051 and up).
const FIRST: u16 = 20_000;
const LAST: u16 = 32_000;

/// A port this process has to itself until the reservation is dropped.
#[derive(Debug)]
pub struct ReservedPort {
    port: u16,
    _lock: File,
}

impl ReservedPort {
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Reserves a port no other test holds and nothing listens on.
pub fn reserve() -> ReservedPort {
    let folder = lock_folder();
    let span = u32::from(LAST - FIRST);
    let start = rand::random::<u32>() % span;
    for offset in 0..span {
        let port = FIRST + ((start + offset) % span) as u16;
        let Ok(lock) = File::create(folder.join(format!("{port}.lock"))) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        // Held by something that is not a test (or a test's server that
        // outlived it): leave it.
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        return ReservedPort { port, _lock: lock };
    }
    panic!("no free port between {FIRST} and {LAST}");
}

fn lock_folder() -> PathBuf {
    let folder = std::env::temp_dir().join("hms-tests").join("ports");
    std::fs::create_dir_all(&folder).expect("create the port lock folder");
    folder
}

#[cfg(test)]
mod tests {
    use std::fs::TryLockError;

    use super::*;

    #[test]
    fn a_reserved_port_is_not_handed_out_again_until_released() {
        let held: Vec<ReservedPort> = (0..20).map(|_| reserve()).collect();
        let mut ports: Vec<u16> = held.iter().map(ReservedPort::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), held.len(), "every reservation is its own");
        assert!(ports.iter().all(|port| (FIRST..LAST).contains(port)));

        // Another holder (another test process) cannot lock a held port.
        let again = File::create(lock_folder().join(format!("{}.lock", ports[0])))
            .expect("open the lock file");
        assert!(matches!(again.try_lock(), Err(TryLockError::WouldBlock)));
        drop(held);
        again.try_lock().expect("free once released");
    }
}
