//! Unit tests of the MCP session store (registration, scopes, expiry, persistence).

use super::*;

fn sc(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn store(dir: Option<&std::path::Path>) -> McpSessionStore {
    McpSessionStore::new(dir.map(|d| d.to_path_buf()), Duration::from_secs(3600))
}

#[test]
fn create_touch_remove() {
    let st = store(None);
    let id = st.create("eng", Surface::Push, sc("agent:read"));
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4");
    assert_eq!(st.count_for_channel("eng"), 1);
    assert_eq!(st.count_for_channel("other"), 0);
    let info = st.touch(&id, &sc("agent:read agent:write")).unwrap();
    assert_eq!(info.scopes, sc("agent:read agent:write"));
    assert_eq!(info.channel, "eng");
    assert!(st.touch("nope", &[]).is_none());
    assert!(st.remove(&id));
    assert!(!st.remove(&id));
    assert_eq!(st.count_for_channel("eng"), 0);
}

#[test]
fn push_stream_slot_and_counting() {
    let st = store(None);
    let a = st.create("eng", Surface::Push, vec![]);
    let b = st.create("eng", Surface::Push, vec![]);
    let _c = st.create("ops", Surface::Push, vec![]);
    // nobody streaming → nothing delivered
    assert_eq!(st.push_to_channel("eng", b"x"), 0);
    let (sid, rx) = st.open_push(&a).unwrap();
    assert_eq!(st.open_push(&a).unwrap_err(), OpenPushError::Conflict);
    assert_eq!(st.open_push("zzz").unwrap_err(), OpenPushError::NotFound);
    assert_eq!(st.push_to_channel("eng", b"frame"), 1);
    assert_eq!(rx.try_recv().unwrap(), b"frame");
    // client went away: the receiver is dropped, the next push clears the slot
    drop(rx);
    assert_eq!(st.push_to_channel("eng", b"y"), 1);
    assert_eq!(st.push_to_channel("eng", b"y"), 0);
    let (sid2, _rx2) = st.open_push(&a).unwrap();
    assert_ne!(sid, sid2);
    // closing an old stream id does not clear the new stream
    st.close_push(&a, sid);
    assert_eq!(st.open_push(&a).unwrap_err(), OpenPushError::Conflict);
    st.close_push(&a, sid2);
    assert!(st.open_push(&a).is_ok());
    // DELETE ends the stream
    let (_, rxb) = st.open_push(&b).unwrap();
    st.remove(&b);
    assert!(rxb.recv().is_err());
}

#[test]
fn persisted_across_restart_without_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let st = store(Some(dir.path()));
        let id = st.create("eng", Surface::Pull, sc("agent:read agent:write"));
        st.create("gone", Surface::Push, vec![]);
        st.remove_channel("gone");
        id
    };
    let log = dir.path().join(SESSIONS_LOG);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&id) && !text.contains("agent:write"));
    assert_eq!(mode(&log), 0o600);
    let st = store(Some(dir.path()));
    // The restart folded the log into the snapshot.
    let path = dir.path().join(SESSIONS_FILE);
    let snap = std::fs::read_to_string(&path).unwrap();
    assert!(snap.contains(&id) && !snap.contains("agent:write") && !snap.contains("gone"));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
    let info = st.get(&id).unwrap();
    assert_eq!(info.channel, "eng");
    assert_eq!(info.surface, Surface::Pull);
    assert!(info.scopes.is_empty());
    assert_eq!(st.count_for_channel("eng"), 1);
}

#[test]
fn idle_sessions_are_reaped_unless_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let st = McpSessionStore::new(Some(dir.path().to_path_buf()), Duration::from_millis(30));
    let idle = st.create("eng", Surface::Push, vec![]);
    let streaming = st.create("eng", Surface::Push, vec![]);
    let _rx = st.open_push(&streaming).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(st.reap(), 1);
    assert!(st.get(&idle).is_none());
    assert!(st.get(&streaming).is_some());
    // an expired entry in the file is not restored
    drop(st);
    std::thread::sleep(Duration::from_millis(50));
    let st = McpSessionStore::new(Some(dir.path().to_path_buf()), Duration::from_millis(30));
    assert_eq!(st.count_for_channel("eng"), 0);
}

