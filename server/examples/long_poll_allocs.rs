//! Counts the server's heap allocations per long-poll request, a figure that does not depend on
//! how busy the machine is (docs/benchmarks.md uses it to judge changes to the request path).
//!
//!   cargo run --release -p push-server --example long_poll_allocs [requests]
//!
//! With `PUSH_ALLOC_TRACE=1` it also prints, for three long-polls answered from history, the
//! push-server, axum, tower and hyper frames of each allocation they make (where to cut next).
//!
//! The server runs in-process; a plain TCP client on its own thread (whose allocations are not
//! counted) asks for messages that are already in history (`?after=`), then for one that is
//! published while the request waits, each on one keep-alive connection.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static TRACES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
thread_local! {
    static NOT_COUNTED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !NOT_COUNTED.with(Cell::get) {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(layout.size() as u64, Relaxed);
            if TRACE.load(Relaxed) {
                trace(layout.size());
            }
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !NOT_COUNTED.with(Cell::get) {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(new_size as u64, Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

/// Records where an allocation comes from (its own allocations are not counted).
fn trace(size: usize) {
    NOT_COUNTED.with(|c| c.set(true));
    let backtrace = std::backtrace::Backtrace::force_capture().to_string();
    let frames: Vec<&str> = backtrace
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("at "))
        .filter(|l| ["push_server", "push_core", "axum", "tower", "hyper", "http::"].iter().any(|k| l.contains(k)))
        .take(6)
        .collect();
    TRACES.lock().unwrap().push(format!("{size:>6} B  {}", frames.join("\n            ")));
    NOT_COUNTED.with(|c| c.set(false));
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let requests: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let config = push_server::embedded::config_from_options(Vec::new()).unwrap();
    let server = push_server::embedded::Server::start(config).unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || {
        NOT_COUNTED.with(|c| c.set(true));
        // Connections are opened per step: the server closes keep-alive connections idle for
        // --header-timeout.
        let mut publisher = BufReader::new(TcpStream::connect(addr).unwrap());
        let mut publish = |body: &str, fresh: bool| {
            if fresh {
                publisher = BufReader::new(TcpStream::connect(addr).unwrap());
            }
            let s = publisher.get_mut();
            write!(s, "POST /lp HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
            read_answer(&mut publisher)
        };
        let counted = |f: &mut dyn FnMut()| {
            for _ in 0..20 {
                f(); // warm-up: buffers and caches grow on first use
            }
            let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
            for _ in 0..requests {
                f();
            }
            ((ALLOCS.load(Relaxed) - a0) as f64 / requests as f64, (BYTES.load(Relaxed) - b0) as f64 / requests as f64)
        };
        // 1. A publish alone (no subscriber).
        let publish_only = counted(&mut || {
            publish("hello", false);
        });
        // The gauge reads that tell when a poll is held cost something too: measured alone.
        let metrics_read = counted(&mut || {
            metrics_shows_held(addr);
        });
        // 2. A long-poll that waits, released by a publish: poll + publish + gauge reads.
        let mut poller = BufReader::new(TcpStream::connect(addr).unwrap());
        send_and_read(&mut poller, "/lp?timeout=0");
        let mut cursor = publish("warm", true);
        let mut reads = 0u64;
        let waiting = counted(&mut || {
            poller.get_mut().write_all(format!("GET /lp?after={cursor} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
            reads += wait_until_held(addr);
            publish("hello", false);
            cursor = read_answer(&mut poller);
        });
        let reads_per = reads as f64 / (requests + 20) as f64;
        let waiting = (waiting.0 - reads_per * metrics_read.0, waiting.1 - reads_per * metrics_read.1);
        // 3. A long-poll answered at once from history (one message after the cursor).
        let from_history = counted(&mut || {
            let before = cursor.clone();
            cursor = publish("hello", false);
            let _ = send_and_read(&mut poller, &format!("/lp?after={before}"));
        });
        if std::env::var_os("PUSH_ALLOC_TRACE").is_some() {
            for _ in 0..3 {
                let before = cursor.clone();
                cursor = publish("hello", false);
                TRACE.store(true, Relaxed);
                let _ = send_and_read(&mut poller, &format!("/lp?after={before}"));
                TRACE.store(false, Relaxed);
            }
            let traces = std::mem::take(&mut *TRACES.lock().unwrap());
            println!("{} allocations in 3 long-polls from history:", traces.len());
            for t in traces {
                println!("{t}");
            }
        }
        let per = |(a, b): (f64, f64), (pa, pb): (f64, f64)| format!("{:.1} allocations, {:.0} bytes", a - pa, b - pb);
        println!("publish (no subscriber):                 {}", per(publish_only, (0.0, 0.0)));
        println!("long-poll that waits (publish excluded): {}", per(waiting, publish_only));
        println!("long-poll from history (publish excl.):  {}", per(from_history, publish_only));
        println!("({requests} of each; the {reads_per:.2} gauge reads per waiting poll are taken out)");
    })
    .join()
    .unwrap();
    drop(server);
}

fn send_and_read(conn: &mut BufReader<TcpStream>, path: &str) -> String {
    conn.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
    read_answer(conn)
}

/// Reads one answer; returns its `Push-Id` header, or the id in a publish answer's body.
fn read_answer(conn: &mut BufReader<TcpStream>) -> String {
    let (mut length, mut id) = (0usize, String::new());
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        if let Some(v) = l.strip_prefix("push-id:") {
            id = v.trim().to_owned();
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).unwrap();
    if id.is_empty() {
        // A publish answers its id in the JSON body.
        let text = String::from_utf8_lossy(&body);
        if let Some(rest) = text.split("\"id\":\"").nth(1) {
            id = rest.split('"').next().unwrap_or_default().to_owned();
        }
    }
    id
}

/// Spins until the server's gauge shows the long-poll held; returns how many metrics requests
/// that took (their cost is measured on its own and taken out).
fn wait_until_held(addr: std::net::SocketAddr) -> u64 {
    for reads in 1..=100_000 {
        if metrics_shows_held(addr) {
            return reads;
        }
    }
    panic!("the long-poll was never held");
}

fn metrics_shows_held(addr: std::net::SocketAddr) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /_push/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines().any(|l| l.starts_with("push_connections{transport=\"long-poll\"} 1"))
}
