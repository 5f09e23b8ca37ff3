//! Short-lived child processes whose output a run reads: a program asked its version, a
//! backup's time. Each is bounded: killed at a deadline, its output read on threads while it
//! runs and capped, so no program can hang or flood the run.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Standard output then standard error of `program args`, killed after `timeout`.
/// Both pipes are read on threads while it runs, so a talkative program never blocks on a
/// full pipe, and a grandchild keeping them open cannot hold the run past the deadline.
pub fn run_bounded(program: &str, args: &[String], timeout: Duration) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{program}` not found on PATH"),
            _ => format!("cannot run `{program}`: {e}"),
        })?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|pipe| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut pipe = pipe;
            let mut bytes = Vec::new();
            // A version is one line: the first 64 KiB are plenty, and bound the memory;
            // the rest is drained so the program can finish.
            let _ = (&mut pipe).take(64 * 1024).read_to_end(&mut bytes);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            let _ = sender.send(bytes);
        });
        receiver
    })
    .collect();
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{program}` did not answer in {} s",
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for `{program}`: {e}")),
        }
    }
    let mut text = String::new();
    for receiver in readers {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(bytes) = receiver.recv_timeout(left.max(Duration::from_millis(100))) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    Ok(text)
}