#[test]
fn cancellation_marks() {
    let st = store(None);
    let id = st.create("eng", Surface::Push, vec![]);
    st.cancel(&id, "n:3".into());
    assert!(st.take_cancelled(&id, "n:3"));
    assert!(!st.take_cancelled(&id, "n:3"));
}

#[test]
fn garbage_file_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(SESSIONS_FILE), b"{not json").unwrap();
    let st = store(Some(dir.path()));
    assert_eq!(st.count_for_channel("eng"), 0);
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn cap_evicts_least_recently_used_preferring_idle_streams() {
    let dir = tempfile::tempdir().unwrap();
    let st =
        McpSessionStore::with_max(Some(dir.path().to_path_buf()), Duration::from_secs(3600), 3);
    let a = st.create("eng", Surface::Push, vec![]);
    std::thread::sleep(Duration::from_millis(3));
    let b = st.create("eng", Surface::Push, vec![]);
    std::thread::sleep(Duration::from_millis(3));
    let c = st.create("eng", Surface::Push, vec![]);
    let _rx = st.open_push(&a).unwrap();
    std::thread::sleep(Duration::from_millis(3));
    st.touch(&b, &[]);
    // a streams (kept), b was used after c: c is the victim.
    let d = st.create("eng", Surface::Push, vec![]);
    assert_eq!(st.count_for_channel("eng"), 3);
    assert!(st.get(&c).is_none());
    for id in [&a, &b, &d] {
        assert!(st.get(id).is_some());
    }
    drop(st);
    let st =
        McpSessionStore::with_max(Some(dir.path().to_path_buf()), Duration::from_secs(3600), 3);
    assert!(st.get(&c).is_none(), "the eviction was persisted");
    assert!(st.get(&d).is_some() && st.get(&a).is_some());
}

#[test]
fn create_appends_without_rewriting_the_snapshot_and_compacts_later() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(Some(dir.path()));
    let first = st.create("eng", Surface::Push, vec![]);
    drop(st);
    let st = store(Some(dir.path()));
    let snap = dir.path().join(SESSIONS_FILE);
    let before = std::fs::read(&snap).unwrap();
    let second = st.create("eng", Surface::Push, vec![]);
    assert_eq!(std::fs::read(&snap).unwrap(), before, "snapshot untouched");
    let log = std::fs::read_to_string(dir.path().join(SESSIONS_LOG)).unwrap();
    assert_eq!(log.lines().count(), 1);
    // Churn: create and delete until the log is folded.
    for _ in 0..1100 {
        let id = st.create("tmp", Surface::Push, vec![]);
        st.remove(&id);
    }
    let log = std::fs::read_to_string(dir.path().join(SESSIONS_LOG)).unwrap();
    assert!(log.lines().count() < 1024, "compacted");
    let snap_text = std::fs::read_to_string(&snap).unwrap();
    assert!(snap_text.contains(&first) && snap_text.contains(&second));
    drop(st);
    let st = store(Some(dir.path()));
    assert_eq!(st.count_for_channel("eng"), 2);
    assert_eq!(st.count_for_channel("tmp"), 0);
}

#[test]
fn a_torn_last_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(Some(dir.path()));
    let id = st.create("eng", Surface::Push, vec![]);
    drop(st);
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join(SESSIONS_LOG))
        .unwrap();
    f.write_all(br#"{"op":"put","id":"half"#).unwrap();
    let st = store(Some(dir.path()));
    assert!(st.get(&id).is_some());
    assert_eq!(st.count_for_channel("eng"), 1);
}
