//! The API's edge, shared by every API function and linking no AWS SDK (so `version`, which
//! needs only this, stays small): the route table (`routes`), who is calling and what a role may
//! do (`auth`), responses in Anchore's error shape with JSON and gzip (`http`), and the log
//! subscriber (`logging`).

pub mod auth;
pub mod http;
pub mod logging;
pub mod routes;
