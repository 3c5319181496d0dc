//! The client side of the control socket, for `vipd status`, `vipd maintenance` and
//! `vipd events`. Plain blocking I/O: a command line tool needs no runtime.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{Command, Request, Response, VERSION};

/// Why a control command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not reach the daemon.
    #[error("cannot reach vipd at {path}: {source} (is vipd running? are you root?)")]
    Connect {
        /// The socket path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The exchange failed half way.
    #[error("control socket: {0}")]
    Io(#[from] io::Error),
    /// The daemon said something we do not understand.
    #[error("control socket: unreadable answer: {0}")]
    Decode(#[from] serde_json::Error),
    /// The daemon refused.
    #[error("vipd: {0}")]
    Refused(String),
}

/// Sends `command` and returns the daemon's answer, and the open reader for streams.
pub fn request(
    path: &Path,
    command: Command,
) -> Result<(Response, BufReader<UnixStream>), ClientError> {
    let mut stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
        path: path.display().to_string(),
        source,
    })?;
    // A daemon that accepts but never answers (stopped, or a flood of connections queued
    // before this one) must not hang the command line for ever. A reload checks and applies
    // a whole configuration, so it gets longer.
    let patience = match command {
        Command::Reload => Duration::from_secs(60),
        _ => Duration::from_secs(10),
    };
    stream.set_write_timeout(Some(patience))?;
    stream.set_read_timeout(Some(patience))?;
    let mut line = serde_json::to_string(&Request {
        version: VERSION,
        command,
    })?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader.read_line(&mut answer).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer from vipd within {patience:?}"),
        )),
        _ => ClientError::Io(e),
    })?;
    // An event stream waits for as long as it takes.
    reader.get_ref().set_read_timeout(None)?;
    let response: Response = serde_json::from_str(&answer)?;
    if !response.ok {
        return Err(ClientError::Refused(
            response.error.unwrap_or_else(|| "refused".into()),
        ));
    }
    Ok((response, reader))
}

/// Copies the event stream to `out`, one JSON line per event, until the daemon goes away.
pub fn follow_events(path: &Path, out: &mut impl Write) -> Result<(), ClientError> {
    let (_, reader) = request(path, Command::Events)?;
    for line in reader.lines() {
        writeln!(out, "{}", line?)?;
        out.flush()?;
    }
    Ok(())
}
