//! The worker's side of [`Job::Probe`](super::protocol::Job::Probe): what a scriptlet that
//! escaped the engine would try first, tried from inside the confined worker loop (the real
//! confinement, applied before the first job, not a copy of it). Each attempt reports whether
//! it succeeded and the kernel's error number when it did not; nothing read is reported.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::protocol::{Attempt, ProbeJob, ProbeReport};

/// How long a connection attempt may wait for an answer (a refusal comes at once).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn probe(job: &ProbeJob) -> ProbeReport {
    let read = std::fs::File::open(&job.read).and_then(|mut file| file.read(&mut [0u8; 1]).map(drop));
    let connect = job
        .connect
        .parse::<SocketAddr>()
        .map_err(std::io::Error::other)
        .and_then(|address| TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map(drop));
    // The child would inherit stdin and stdout: opening anything for it (`/dev/null`) is
    // itself refused, and would hide whether starting a process is.
    let execute = std::process::Command::new(&job.execute)
        .spawn()
        .and_then(|mut child| {
            let _ = child.kill();
            child.wait().map(drop)
        });
    ProbeReport {
        read: attempt(read),
        connect: attempt(connect),
        execute: attempt(execute),
        environment: std::env::vars_os()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect(),
    }
}

fn attempt(result: std::io::Result<()>) -> Attempt {
    match result {
        Ok(()) => Attempt::Done,
        Err(error) => Attempt::Refused {
            errno: error.raw_os_error(),
            message: error.to_string(),
        },
    }
}
