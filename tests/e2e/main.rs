//! End-to-end tests. Every test starts the real service binaries against the
//! real PostgreSQL and NATS JetStream in an environment of its own, and
//! drives them over gRPC the way other services and the gateway do.

mod browser;
mod common;

mod access_log;
mod agreements;
mod authz_matrix;
mod bad_input;
mod cards;
mod correction;
mod delegation;
mod delivery;
mod docs;
mod flow;
mod fuzz;
mod gateway;
mod identity;
mod me;
mod metrics;
mod notifications;
mod operations;
mod outage;
mod printing;
mod processing_register;
mod receipts;
mod registers;
mod retention;
mod s3;
mod tracing;
mod web;
