//! HTTP/1.1 on the engine's socket: the request dockpoint writes, and the
//! answer read back. httparse reads the status line, the headers and each
//! chunk-size line; which framing the body has (none, Content-Length,
//! chunked, or until the engine closes) is decided here, in the order RFC
//! 9112 section 6.3 gives. Reading is over any [`Read`], so the same code
//! parses a socket bounded by a deadline and a byte slice in a test.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest answer read from the engine (a `/containers/json` of a busy
/// host is far below this).
pub(super) const ANSWER_LIMIT: usize = 64 << 20;

/// More headers than any engine answer has.
const MAX_HEADERS: usize = 100;

/// A response from the Engine API, its body decoded from its framing.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The engine's own words for an error status: the `message` of its
    /// JSON body verbatim, else the body itself (shortened), else the
    /// status alone.
    pub fn error_message(&self) -> String {
        let body = self.body.trim();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
            && let Some(m) = v["message"].as_str()
        {
            return m.to_string();
        }
        match body {
            "" => "(no message)".into(),
            b if b.chars().count() > 500 => {
                format!("{}...", b.chars().take(500).collect::<String>())
            }
            b => b.to_string(),
        }
    }
}

/// Why no whole answer was read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The deadline passed first.
    Timeout,
    /// The engine closed the connection before the answer was complete.
    Closed { received: usize },
    /// Bytes that are not an HTTP answer.
    Malformed(String),
    /// More than [`ANSWER_LIMIT`].
    TooLarge,
}

/// The bytes of one request. The connection is used for this one request
/// (`Connection: close`); a body is JSON with its length.
pub(super) fn request_bytes(method: &str, target: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: dockpoint\r\nConnection: close\r\n"
    );
    match body {
        Some(b) => head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        )),
        None if !matches!(method, "GET" | "HEAD") => head.push_str("Content-Length: 0\r\n"),
        None => {}
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    out
}

/// A path segment or query value, percent-encoded: everything but RFC
/// 3986's unreserved characters.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path?k=v&...`, each value encoded.
pub(super) fn target(path: &str, query: &[(&str, &str)]) -> String {
    let mut t = path.to_string();
    for (i, (k, v)) in query.iter().enumerate() {
        t.push(if i == 0 { '?' } else { '&' });
        t.push_str(k);
        t.push('=');
        t.push_str(&encode(v));
    }
    t
}

/// A complete answer in `raw`.
pub(super) fn parse(raw: &[u8], method: &str) -> Result<Response, ReadError> {
    read_response(&mut &raw[..], method)
}

/// Bytes from a reader, consumed from the front as the answer is parsed.
struct Input<'a, R> {
    r: &'a mut R,
    buf: Vec<u8>,
    received: usize,
    eof: bool,
}

impl<R: Read> Input<'_, R> {
    /// Read more; false at the end of the stream. A read that times out is
    /// [`ReadError::Timeout`]; a reset connection ends the stream.
    fn fill(&mut self) -> Result<bool, ReadError> {
        if self.eof {
            return Ok(false);
        }
        let mut chunk = [0u8; 16384];
        loop {
            match self.r.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.received += n;
                    if self.received > ANSWER_LIMIT {
                        return Err(ReadError::TooLarge);
                    }
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ReadError::Timeout);
                }
                Err(_) => {
                    self.eof = true;
                    return Ok(false);
                }
            }
        }
    }

    /// At least `n` bytes buffered, or the answer was cut short.
    fn need(&mut self, n: usize) -> Result<(), ReadError> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(self.closed());
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    fn closed(&self) -> ReadError {
        ReadError::Closed {
            received: self.received,
        }
    }
}

type Head = (u16, Vec<(String, String)>, usize);

/// The status, headers and length of a complete head at the start of
/// `buf`; None while it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut slots);
    match r.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let headers = r
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).trim().to_string(),
                    )
                })
                .collect();
            Ok(Some((r.code.unwrap_or_default(), headers, len)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(ReadError::Malformed(format!(
            "not an HTTP answer ({e}): `{}`",
            preview(buf)
        ))),
    }
}

