//! The HTTP core (spec 01 §0): a blocking tiny_http server on a pool of worker threads.
//! Each request is parsed into a [`Req`], passed to the [`Handler`] the server was started
//! with (the daemon's route table, `api::route`), and answered with a [`Resp`]; the handler
//! runs behind `catch_unwind`, so a panic becomes `500 {"error":"internal error"}` and the
//! worker lives on. Streaming responses (SSE) are handed to a thread of their own, so
//! long-lived streams never starve the pool. This is the server core only: it knows no
//! route, no feature and no daemon state.

pub mod cors;
pub mod error;
pub mod limits;
pub mod request;
pub mod response;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use error::ApiError;
pub use request::Req;
pub use response::{Body, Resp, StreamWriter};

/// What answers every request: the route table, as a closure (like rouille's
/// `start_server`).
pub type Handler = Arc<dyn Fn(&mut Req) -> Result<Resp, ApiError> + Send + Sync>;

/// Stack size of a streaming thread: they only format and write small frames.
const STREAM_STACK: usize = 256 * 1024;

/// The running server: its worker threads and a flag they check between requests.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

impl HttpServer {
    /// Binds `127.0.0.1:<port>` (loopback only, spec 01 §0) with these connection limits
    /// (bodies over `max_body_bytes` are never read), after raising the open-file limit to
    /// its hard maximum.
    pub fn bind(
        port: u16,
        http: &limits::HttpLimits,
        max_body_bytes: u64,
    ) -> Result<tiny_http::Server, String> {
        let nofile = limits::raise_nofile_limit();
        limits::return_large_buffers_to_os();
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))?;
        set_nodelay(&listener);
        deepen_backlog(&listener);
        let limits = limits::server_limits(http, max_body_bytes, nofile);
        log::debug!("http: limits {limits:?}");
        tiny_http::Server::from_listener_with_limits(listener, None, limits)
            .map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))
    }

    /// Starts `threads` workers answering with `handler`; request bodies over
    /// `max_body_bytes` are refused (413) before the handler sees them.
    pub fn start(
        server: tiny_http::Server,
        handler: Handler,
        threads: usize,
        max_body_bytes: u64,
        cors: cors::CorsOrigins,
    ) -> HttpServer {
        let server = Arc::new(server);
        let cors = Arc::new(cors);
        let stopping = Arc::new(AtomicBool::new(false));
        let workers = (0..threads)
            .map(|i| {
                let (server, handler, stopping, cors) = (
                    server.clone(),
                    handler.clone(),
                    stopping.clone(),
                    cors.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || worker_loop(&server, &handler, max_body_bytes, &cors, &stopping))
                    .expect("spawn http worker")
            })
            .collect();
        HttpServer {
            server,
            workers,
            stopping,
        }
    }

    /// Stops accepting work; requests in flight finish first.
    pub fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// `TCP_NODELAY` on the listening socket; Linux copies it to every accepted connection.
