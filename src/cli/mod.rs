//! The command line: `serve` (the default), `migrate`, `user …`, `sessions …`, `group …`,
//! `invite …`, `policy check`, `config check`. Each command
//! loads the same validated configuration and talks to the same database as the server.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

mod accounts;
mod config_check;
mod groups;
mod invites;
mod migrate;
mod output;
mod password;
mod policy;
mod show;

use migrate::prepare_database;
use output::console_log_filter;
pub(crate) use output::print_json;
pub use output::usage_failure;

use crate::config::{self, Config, RawConfig};
use crate::store;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "An authentication gateway on Pingora and PostgreSQL"
)]
pub struct Cli {
    /// TOML configuration file (default: config/gatehouse.toml when it exists). Environment
    /// variables and .env override it.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text, on every command that prints a result
    /// (all but serve).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the database if needed, apply migrations, and serve (the default).
    Serve {
        /// Also run the demo echo upstream on GATEHOUSE_UPSTREAM's address, so a fresh machine
        /// has something behind the gateway.
        #[arg(long)]
        demo_upstream: bool,
        /// Take the listening sockets over from a running gatehouse on the same addresses
        /// (then send that one SIGQUIT): a zero-downtime binary upgrade.
        #[arg(long)]
        upgrade: bool,
    },
    /// Create the database if needed and apply pending migrations, then say which.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// List and revoke sessions; revocations reach running instances at once.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage groups and their members; a change reaches running instances at once and signs
    /// nobody out.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Make, list and revoke sign-up invites; an invite admits in every registration mode.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Explain what the gateway would do with a request.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. The password is typed twice without echo on a terminal, or read from
    /// standard input with --password-stdin; never from an argument.
    Add {
        name: String,
        /// Read the password from the first line of standard input, without prompting (for
        /// scripts); only the line ending is taken off.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (prompted, or --password-stdin) and revoke all their sessions.
    Passwd {
        name: String,
        /// Read the password from the first line of standard input, without prompting (for
        /// scripts); only the line ending is taken off.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: logins fail and every session is revoked.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// List users, with their groups and second factors.
    List,
    /// Remove every second factor of a user (authenticator app, recovery codes) and revoke all
    /// their sessions; sign-ins waiting for a second factor end too.
    MfaReset { name: String },
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// List active sessions, of one user or of everyone.
    List { user: Option<String> },
    /// Revoke one session by id, or every session of a user.
    Revoke {
        /// The session id (a UUID).
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// Revoke every session of this user instead.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List groups with their member counts.
    List,
    /// Create a group (1–64 characters of a-z 0-9 . _ -).
    Create { name: String },
    /// Delete a group; its members leave it.
    Delete { name: String },
    /// Add users to a group.
    Add {
        name: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Remove users from a group.
    Remove {
        name: String,
        #[arg(required = true)]
        users: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum InviteCommand {
    /// Make an invite; its sign-up URL is the last line printed (the only time it is shown).
    Create {
        /// Comma-separated groups the new users join; each must exist.
        #[arg(long, value_name = "A,B", default_value = "")]
        groups: String,
        /// How long the link works: seconds, or 30m, 12h, 7d.
        #[arg(long, value_name = "DURATION", default_value = "7d")]
        expires: String,
        /// How many accounts it may make.
        #[arg(long, value_name = "N", default_value_t = 1)]
        uses: u32,
    },
    /// List invites and their state (active, used, expired, revoked); never their tokens.
    List,
    /// Revoke an invite by id: its link stops working at once.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// The route, the rule that decides and the decision for one request. Exit status 0 when
    /// it would be forwarded, 1 when not, 2 when it cannot be checked (bad arguments or
    /// configuration, unknown user, database unreachable).
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// `https://host[:port]/path?query`, or `/path?query` for a request without a host (only
    /// routes without `hosts` apply).
    pub url: String,
    /// The request method, compared as sent (methods are case-sensitive).
    #[arg(long, default_value = "GET", value_name = "M")]
    pub method: String,
    /// Check as this user, with their groups from the database; without it the request is
    /// anonymous and nothing connects to the database.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Judge as if the user's session had a second factor (for two_factor routes).
    #[arg(long, requires = "user")]
    pub mfa: bool,
    /// The client address matched against rules' `networks`; without it such rules do not
    /// match, as in the gateway when the address is unknown.
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<IpAddr>,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with secrets masked, then the routes.
    Check,
}

/// A failed command: its message and the exit status.
pub struct Failure {
    pub status: i32,
    pub message: String,
}

impl Failure {
    pub(crate) fn new(status: i32, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// An exit status that is an answer, not an error (`policy check`'s "not forwarded"):
    /// stdout has said everything, so nothing goes to stderr.
    pub(crate) fn quiet(status: i32) -> Self {
        Self::new(status, "")
    }
}

impl From<config::ConfigError> for Failure {
    fn from(e: config::ConfigError) -> Self {
        Failure::new(2, e.to_string())
    }
}

/// The files the configuration is read from: `--config PATH`, else `config/gatehouse.toml`
/// when it exists; and `.env` in the working directory when it exists.
fn sources(path: Option<&Path>) -> config_check::Sources {
    let default = Path::new(config_check::DEFAULT_FILE);
    let dotenv = Path::new(".env");
    // Absolute, so `config check` answers "which .env?" wherever it was run from.
    let shown = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    config_check::Sources {
        file: match path {
            Some(p) => Some(shown(p)),
            None => default.exists().then(|| shown(default)),
        },
        dotenv: dotenv.exists().then(|| shown(dotenv)),
        dir: std::env::current_dir().ok(),
    }
}

pub fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    let (raw, file) = load_raw(path)?;
    let mut config = raw.validate()?;
    config.file = file;
    Ok(config)
}

/// The layers, and the configuration file they were read from (SIGHUP reads it again).
fn load_raw(path: Option<&Path>) -> Result<(RawConfig, Option<std::path::PathBuf>), Failure> {
    let sources = sources(path);
    let raw = RawConfig::load(
        sources.file.as_deref(),
        Some(Path::new(".env")),
        &config::process_env(),
    )?;
    Ok((raw, sources.file))
}

/// Someone can still take a port between the check above and Pingora's bind. Pingora then
/// retries for 30 s and panics in that service's thread only, leaving a process whose health
/// check says yes while its public port is gone: exit instead, so a supervisor sees it.
fn exit_if_a_listener_cannot_bind() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_listener_bind_failure(message) {
            tracing::error!("a listener could not bind its address; exiting");
            std::process::exit(1);
        }
    }));
}

/// How Pingora 0.9 words the panic when a listening service cannot bind (`services/listening.rs`).
fn is_listener_bind_failure(panic_message: &str) -> bool {
    panic_message.starts_with("Failed to build listeners")
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, format!("cannot start a runtime: {e}")))
}

