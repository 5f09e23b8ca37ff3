//! `mode = "builtin"`: Bascule answers 503 itself on the web service's address.
//!
//! A background thread of the `bascule` process, the *lodger*, holds the address only while the
//! services are stopped. Its wishes are set by the steps: **serve** (take the port as soon as it
//! is free, then answer every request with 503, `Retry-After` and the page), **yield** (close the
//! port and leave it alone) and **stop**. `stop-services` makes it yield before stopping anything
//! (so that its own socket cannot be mistaken for the service's when the stop is verified by the
//! port being closed) and serve once every stop is verified; `start-services` makes it yield
//! before starting anything. One lodger per process, so the steps need not pass it around.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::MaintenanceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Serve,
    Yield,
    Stop,
}

struct Shared {
    want: Mutex<Want>,
    holding: AtomicBool,
}

impl Shared {
    fn want(&self) -> Want {
        match self.want.lock() {
            Ok(w) => *w,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn set(&self, want: Want) {
        match self.want.lock() {
            Ok(mut w) => *w = want,
            Err(poisoned) => *poisoned.into_inner() = want,
        }
    }
}

struct Lodger {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: JoinHandle<()>,
}

static LODGER: Mutex<Option<Lodger>> = Mutex::new(None);

fn with_lodger<T>(f: impl FnOnce(&mut Option<Lodger>) -> T) -> T {
    match LODGER.lock() {
        Ok(mut guard) => f(&mut guard),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// Starts the lodger for `addr` in "serve" mode (or sets an existing one to serve).
pub fn open(addr: SocketAddr, page: String, retry_after: u32) {
    with_lodger(|lodger| {
        if let Some(l) = lodger.as_ref() {
            l.shared.set(Want::Serve);
            return;
        }
        let shared = Arc::new(Shared {
            want: Mutex::new(Want::Serve),
            holding: AtomicBool::new(false),
        });
        let response = Arc::new(response(&page, retry_after));
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || lodge(addr, &shared, &response))
        };
        *lodger = Some(Lodger {
            addr,
            shared,
            thread,
        });
    });
}

/// Stops the lodger and frees its port. Does nothing if there is none.
pub fn close() {
    let lodger = with_lodger(Option::take);
    if let Some(l) = lodger {
        l.shared.set(Want::Stop);
        let _ = l.thread.join();
    }
}

/// Makes the lodger give its port back and waits until it has. Returns its address, if any.
pub fn release_port() -> Option<SocketAddr> {
    let (addr, shared) = with_lodger(|l| l.as_ref().map(|l| (l.addr, Arc::clone(&l.shared))))?;
    shared.set(Want::Yield);
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.holding.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(addr)
}

/// Makes the lodger serve and waits until it holds the port. `Ok(None)`: there is no lodger.
pub fn take_port(timeout: Duration) -> Result<Option<SocketAddr>, MaintenanceError> {
    let Some((addr, shared)) = with_lodger(|l| l.as_ref().map(|l| (l.addr, Arc::clone(&l.shared))))
    else {
        return Ok(None);
    };
    shared.set(Want::Serve);
    let deadline = Instant::now() + timeout;
    while !shared.holding.load(Ordering::SeqCst) {
        if Instant::now() >= deadline {
            return Err(MaintenanceError::Listen {
                addr,
                what: format!(
                    "still in use {} s after every service stopped: another process holds it \
                     (see `ss -ltnp`); stop it, or list it in [[services]]",
                    timeout.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Some(addr))
}

/// Whether this process's lodger holds its port now (for tests and the log).
pub fn is_serving() -> bool {
    with_lodger(|l| {
        l.as_ref()
            .is_some_and(|l| l.shared.holding.load(Ordering::SeqCst))
    })
}

/// The lodger's loop: follow the wish, bind when serving, answer connections.
fn lodge(addr: SocketAddr, shared: &Shared, response: &Arc<Vec<u8>>) {
    let mut listener: Option<TcpListener> = None;
    loop {
        match shared.want() {
            Want::Stop => {
                drop(listener.take());
                shared.holding.store(false, Ordering::SeqCst);
                return;
            }
            Want::Yield => {
                if listener.take().is_some() {
                    shared.holding.store(false, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Want::Serve => match &listener {
                None => match bind(addr) {
                    Some(l) => {
                        listener = Some(l);
                        shared.holding.store(true, Ordering::SeqCst);
                    }
                    None => std::thread::sleep(Duration::from_millis(25)),
                },
                Some(l) => match l.accept() {
                    Ok((stream, _)) => {
                        let response = Arc::clone(response);
                        std::thread::spawn(move || answer(stream, &response));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                },
            },
        }
    }
}

fn bind(addr: SocketAddr) -> Option<TcpListener> {
    let listener = TcpListener::bind(addr).ok()?;
    listener.set_nonblocking(true).ok()?;
    Some(listener)
}

/// The whole 503 response, built once.
fn response(page: &str, retry_after: u32) -> Vec<u8> {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nRetry-After: {retry_after}\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n{page}",
        page.len()
    )
    .into_bytes()
}

/// Reads the request head (so closing does not reset the connection) and writes the 503.
fn answer(stream: TcpStream, response: &[u8]) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    if let Ok(reader) = stream.try_clone() {
        let mut reader = BufReader::new(reader).take(16 * 1024);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line == "\r\n" || line == "\n" {
                break;
            }
            line.clear();
        }
    }
    let mut stream = stream;
    let _ = stream.write_all(response);
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /any HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn the_lodger_serves_only_while_the_port_is_free_and_gives_it_back() {
        // The "web service" holds the port first.
        let service = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = service.local_addr().unwrap();
        open(addr, "<p>back soon</p>".into(), 90);
        std::thread::sleep(Duration::from_millis(100));
        assert!(!is_serving(), "the port is taken: the lodger waits");

        assert_eq!(release_port(), Some(addr));
        drop(service);
        assert_eq!(take_port(Duration::from_secs(5)).unwrap(), Some(addr));
        let page = get(addr);
        assert!(
            page.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{page}"
        );
        assert!(page.contains("\r\nRetry-After: 90\r\n"), "{page}");
        assert!(page.ends_with("\r\n\r\n<p>back soon</p>"), "{page}");

        release_port();
        let service = TcpListener::bind(addr).expect("the lodger gave the port back");
        drop(service);
        close();
        assert_eq!(release_port(), None);
        assert!(take_port(Duration::from_secs(1)).unwrap().is_none());
    }
}
