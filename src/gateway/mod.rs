//! The only code that knows Pingora: the public listener's proxy (`proxy.rs`, where every
//! request's path is charted), the one writer of the gateway's own answers (`respond.rs`), the
//! rewrite of what crosses to the upstream and back (`upstream.rs`), the admin listener, the
//! header clock, TLS and HTTP/2 limits, the https redirect, the store's loops as background services, and shutdown. It copies what it
//! needs out of Pingora's session, calls the domain (`auth`, `routes`, `request`, `store`), and
//! writes the outcome.

pub mod admin;
mod body;
mod deadline;
pub mod h2;
pub mod header_timeout;
pub mod proxy;
pub mod redirect;
mod request_id;
pub mod respond;
pub mod services;
pub mod shutdown;
pub mod tls;
pub mod upstream;
