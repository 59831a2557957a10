//! Socket hygiene (`docs/collector.md#socket-hygiene`): bind refuses a live socket and a
//! regular file, replaces a stale one, rejects a long path before any filesystem change;
//! sockets are 0600; the runtime dir is 0700 with owner and symlink checks; shutdown leaves
//! a socket whose inode changed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use tracewire_collector::assemble::Limits;
use tracewire_collector::paths::{
    bind_socket, check_private_dir, ensure_private_dir, probe_socket, SocketProbe,
    MAX_SOCKET_PATH_BYTES,
};
use tracewire_collector::server::Collector;
use tracewire_collector::BindError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_refuses_a_live_socket_and_leaves_it_alone() {
    let r = crate::common::start(Limits::default(), false).await;
    let ino = std::fs::metadata(&r.ingest).unwrap().ino();
    let err = Collector::builder()
        .with_socket_path(&r.ingest)
        .bind()
        .await
        .expect_err("in use");
    assert!(
        matches!(&err, BindError::InUse(p) if p == &r.ingest),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("is in use by a running collector; pass --socket PATH"));
    assert_eq!(
        std::fs::metadata(&r.ingest).unwrap().ino(),
        ino,
        "not removed"
    );
    // Still serving.
    crate::common::send(&r.ingest, &crate::common::root_spans(0, 1)).await;
    crate::common::wait_for("span", || r.collector.stats().assembly.completed == 1).await;
    r.stop().await;
}

#[tokio::test]
async fn bind_refuses_a_regular_file_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("file.sock");
    std::fs::write(&p, b"precious").unwrap();
    let err = Collector::builder()
        .with_socket_path(&p)
        .bind()
        .await
        .expect_err("not a socket");
    assert!(matches!(&err, BindError::NotASocket(x) if x == &p), "{err}");
    assert_eq!(std::fs::read(&p).unwrap(), b"precious");
}

#[tokio::test]
async fn a_stale_socket_is_replaced_and_the_new_one_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&p).unwrap());
    assert_eq!(probe_socket(&p).unwrap(), SocketProbe::Stale);
    let bound = Collector::builder()
        .with_socket_path(&p)
        .bind()
        .await
        .expect("stale replaced");
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(probe_socket(&p).unwrap(), SocketProbe::Live);
    drop(bound);
}

#[tokio::test]
async fn a_long_path_is_rejected_before_any_filesystem_change() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("not-created");
    let long = sub.join("x".repeat(200));
    let err = Collector::builder()
        .with_socket_path(&long)
        .bind()
        .await
        .expect_err("too long");
    match &err {
        BindError::PathTooLong { len, max, .. } => {
            assert_eq!(*len, long.as_os_str().len());
            assert_eq!(*max, MAX_SOCKET_PATH_BYTES);
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "socket path is {} bytes, the limit here is {MAX_SOCKET_PATH_BYTES}: {}; use a shorter --socket or TRACEWIRE_SOCKET",
            long.as_os_str().len(),
            long.display()
        )
    );
    assert!(!sub.exists(), "nothing created");
    // A long view path is refused before the (valid) ingest socket is created.
    let ingest = dir.path().join("ok.sock");
    let err = Collector::builder()
        .with_socket_path(&ingest)
        .with_view_socket_path(Some(long.clone()))
        .bind()
        .await
        .expect_err("view too long");
    assert!(matches!(err, BindError::PathTooLong { .. }));
    assert!(!ingest.exists());
}

#[test]
fn runtime_dir_is_created_0700_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("rt");
    ensure_private_dir(&rt).unwrap();
    let meta = std::fs::symlink_metadata(&rt).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    // Group/other bits → insecure.
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = ensure_private_dir(&rt).expect_err("0755");
    assert!(
        matches!(&err, BindError::InsecureDir { reason, .. } if reason.contains("0755")),
        "{err}"
    );
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o700)).unwrap();
    check_private_dir(&rt).unwrap();
    // A symlink to a good directory → insecure (lstat, never followed).
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&rt, &link).unwrap();
    let err = ensure_private_dir(&link).expect_err("symlink");
    assert!(
        matches!(&err, BindError::InsecureDir { reason, .. } if reason.contains("symbolic link")),
        "{err}"
    );
    // A regular file → insecure.
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    assert!(matches!(
        ensure_private_dir(&file),
        Err(BindError::InsecureDir { .. })
    ));
}

#[test]
fn runtime_dir_owned_by_another_uid_is_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("rt");
    ensure_private_dir(&rt).unwrap();
    let me = rustix::process::getuid().as_raw();
    // Only root can give a directory away; elsewhere the check is covered by the mode tests.
    if std::os::unix::fs::chown(&rt, Some(me.wrapping_add(1)), None).is_err() {
        return;
    }
    let err = ensure_private_dir(&rt).expect_err("foreign owner");
    assert!(
        matches!(&err, BindError::InsecureDir { reason, .. } if reason.contains("owned by uid")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_removes_its_socket_but_not_a_successor() {
    // Own sockets: removed.
    let r = crate::common::start(Limits::default(), true).await;
    let (ingest, view) = (r.ingest.clone(), r.view.clone().unwrap());
    let (_report, _dir) = r.stop_keep_dir().await;
    assert!(!ingest.exists());
    assert!(!view.exists());

    // Replaced by a successor: left alone.
    let r = crate::common::start(Limits::default(), false).await;
    std::fs::remove_file(&r.ingest).unwrap();
    let (_successor, _guard) = bind_socket(&r.ingest).expect("successor binds");
    let ino = std::fs::metadata(&r.ingest).unwrap().ino();
    let path = r.ingest.clone();
    let (_report, _dir) = r.stop_keep_dir().await;
    assert!(path.exists(), "successor's socket survives");
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), ino);
}
