//! Ingest path resolution (`docs/collector.md#socket-hygiene`): argument > TRACEWIRE_SOCKET >
//! GOTRACE_SOCKET > default; empty = unset.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tracewire_collector::__fuzz::{configured_socket_path_with, runtime_dir_path_from};
use tracewire_collector::paths::resolve_socket_path;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn argument_wins_over_both_env_vars() {
    let env = lookup(&[
        ("TRACEWIRE_SOCKET", "/t.sock"),
        ("GOTRACE_SOCKET", "/g.sock"),
    ]);
    assert_eq!(
        configured_socket_path_with(Some(Path::new("/arg.sock")), &env),
        Some(PathBuf::from("/arg.sock"))
    );
}

#[test]
fn tracewire_socket_wins_over_gotrace_socket() {
    let env = lookup(&[
        ("TRACEWIRE_SOCKET", "/t.sock"),
        ("GOTRACE_SOCKET", "/g.sock"),
    ]);
    assert_eq!(
        configured_socket_path_with(None, &env),
        Some(PathBuf::from("/t.sock"))
    );
}

#[test]
fn gotrace_socket_is_used_when_tracewire_socket_is_unset_or_empty() {
    let env = lookup(&[("GOTRACE_SOCKET", "/g.sock")]);
    assert_eq!(
        configured_socket_path_with(None, &env),
        Some(PathBuf::from("/g.sock"))
    );
    let env = lookup(&[("TRACEWIRE_SOCKET", ""), ("GOTRACE_SOCKET", "/g.sock")]);
    assert_eq!(
        configured_socket_path_with(None, &env),
        Some(PathBuf::from("/g.sock"))
    );
}

#[test]
fn empty_values_and_empty_argument_count_as_unset() {
    let env = lookup(&[("TRACEWIRE_SOCKET", ""), ("GOTRACE_SOCKET", "")]);
    assert_eq!(configured_socket_path_with(Some(Path::new("")), &env), None);
    assert_eq!(configured_socket_path_with(None, lookup(&[])), None);
}

#[test]
fn default_is_ingest_sock_in_the_runtime_dir_from_the_real_environment() {
    let mut env = tracewire_test_support::EnvGuard::lock();
    let dir = tempfile::tempdir().unwrap();
    env.remove("TRACEWIRE_SOCKET");
    env.set("GOTRACE_SOCKET", "");
    env.set("XDG_RUNTIME_DIR", dir.path());
    let p = resolve_socket_path(None).unwrap();
    assert_eq!(p, dir.path().join("tracewire").join("ingest.sock"));
    assert!(dir.path().join("tracewire").is_dir(), "runtime dir created");
    env.set("GOTRACE_SOCKET", "/g.sock");
    assert_eq!(resolve_socket_path(None).unwrap(), PathBuf::from("/g.sock"));
    env.set("TRACEWIRE_SOCKET", "/t.sock");
    assert_eq!(resolve_socket_path(None).unwrap(), PathBuf::from("/t.sock"));
    assert_eq!(
        resolve_socket_path(Some(Path::new("/a.sock"))).unwrap(),
        PathBuf::from("/a.sock")
    );
}

#[test]
fn runtime_dir_uses_xdg_only_when_absolute_and_existing() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().as_os_str().to_owned();
    assert_eq!(
        runtime_dir_path_from(Some(xdg), Some("/tmpx".into())),
        dir.path().join("tracewire")
    );
    let missing = dir.path().join("missing").into_os_string();
    let p = runtime_dir_path_from(Some(missing), Some("/tmpx".into()));
    assert!(p.starts_with("/tmpx"));
    let p = runtime_dir_path_from(None, None);
    assert!(p.starts_with("/tmp"));
}
