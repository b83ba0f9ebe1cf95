//! A huge declared body length must not crash the daemon
//! (no allocation sized by a client's number), and ambiguous framing gets 400 and close.

use std::time::Duration;

use super::http_common::{daemon_with, raw, status_of, survives};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn huge_content_length_is_answered_and_closed_not_allocated() {
    let d = daemon_with(&[]);
    let (mut get, mut post) = (String::new(), String::new());
    // Upstream tiny_http aborted the process here, after sending the 200.
    survives(&d, || {
        let head = "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n";
        get = raw(&d, head.as_bytes(), WAIT);
        let req = "POST /api/vault/inbound HTTP/1.1\r\nHost: x\r\n\
                   Content-Length: 99999999999\r\n\r\n{\"text\":";
        post = raw(&d, req.as_bytes(), WAIT);
    });
    assert_eq!(status_of(&get), 200, "{get}");
    assert!(get.contains("Connection: close"), "{get}");
    // A body-reading route answers 413 without reading the body.
    assert_eq!(status_of(&post), 413, "{post}");
    assert!(post.contains("payload too large"), "{post}");
    assert!(
        !d.log().contains("memory allocation"),
        "allocation failure:\n{}",
        d.log()
    );
}

#[test]
fn ambiguous_framing_is_refused_and_closed() {
    let d = daemon_with(&[]);
    let cases = [
        "Content-Length: 5\r\nContent-Length: 40",
        "Content-Length: 0, 40",
        "Content-Length: 5x",
        "Content-Length: -1",
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: chunked, gzip",
        "Transfer-Encoding: chunked\r\nContent-Length: 5",
    ];
    survives(&d, || {
        for framing in cases {
            // Whatever a proxy would take as the body hides a second request; it must
            // never be answered.
            let req = format!(
                "POST /health HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n\
                 hello\r\nGET /api/channels HTTP/1.1\r\nHost: x\r\n\r\n"
            );
            let r = raw(&d, req.as_bytes(), WAIT);
            assert_eq!(status_of(&r), 400, "{framing:?}: {r}");
            assert!(r.contains("\"invalid framing\""), "{framing:?}: {r}");
            assert_eq!(r.matches("HTTP/1.1 ").count(), 1, "{framing:?}: {r}");
        }
        // Transfer-Encoding on HTTP/1.0 is ambiguous too.
        let r = raw(
            &d,
            b"POST /health HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            WAIT,
        );
        assert_eq!(status_of(&r), 400, "{r}");
        // Well-formed chunked and repeated identical lengths still work.
        let ok = "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                  Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(status_of(&raw(&d, ok.as_bytes(), WAIT)), 200);
        let ok = "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\
                  Content-Length: 3\r\nConnection: close\r\n\r\nabc";
        assert_eq!(status_of(&raw(&d, ok.as_bytes(), WAIT)), 200);
    });
}

#[test]
fn bad_chunked_bodies_are_refused() {
    let d = daemon_with(&[]);
    survives(&d, || {
        for body in ["zz\r\nabc\r\n0\r\n\r\n", "3\nabc\r\n0\r\n\r\n", "3\r\nabcX"] {
            let req = format!(
                "POST /api/channels/web/send HTTP/1.1\r\nHost: x\r\n\
                 Transfer-Encoding: chunked\r\n\r\n{body}"
            );
            let r = raw(&d, req.as_bytes(), WAIT);
            assert_eq!(status_of(&r), 400, "{body:?}: {r}");
        }
    });
}