/// The first line of what was received, shortened, for a message.
fn preview(buf: &[u8]) -> String {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(&line[..line.len().min(80)]);
    text.trim_end().escape_debug().to_string()
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Read one whole answer to a `method` request.
pub(super) fn read_response(r: &mut impl Read, method: &str) -> Result<Response, ReadError> {
    let mut input = Input {
        r,
        buf: Vec::new(),
        received: 0,
        eof: false,
    };
    let (status, headers) = loop {
        let head = loop {
            if let Some(h) = parse_head(&input.buf)? {
                break h;
            }
            if !input.fill()? {
                return Err(input.closed());
            }
        };
        let (status, headers, len) = head;
        input.take(len);
        // 100 Continue and its kind come before the answer itself.
        if !(100..200).contains(&status) || status == 101 {
            break (status, headers);
        }
    };
    let body = if method == "HEAD" || matches!(status, 100..=199 | 204 | 304) {
        Vec::new()
    } else if let Some(te) = header(&headers, "transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or_default().trim();
        if last.eq_ignore_ascii_case("chunked") {
            chunked(&mut input)?
        } else {
            until_close(&mut input)?
        }
    } else if let Some(cl) = header(&headers, "content-length") {
        let n: usize = cl
            .parse()
            .map_err(|_| ReadError::Malformed(format!("a bad Content-Length `{cl}`")))?;
        if n > ANSWER_LIMIT {
            return Err(ReadError::TooLarge);
        }
        input.need(n)?;
        input.take(n)
    } else {
        until_close(&mut input)?
    };
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A body without a length: everything until the engine closes.
fn until_close<R: Read>(input: &mut Input<'_, R>) -> Result<Vec<u8>, ReadError> {
    while input.fill()? {}
    let n = input.buf.len();
    Ok(input.take(n))
}

/// A chunked body, decoded: chunks until the zero-size one, then the
/// trailer lines up to an empty line (ignored).
fn chunked<R: Read>(input: &mut Input<'_, R>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let (line, size) = loop {
            match httparse::parse_chunk_size(&input.buf) {
                Ok(httparse::Status::Complete(x)) => break x,
                Ok(httparse::Status::Partial) => {
                    if !input.fill()? {
                        return Err(input.closed());
                    }
                }
                Err(_) => {
                    return Err(ReadError::Malformed(format!(
                        "a bad chunk size line `{}`",
                        preview(&input.buf)
                    )));
                }
            }
        };
        input.take(line);
        if size == 0 {
            break;
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > ANSWER_LIMIT - body.len() {
            return Err(ReadError::TooLarge);
        }
        input.need(size + 2)?;
        body.extend(input.take(size));
        if input.take(2) != b"\r\n" {
            return Err(ReadError::Malformed(format!(
                "a chunk of {size} bytes not followed by CRLF"
            )));
        }
    }
    // Trailers: header lines, then an empty line. An engine that closes
    // right after the last chunk has still sent the whole body.
    loop {
        match memchr::memmem::find(&input.buf, b"\r\n") {
            Some(0) => {
                input.take(2);
                break;
            }
            Some(at) => {
                input.take(at + 2);
            }
            None if input.fill()? => {}
            None => break,
        }
    }
    Ok(body)
}

/// A connected socket whose reads and writes end at `deadline`.
pub(super) struct Deadlined<'a> {
    pub s: &'a UnixStream,
    pub deadline: Instant,
}

impl Deadlined<'_> {
    fn left(&self) -> io::Result<Duration> {
        let d = self.deadline.saturating_duration_since(Instant::now());
        if d.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(d)
    }

    /// Write all of `bytes` before the deadline.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut rest = bytes;
        while !rest.is_empty() {
            self.s.set_write_timeout(Some(self.left()?))?;
            match (&mut &*self.s).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.set_read_timeout(Some(self.left()?))?;
        (&mut &*self.s).read(buf)
    }
}

/// Connect to a unix socket, giving up at `deadline`. A plain connect()
/// blocks while the listener's queue is full (a hung engine that no longer
/// accepts): non-blocking, that is EAGAIN, retried until the deadline.
pub(super) fn connect(path: &Path, deadline: Instant) -> io::Result<UnixStream> {
    use nix::errno::Errno;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, socket};
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    loop {
        match nix::sys::socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(Errno::EAGAIN | Errno::EINTR) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(Errno::EAGAIN) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "its listen queue stayed full",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let s = UnixStream::from(fd);
    s.set_nonblocking(false)?;
    Ok(s)
}
