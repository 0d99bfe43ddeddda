//! Unit tests of the docker-restart step: plan and apply, with rollback,
//! against a fake engine and a recording command runner.
