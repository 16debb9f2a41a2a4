//! Runs the built `switchboard` binary: exit codes, messages and output of each command.

mod corpus;
mod fake_worker;
mod listen;
mod load;
mod providers;
mod sign;
mod simulate;
mod support;
mod vectors;
mod verify;
mod vis;
