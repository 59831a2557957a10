//! Changing the process environment from tests that share one binary.

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard};

static LOCK: Mutex<()> = Mutex::new(());

/// Exclusive use of the process environment for one test: tests holding a guard run one
/// at a time, and every variable a guard changed gets its old value back when it drops.
/// Tests that read a variable another test changes must hold a guard too.
#[derive(Debug)]
pub struct EnvGuard {
    saved: Vec<(String, Option<OsString>)>,
    _lock: MutexGuard<'static, ()>,
}

impl EnvGuard {
    /// Waits for the environment (a test that panicked while holding it still frees it).
    pub fn lock() -> Self {
        Self {
            saved: Vec::new(),
            _lock: LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// Sets `key` to `value` until the guard drops.
    pub fn set(&mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) {
        self.save(key);
        std::env::set_var(key, value);
    }

    /// Removes `key` until the guard drops.
    pub fn remove(&mut self, key: &str) {
        self.save(key);
        std::env::remove_var(key);
    }

    fn save(&mut self, key: &str) {
        if !self.saved.iter().any(|(k, _)| k == key) {
            self.saved.push((key.to_owned(), std::env::var_os(key)));
        }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (key, value) in self.saved.drain(..).rev() {
            match value {
                Some(v) => std::env::set_var(&key, v),
                None => std::env::remove_var(&key),
            }
        }
    }
}
