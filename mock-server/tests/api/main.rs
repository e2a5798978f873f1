//! Black-box tests of the fake through HTTP on a real socket.

mod helpers;

mod alternate_keys;
mod annotations;
mod auth;
mod batch;
mod binary;
mod callback;
mod catalog;
mod conventions;
mod dataverse;
mod deep_insert;
mod determinism;
mod dispatch;
mod documents;
mod expand;
mod faults;
mod freshness;
mod loaders;
mod openapi;
mod outbox;
mod reliability;
mod rules;
mod state;
mod strict;
mod verdicts;
mod webhooks;
