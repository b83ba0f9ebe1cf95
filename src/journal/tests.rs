//! Unit tests of the journal file: durability across reopen, attempts, dedup keys,
//! offsets, the torn tail, and boundedness under compaction.

use serde_json::json;

use super::*;

fn open(dir: &Path) -> (Arc<Journal>, OpenReport) {
    Journal::open(dir, 64 * 1024).unwrap()
}

#[test]
fn pending_records_survive_reopen_in_order_with_their_attempts() {
    let tmp = tempfile::tempdir().unwrap();
    let (j, r) = open(tmp.path());
    assert_eq!((r.records, r.pending, r.torn), (0, 0, None));
    let mut ids = Vec::new();
    for i in 0..5 {
        match j
            .accept("web", "bot", None, json!({"content": format!("m{i}")}))
            .unwrap()
        {
            Accepted::New(id) => ids.push(id),
            Accepted::Duplicate => panic!("no key, no duplicate"),
        }
    }
    j.start(ids[0], 1).unwrap();
    j.finish(ids[0], Outcome::Replied).unwrap();
    j.start(ids[1], 1).unwrap();
    drop(j);
    let (j, r) = open(tmp.path());
    assert_eq!(r.pending, 4);
    assert_eq!(r.torn, None);
    let replay = j.take_replay("web");
    let contents: Vec<_> = replay.iter().map(|p| p.msg["content"].clone()).collect();
    assert_eq!(
        contents,
        [json!("m1"), json!("m2"), json!("m3"), json!("m4")]
    );
    assert_eq!(replay[0].started, 1, "the in-flight one had one attempt");
    assert_eq!(replay[1].started, 0);
    assert!(
        j.take_replay("web").is_empty(),
        "handed out once per process"
    );
    assert!(j.take_replay("other").is_empty());
    let mode = std::fs::metadata(j.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // new ids never collide with pending ones
    let Accepted::New(id) = j.accept("web", "bot", None, json!({})).unwrap() else {
        panic!()
    };
    assert!(!ids[1..].contains(&id));
}

#[test]
fn keys_deduplicate_across_reopen_and_offsets_persist() {
    let tmp = tempfile::tempdir().unwrap();
    let (j, _) = open(tmp.path());
    let Accepted::New(id) = j.accept("tg", "bot", Some("tg:1:2"), json!({})).unwrap() else {
        panic!()
    };
    assert_eq!(
        j.accept("tg", "bot", Some("tg:1:2"), json!({})).unwrap(),
        Accepted::Duplicate
    );
    j.set_offset("tg", 42).unwrap();
    j.finish(id, Outcome::Failed { reason: "x".into() })
        .unwrap();
    drop(j);
    let (j, r) = open(tmp.path());
    assert_eq!(r.pending, 0);
    assert!(j.knows("tg:1:2"), "a finished key is remembered");
    assert_eq!(j.offset("tg"), Some(42));
    assert_eq!(j.offset("other"), None);
}

#[test]
fn a_torn_last_record_is_reported_cut_and_never_misread() {
    let tmp = tempfile::tempdir().unwrap();
    let (j, _) = open(tmp.path());
    for i in 0..3 {
        j.accept("web", "bot", None, json!({"content": format!("m{i}")}))
            .unwrap();
    }
    let path = j.path();
    drop(j);
    let len = std::fs::metadata(&path).unwrap().len();
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    let (j, r) = open(tmp.path());
    let torn = r.torn.expect("torn tail reported");
    assert_eq!(torn.reason, "record shorter than its length");
    assert_eq!(r.pending, 2, "the earlier records are intact");
    // appends after the cut are readable again
    j.accept("web", "bot", None, json!({"content": "m3"}))
        .unwrap();
    drop(j);
    let (j, r) = open(tmp.path());
    assert_eq!(r.torn, None);
    let contents: Vec<_> = j
        .take_replay("web")
        .iter()
        .map(|p| p.msg["content"].clone())
        .collect();
    assert_eq!(contents, [json!("m0"), json!("m1"), json!("m3")]);
}

#[test]
fn a_foreign_file_is_refused_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join(DIR)).unwrap();
    std::fs::write(tmp.path().join(DIR).join(FILE), b"hello world").unwrap();
    let err = Journal::open(tmp.path(), 4096).err().expect("refused");
    assert!(err.to_string().contains("bad magic"), "{err}");
}

#[test]
fn stays_bounded_after_ten_thousand_messages() {
    let tmp = tempfile::tempdir().unwrap();
    // fsync off: this checks the file logic, not the disk (scripts/bench-journal.sh does)
    let (j, _) = Journal::open_with(tmp.path(), 256 * 1024, false).unwrap();
    let body = "x".repeat(200);
    for i in 0..10_000u64 {
        let key = format!("tg:1:{i}");
        let Accepted::New(id) = j
            .accept("tg", "bot", Some(&key), json!({"content": body}))
            .unwrap()
        else {
            panic!()
        };
        j.start(id, 1).unwrap();
        j.finish(id, Outcome::Replied).unwrap();
        j.set_offset("tg", i as i64 + 1).unwrap();
    }
    let s = j.stats();
    assert_eq!(s.pending, 0);
    assert!(s.compactions > 0);
    let on_disk = std::fs::metadata(j.path()).unwrap().len();
    assert!(on_disk < 1024 * 1024, "journal is {on_disk} bytes");
    drop(j);
    let (j, r) = Journal::open(tmp.path(), 256 * 1024).unwrap();
    assert_eq!(r.pending, 0);
    assert_eq!(j.offset("tg"), Some(10_000));
    assert!(j.knows("tg:1:9999"));
    assert!(!j.knows("tg:1:0"), "only the newest keys are kept");
}
