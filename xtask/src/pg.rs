//! The PostgreSQL reachability check run before the tests.
//!
//! The store and end-to-end tests connect to the database named by
//! `CRM_TEST_DATABASE_URL` (default [`DEFAULT_URL`]). Rather than letting
//! dozens of tests fail with connection errors, `cargo xtask test` first
//! extracts host and port from that URL, opens a TCP connection (3 s timeout)
//! and stops with instructions if nothing answers.

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::step::{self, Error, Result};

/// Environment variable naming the test database.
pub const URL_VAR: &str = "CRM_TEST_DATABASE_URL";
/// Used when [`URL_VAR`] is unset or empty.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_PORT: u16 = 5432;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How to start the machine's own cluster on Debian.
const START_HINT: &str = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// Entry point of the `cargo xtask pg-check` helper.
pub fn run(args: &[String]) -> Result<()> {
    step::no_args("pg-check", args)?;
    check().map(drop)
}

/// Checks that the test database is reachable and returns its URL, to be
/// exported as [`URL_VAR`] to the test process.
pub fn check() -> Result<String> {
    let (url, origin) = match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), format!("from {URL_VAR}")),
        _ => (
            DEFAULT_URL.to_owned(),
            format!("default; {URL_VAR} is unset"),
        ),
    };
    let address = parse_address(&url)
        .map_err(|e| Error::new(format!("cannot parse {URL_VAR} `{}`: {e}", redact(&url))))?;
    step::header(&format!("PostgreSQL reachable at {address}? ({origin})"));
    match connect(&address) {
        Ok(()) => {
            println!("reachable; tests get {URL_VAR}={}", redact(&url));
            Ok(url)
        }
        Err(reason) => Err(Error::new(format!(
            "PostgreSQL is unreachable at {address} ({origin}): {reason}\n\
             \x20      The store and end-to-end tests need a running PostgreSQL.\n\
             \x20      Use another server:  {URL_VAR}=postgres://USER[:PASSWORD]@HOST[:PORT]/DB cargo xtask test\n\
             \x20      Or start the local one (Debian):  {START_HINT}"
        ))),
    }
}

/// Where the database listens.
#[derive(Debug, PartialEq, Eq)]
enum Address {
    /// A TCP host name or IP address and port.
    Tcp { host: String, port: u16 },
    /// A Unix socket directory (`?host=/var/run/postgresql`) and port.
    Socket { dir: String, port: u16 },
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "{host}:{port}"),
            Self::Socket { dir, port } => write!(f, "{dir}/.s.PGSQL.{port}"),
        }
    }
}

/// Extracts host and port from a libpq/sqlx style URL such as
/// `postgres://user:pass@host:port/db?sslmode=disable` (scheme, user info,
/// port, database and query are all optional; `host=`/`port=` query
/// parameters override the authority, as libpq does).
fn parse_address(url: &str) -> std::result::Result<Address, String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    // libpq accepts a list of hosts; the first one is tried first.
    let host_port = host_port.split(',').next().unwrap_or_default();

    let (mut host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("unclosed `[` in IPv6 host")?;
        (host.to_owned(), after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (host_port.to_owned(), None),
        }
    };
    host = percent_decode(&host);
    let mut port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(p) => p.parse().map_err(|_| format!("invalid port `{p}`"))?,
    };

    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("host", value)) if !value.is_empty() => host = percent_decode(value),
            Some(("port", value)) => {
                port = value
                    .parse()
                    .map_err(|_| format!("invalid port `{value}`"))?;
            }
            _ => {}
        }
    }

    if host.starts_with('/') {
        Ok(Address::Socket { dir: host, port })
    } else if host.is_empty() {
        Ok(Address::Tcp {
            host: "localhost".to_owned(),
            port,
        })
    } else {
        Ok(Address::Tcp { host, port })
    }
}

/// Decodes `%XX` escapes (as in `%2Fvar%2Frun%2Fpostgresql`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Hides the password of a URL before it is printed.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let redacted = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}{tail}"),
            None => return url.to_owned(),
        },
        None => return url.to_owned(),
    };
    if scheme.is_empty() {
        redacted
    } else {
        format!("{scheme}://{redacted}")
    }
}

/// Opens (and drops) a connection to `address`, or says why it failed.
fn connect(address: &Address) -> std::result::Result<(), String> {
    match address {
        Address::Tcp { host, port } => {
            let addrs = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve `{host}`: {e}"))?;
            let mut last_error = format!("`{host}` resolves to no address");
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                    Ok(_) => return Ok(()),
                    Err(e) => last_error = e.to_string(),
                }
            }
            Err(last_error)
        }
        Address::Socket { .. } => std::os::unix::net::UnixStream::connect(address.to_string())
            .map(drop)
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> std::result::Result<Address, String> {
        Ok(Address::Tcp {
            host: host.to_owned(),
            port,
        })
    }

    #[test]
    fn parses_the_default_url() {
        assert_eq!(parse_address(DEFAULT_URL), tcp("127.0.0.1", 5432));
    }

    #[test]
    fn parses_user_host_port_and_database_without_scheme() {
        assert_eq!(
            parse_address("user@db.example:6543/crm"),
            tcp("db.example", 6543)
        );
    }

    #[test]
    fn defaults_the_port_and_ignores_the_password() {
        assert_eq!(
            parse_address("postgres://user:p%40ss:w@host"),
            tcp("host", 5432)
        );
        assert_eq!(
            parse_address("postgresql://user:pass@host/"),
            tcp("host", 5432)
        );
    }

    #[test]
    fn ignores_unrelated_query_parameters_and_honours_host_and_port() {
        assert_eq!(
            parse_address("postgres://u@h:1/db?sslmode=disable&application_name=x"),
            tcp("h", 1)
        );
        assert_eq!(
            parse_address("postgres://u@h?sslmode=disable"),
            tcp("h", 5432)
        );
        assert_eq!(
            parse_address("postgres:///db?host=other&port=7"),
            tcp("other", 7)
        );
        assert_eq!(
            parse_address("postgres:///db?host=%2Fvar%2Frun%2Fpostgresql"),
            Ok(Address::Socket {
                dir: "/var/run/postgresql".to_owned(),
                port: 5432
            })
        );
    }

    #[test]
    fn parses_ipv6_and_host_lists() {
        assert_eq!(
            parse_address("postgres://u@[::1]:5433/db"),
            tcp("::1", 5433)
        );
        assert_eq!(parse_address("postgres://u@a:1,b:2/db"), tcp("a", 1));
    }

    #[test]
    fn rejects_a_bad_port() {
        assert!(parse_address("postgres://u@h:port/db").is_err());
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:1/db"),
            "postgres://u:***@h:1/db"
        );
        assert_eq!(redact(DEFAULT_URL), DEFAULT_URL);
    }
}
