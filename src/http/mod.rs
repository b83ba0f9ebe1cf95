//! The HTTP core (spec 01 §0): a blocking tiny_http server whose connection threads run
//! the handler themselves. Each request is parsed into a [`Req`], passed to the
//! [`Handler`] the server was started with (the daemon's route table, `api::route`) under
//! one of a fixed number of [`permits::Permits`] (the bound on concurrent handlers), and
//! answered with a [`Resp`]; the handler runs behind `catch_unwind`, so a panic
//! becomes `500 {"error":"internal error"}` and the connection lives on. Streaming
//! responses (SSE) keep their connection's thread without a permit, so long-lived streams
//! never starve the others. This is the server core only: it knows no route, no feature
//! and no daemon state.

pub mod cors;
pub mod error;
pub mod limits;
pub mod permits;
pub mod request;
pub mod response;

use std::borrow::Cow;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

pub use error::ApiError;
pub use request::Req;
pub use response::{Body, Resp, StreamWriter};

/// What answers every request: the route table, as a closure (like rouille's
/// `start_server`).
pub type Handler = Arc<dyn Fn(&mut Req) -> Result<Resp, ApiError> + Send + Sync>;

/// Stack size of a connection thread: it runs the handler, so it gets the std default
/// thread stack (only the pages a handler touches become resident).
const CONN_STACK: usize = 2 * 1024 * 1024;

/// The bound listening socket, before any request is answered: connections made until
/// [`HttpServer::start`] wait in the kernel's accept queue.
pub struct Bound {
    listener: std::net::TcpListener,
    limits: tiny_http::Limits,
}

impl Bound {
    /// The port the socket is bound to (the kernel's choice for `--port 0`).
    pub fn port(&self) -> Option<u16> {
        self.listener.local_addr().ok().map(|a| a.port())
    }
}

/// The running server and the permits its connection threads take.
pub struct HttpServer {
    server: tiny_http::Server,
    front: Arc<Front>,
}

impl HttpServer {
    /// Binds `127.0.0.1:<port>` (loopback only, spec 01 §0) with these connection limits
    /// (bodies over `max_body_bytes` are never read), after raising the open-file limit to
    /// its hard maximum.
    pub fn bind(
        port: u16,
        http: &limits::HttpLimits,
        max_body_bytes: u64,
    ) -> Result<Bound, String> {
        let nofile = limits::raise_nofile_limit();
        limits::return_large_buffers_to_os();
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot bind 127.0.0.1:{port}: {e}"))?;
        set_nodelay(&listener);
        deepen_backlog(&listener);
        let limits = limits::server_limits(http, max_body_bytes, nofile);
        log::debug!("http: limits {limits:?}");
        Ok(Bound { listener, limits })
    }

    /// Starts answering with `handler`, at most `concurrent` requests at once; request
    /// bodies over `max_body_bytes` are refused (413) before the handler sees them.
    pub fn start(
        bound: Bound,
        handler: Handler,
        concurrent: usize,
        max_body_bytes: u64,
        cors: cors::CorsOrigins,
    ) -> Result<HttpServer, String> {
        let front = Arc::new(Front {
            handler,
            max_body_bytes,
            cors_fixed: match cors {
                cors::CorsOrigins::Any => Some(to_headers(&cors::headers(&cors, None))),
                cors::CorsOrigins::List(_) => None,
            },
            cors,
            permits: permits::Permits::new(concurrent),
        });
        let server = tiny_http::Server::with_handler(
            bound.listener,
            bound.limits,
            front.clone(),
            CONN_STACK,
        )
        .map_err(|e| format!("cannot start the http server: {e}"))?;
        Ok(HttpServer { server, front })
    }

    /// Stops answering: requests in flight finish first, later ones get a 503.
    pub fn shutdown(self) {
        self.front.permits.close();
        self.front.permits.wait_idle();
        drop(self.server);
    }
}

/// What every connection thread calls for each request.
struct Front {
    handler: Handler,
    max_body_bytes: u64,
    cors: cors::CorsOrigins,
    /// The CORS headers when they do not depend on the request (any origin), built once.
    cors_fixed: Option<Vec<tiny_http::Header>>,
    permits: permits::Permits,
}

impl tiny_http::Handler for Front {
    fn handle(&self, request: tiny_http::Request) {
        handle(request, self);
    }