pub(crate) fn unreachable_db(config: &Config, e: &store::StoreError) -> Failure {
    let url = store::redact_url(&config.database_url);
    match e {
        store::StoreError::Unavailable(_) => Failure::new(
            1,
            format!(
                "cannot reach PostgreSQL at {url} — start one (docker compose up -d db, or your \
                 distribution's postgresql service) or set DATABASE_URL"
            ),
        ),
        // tokio-postgres does not echo the connection string, but nothing holds it to that.
        other => Failure::new(
            1,
            format!(
                "database error at {url}: {}",
                crate::logs::redact::redact_str(&crate::chain::Chain(other).to_string())
            ),
        ),
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let default = Command::Serve {
        demo_upstream: false,
        upgrade: false,
    };
    let command = cli.command.unwrap_or(default);
    if cli.json && matches!(command, Command::Serve { .. }) {
        // A usage error, checked before the configuration as clap's own are.
        return Err(Failure::new(
            2,
            "--json means nothing for serve, which prints no result (for JSON logs set \
             GATEHOUSE_LOG_FORMAT=json)",
        ));
    }
    let (mut raw, file) = load_raw(cli.config.as_deref())?;
    // The quick start is one command, and its walk-through signs up over HTTP. Behind
    // `--demo-upstream` the upstream is the echo server (it must bind GATEHOUSE_UPSTREAM's
    // address or serve stops), so open sign-up exposes nothing; any explicit setting wins.
    let demo_opens_registration = matches!(
        command,
        Command::Serve {
            demo_upstream: true,
            ..
        }
    ) && raw.default_to("registration", "open", "--demo-upstream");
    let mut config = raw.validate()?;
    config.file = file;
    if matches!(command, Command::Serve { .. }) {
        crate::logs::init_logging(&config);
    } else {
        let mut quiet = config.clone();
        quiet.log = console_log_filter(&config.log);
        crate::logs::init_logging(&quiet);
    }
    if demo_opens_registration {
        tracing::info!(
            "--demo-upstream: anyone may sign up (GATEHOUSE_REGISTRATION=open); set \
             GATEHOUSE_REGISTRATION to choose otherwise"
        );
    }
    match command {
        Command::Serve {
            demo_upstream,
            upgrade,
        } => serve(config, demo_upstream, upgrade),
        Command::Migrate => migrate::migrate(&config, cli.json),
        Command::Config(ConfigCommand::Check) => {
            crate::auth::assertion::AssertionKeys::from_config(&config)?;
            let sources = sources(cli.config.as_deref());
            if cli.json {
                print_json(&config_check::json(&config, &sources));
            } else {
                print!("{}", config_check::text(&config, &sources));
            }
            Ok(())
        }
        Command::Policy(PolicyCommand::Check(args)) => policy::check(&config, &args, cli.json),
        Command::User(cmd) => {
            prepare_database(&config)?;
            accounts::user(&config, cmd, cli.json)
        }
        Command::Sessions(cmd) => {
            prepare_database(&config)?;
            accounts::sessions(&config, cmd, cli.json)
        }
        Command::Group(cmd) => {
            prepare_database(&config)?;
            groups::group(&config, cmd, cli.json)
        }
        Command::Invite(cmd) => {
            // Arguments are checked before the database is touched.
            let cmd = invites::checked(cmd)?;
            prepare_database(&config)?;
            invites::invite(&config, cmd, cli.json)
        }
    }
}

fn serve(config: Config, demo_upstream: bool, upgrade: bool) -> Result<(), Failure> {
    if config.jwt_secret_generated {
        tracing::warn!(
            "GATEHOUSE_JWT_SECRET is not set: using a random key, so tokens die with this \
             process and other instances cannot verify them"
        );
    }
    let effective: Vec<String> = config
        .describe()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    tracing::info!(config = %effective.join(" "), "effective configuration");
    crate::access::reload::warn_unused(&config);
    crate::access::RouteTable::resolve(&config)?;
    // Unusable assertion keys stop start-up before the database is touched; the server reads
    // them again when it is built.
    crate::auth::assertion::AssertionKeys::from_config(&config)?;
    // A certificate that does not load is a configuration error too, found before the
    // database is touched (build_server reads it again, for the one it serves).
    if let Some(files) = &config.tls {
        crate::gateway::tls::Certificate::load(files)?;
    }
    prepare_database(&config)?;
    if demo_upstream {
        let addr = config::resolve_upstream(&config.upstream)?;
        let bound = crate::demo::spawn(addr).map_err(|e| {
            Failure::new(1, format!("cannot start the demo upstream on {addr}: {e}"))
        })?;
        tracing::info!(%bound, "demo upstream listening");
    }
    let listen = config.listen;
    let admin = config.admin_listen;
    let redirect = config.redirect_listen;
    // With `[[routes]]` each route names its own upstream.
    let upstream = (!config.routes_configured).then(|| config.upstream.authority());
    let routes = config.routes.len();
    let (server, app) = crate::build_server(config, upgrade).map_err(|e| match e {
        crate::StartError::Config(c) => Failure::from(c),
        crate::StartError::Other(m) => Failure::new(1, m),
    })?;
    // Fail before Pingora takes over: it would only log a bind error per thread.
    // (During an upgrade the old process still holds them: they arrive over the socket.)
    let addrs = [Some(listen), Some(admin), redirect].into_iter().flatten();
    for addr in addrs.filter(|_| !upgrade) {
        std::net::TcpListener::bind(addr)
            .map_err(|e| Failure::new(1, format!("cannot listen on {addr}: {e}")))?;
    }
    exit_if_a_listener_cannot_bind();
    tracing::info!(%listen, %admin, upstream, routes, "gatehouse listening");
    crate::run(server, app);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_listener_bind_failure;

    #[test]
    fn only_pingoras_bind_panic_ends_the_process() {
        assert!(is_listener_bind_failure(
            "Failed to build listeners: BindError context: bind() failed, after retries, \
             127.0.0.1:8000 still in use"
        ));
        assert!(!is_listener_bind_failure("index out of bounds"));
        assert!(!is_listener_bind_failure(""));
    }
}
