//! The test harness: each test gets its own database, its own echo upstream and its own
//! gatehouse process on free loopback ports, driven over real HTTP.
//!
//! The layers, from the bottom up: [`relay`] stands between the gateway and PostgreSQL,
//! [`gateway`] owns the process, [`cli`] runs its subcommands (and [`terminal`] on a
//! terminal of their own), [`client`] speaks HTTP to it, [`inspect`] reads its database and
//! metrics, [`tokens`] forges what it should refuse, and [`tools`] finds the programs some
//! tests run.

mod cli;
mod client;
mod gateway;
mod inspect;
mod relay;
mod terminal;
mod tokens;
mod tools;
pub mod upstreams;

pub use client::*;
pub use gateway::*;
pub use relay::*;
pub use tokens::*;
pub use tools::*;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";

/// Where the tests find PostgreSQL: `TEST_DATABASE_HOST` (host:port), default the local one.
pub fn pg_host() -> String {
    std::env::var("TEST_DATABASE_HOST").unwrap_or_else(|_| "127.0.0.1:5432".to_string())
}

/// A port on which every connection is refused, for as long as the value lives: bound, so no
/// other test's listener can be handed it, and never listening. A port from [`free_port`]
/// only looks dead: a test running beside may be given it and answer there.
pub struct Refusing(tokio::net::TcpSocket);

impl Refusing {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        Self(socket)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.0.local_addr().unwrap()
    }
}

/// A port nobody holds right now; another process may take it before we bind, which
/// [`Gateway::start_with`] notices and retries. For a port that must stay dead, [`Refusing`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