    // Only a lost listener reaches here (the accept loop retries everything else): exit
    // non-zero so the supervisor restarts the daemon, rather than live on deaf.
    fn listener_lost(&self, e: std::io::Error) {
        log::error!("http: the listening socket is lost ({e}); exiting");
        std::process::exit(1);
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

/// Parses, routes and answers one request under a permit (a `503` once the server stops).
fn handle(request: tiny_http::Request, front: &Front) {
    let cors = match &front.cors_fixed {
        Some(fixed) => Cow::Borrowed(fixed.as_slice()),
        None => {
            let origin = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Origin"))
                .map(|h| h.value.as_str());
            Cow::Owned(to_headers(&cors::headers(&front.cors, origin)))
        }
    };
    let respond = |request, resp: Resp, permit| respond(request, resp, &cors, permit);
    let Some(permit) = front.permits.acquire() else {
        let busy = ApiError::Custom {
            status: 503,
            body: serde_json::json!({ "error": "shutting down" }),
            headers: vec![("Retry-After".into(), "1".into())],
        };
        respond(request, busy.into_response(), None);
        return;
    };
    // Any OPTIONS (a CORS preflight) is answered before routing (spec 01 §10).
    if request.method().as_str().eq_ignore_ascii_case("OPTIONS") {
        respond(request, Resp::empty(204), Some(permit));
        return;
    }
    let path = match request::parse_url(request.url()) {
        Ok(p) => p,
        Err(e) => {
            let msg = match e {
                request::PathError::Encoding => "invalid path encoding",
                request::PathError::DotSegment => "invalid path",
            };
            respond(
                request,
                ApiError::bad_request(msg).into_response(),
                Some(permit),
            );
            return;
        }
    };
    let mut req = Req::new(request, path, front.max_body_bytes);
    let outcome = catch_unwind(AssertUnwindSafe(|| (front.handler)(&mut req)));
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
    respond(req.into_inner(), resp, Some(permit));
}

/// Response headers as tiny_http writes them. `Header::from_bytes` refuses control bytes
/// (vendored patch): a value that would split the response is dropped, never written.
fn to_headers(headers: &[(String, String)]) -> Vec<tiny_http::Header> {
    headers
        .iter()
        .filter_map(
            |(k, v)| match tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                Ok(h) => Some(h),
                Err(()) => {
                    log::warn!("http: dropped an invalid response header {k:?}");
                    None
                }
            },
        )
        .collect()
}

/// Writes `resp` with the CORS headers `cors` after its own. A byte body is written under the request's permit, so the bodies held
/// in memory stay bounded (a client that does not read holds a permit for at most the
/// write timeout); a stream or an upgraded connection gives it back once its head is out.
fn respond(
    request: tiny_http::Request,
    resp: Resp,
    cors: &[tiny_http::Header],
    permit: Option<permits::Permit<'_>>,
) {
    let mut headers = to_headers(&resp.headers);
    headers.extend_from_slice(cors);
    match resp.body {
        Body::Bytes(bytes) => {
            let mut out = tiny_http::Response::from_data(bytes).with_status_code(resp.status);
            for h in headers {
                out.add_header(h);
            }
            if let Err(e) = request.respond(out) {
                log::debug!("http: client went away before the response: {e}");
            }
            drop(permit);
        }
        Body::Stream(run) => {
            if let Some(writer) = start_stream(request, resp.status, &headers) {
                drop(permit);
                let _ = catch_unwind(AssertUnwindSafe(|| run(StreamWriter::new(writer))));
            }
        }
        Body::Upgrade {
            protocol,
            thread,
            run,
        } => start_upgrade(request, protocol, headers, thread, run),
    }
}

/// Answers `101` and hands the connection to `run` on its own thread.
fn start_upgrade(
    request: tiny_http::Request,
    protocol: &str,
    headers: Vec<tiny_http::Header>,
    thread: String,
    run: response::UpgradeFn,
) {
    let mut out = tiny_http::Response::empty(101);
    for h in headers {
        out.add_header(h);
    }
    let stream = request.upgrade(protocol, out);
    let spawned = std::thread::Builder::new().name(thread).spawn(move || {
        let _ = catch_unwind(AssertUnwindSafe(|| run(stream)));
    });
    if let Err(e) = spawned {
        log::error!("http: cannot start an upgraded connection's thread: {e}");
    }
}

/// Writes the status line and headers of a chunked stream by hand; the writer, unless the
/// client is gone. The stream then runs on the connection's thread.
fn start_stream(
    request: tiny_http::Request,
    status: u16,
    headers: &[tiny_http::Header],
) -> Option<Box<dyn Write + Send>> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for h in headers {
        head.push_str(&format!("{}: {}\r\n", h.field, h.value));
    }
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    let mut writer = request.into_writer();
    writer
        .write_all(head.as_bytes())
        .and_then(|_| writer.flush())
        .ok()?;
    Some(writer)
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