/// tiny_http writes a response's head and body in separate writes, so with Nagle's
/// algorithm a body that does not fit the first segment waits for the client's delayed ACK
/// (~40 ms per response on a keep-alive connection). Best effort: failure only costs latency.
fn set_nodelay(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a correctly sized c_int option value.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!(
            "http: TCP_NODELAY not set: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A deep accept queue: std listens with a backlog of 128, and a burst of connections
/// (reconnecting clients, a flood next to the hub's proxy) beyond it has its SYNs dropped,
/// which costs a legitimate client a 1 s retransmit. The kernel caps the value at
/// `net.core.somaxconn`. Best effort.
fn deepen_backlog(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: listen(2) on our own bound, listening socket only resizes its queue.
    if unsafe { libc::listen(listener.as_raw_fd(), 4096) } != 0 {
        log::debug!(
            "http: accept backlog not raised: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn worker_loop(
    server: &tiny_http::Server,
    handler: &Handler,
    max_body_bytes: u64,
    cors: &cors::CorsOrigins,
    stopping: &AtomicBool,
) {
    while !stopping.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(request) => handle(request, handler, max_body_bytes, cors),
            Err(_) if stopping.load(Ordering::SeqCst) => break,
            // Only a lost listener reaches here (the accept loop retries everything else):
            // exit non-zero so the supervisor restarts the daemon, rather than live on deaf.
            Err(e) => {
                log::error!("http: the listening socket is lost ({e}); exiting");
                std::process::exit(1);
            }
        }
    }
}

/// Parses, routes and answers one request.
fn handle(
    request: tiny_http::Request,
    handler: &Handler,
    max_body_bytes: u64,
    origins: &cors::CorsOrigins,
) {
    let origin = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Origin"))
        .map(|h| h.value.as_str().to_string());
    let cors = cors::headers(origins, origin.as_deref());
    let respond = |request, mut resp: Resp| {
        resp.headers.extend(cors.iter().cloned());
        respond(request, resp)
    };
    // Any OPTIONS (a CORS preflight) is answered before routing (spec 01 §10).
    if request.method().as_str().eq_ignore_ascii_case("OPTIONS") {
        respond(request, Resp::empty(204));
        return;
    }
    let path = match request::parse_url(request.url()) {
        Ok(p) => p,
        Err(e) => {
            let msg = match e {
                request::PathError::Encoding => "invalid path encoding",
                request::PathError::DotSegment => "invalid path",
            };
            respond(request, ApiError::bad_request(msg).into_response());
            return;
        }
    };
    let mut req = Req::new(request, path, max_body_bytes);
    let outcome = catch_unwind(AssertUnwindSafe(|| handler(&mut req)));
    let resp = match outcome {
        Ok(Ok(resp)) => resp,
        Ok(Err(err)) => err.into_response(),
        Err(_) => {
            log::error!(
                "http: handler panicked on {} {}",
                req.method,
                req.raw_path()
            );
            ApiError::Internal.into_response()
        }
    };
    respond(req.into_inner(), resp);
}

fn respond(request: tiny_http::Request, resp: Resp) {
    match resp.body {
        Body::Bytes(bytes) => {
            let mut out = tiny_http::Response::from_data(bytes).with_status_code(resp.status);
            // `Header::from_bytes` refuses control bytes (vendored patch): a value that would
            // split the response is dropped, never written.
            for (k, v) in &resp.headers {
                match tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                    Ok(h) => out.add_header(h),
                    Err(()) => log::warn!("http: dropped an invalid response header {k:?}"),
                }
            }
            if let Err(e) = request.respond(out) {
                log::debug!("http: client went away before the response: {e}");
            }
        }
        Body::Stream(run) => start_stream(request, resp.status, &resp.headers, run),
        Body::Upgrade {
            protocol,
            thread,
            run,
        } => start_upgrade(request, protocol, &resp.headers, thread, run),
    }
}

/// Answers `101` and hands the connection to `run` on its own thread.
fn start_upgrade(
    request: tiny_http::Request,
    protocol: &str,
    headers: &[(String, String)],
    thread: String,
    run: response::UpgradeFn,
) {
    let mut out = tiny_http::Response::empty(101);
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    let stream = request.upgrade(protocol, out);
    let spawned = std::thread::Builder::new().name(thread).spawn(move || {
        let _ = catch_unwind(AssertUnwindSafe(|| run(stream)));
    });
    if let Err(e) = spawned {
        log::error!("http: cannot start an upgraded connection's thread: {e}");
    }
}

/// Writes the status line and headers by hand, then runs the stream on its own thread.
fn start_stream(
    request: tiny_http::Request,
    status: u16,
    headers: &[(String, String)],
    run: response::StreamFn,
) {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        if tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).is_err() {
            log::warn!("http: dropped an invalid response header {k:?}");
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    let mut writer = request.into_writer();
    if writer
        .write_all(head.as_bytes())
        .and_then(|_| writer.flush())
        .is_err()
    {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("stream".into())
        .stack_size(STREAM_STACK)
        .spawn(move || {
            let _ = catch_unwind(AssertUnwindSafe(|| run(StreamWriter::new(writer))));
        });
    if let Err(e) = spawned {
        log::error!("http: cannot start a stream thread: {e}");
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Status",
    }
}
